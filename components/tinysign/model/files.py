"""The model-file contract: what ``tinysign quantize`` writes and evaluate, mcu, predict read back.

A quantize folder holds ``<stem>_{int8,float32}_<N>.tflite`` per part (``s3d_conv1d`` for the
whole-clip model; ``streaming_frame`` and ``streaming_head`` for the streaming pair), ``labels.txt``
(one class per line, index = class id) and ``metrics.json`` (which files, method, clip shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinysign.artifacts import LABELS_FILE, METRICS_FILE
from tinysign.data import records
from tinysign.data.frontend import FrontEnd
from tinysign.data.manifest import valid_label
from tinysign.errors import TinysignError
from tinysign.summaries import read_summary

PRECISIONS = ("int8", "float32")
PARTS = {"s3dconv1d": ("model",), "streaming": ("frame", "head")}


def part_stem(kind: str, part: str) -> str:
    """File/array stem of one exported part: ``s3d_conv1d``, ``streaming_frame``, ``streaming_head``."""
    return "s3d_conv1d" if kind == "s3dconv1d" else f"streaming_{part}"


def tflite_name(kind: str, part: str, precision: str, num_classes: int) -> str:
    """The seed's file names: ``s3d_conv1d_int8_<N>.tflite``, ``streaming_frame_int8_<N>.tflite``."""
    return f"{part_stem(kind, part)}_{precision}_{num_classes}.tflite"


@dataclass(frozen=True)
class QuantizedModel:
    """What :func:`run_quantize` wrote, read back by evaluate, mcu and predict."""

    kind: str
    labels: list[str]
    num_frames: int
    img_size: int
    method: str
    paths: dict[str, dict[str, Path]]  # part -> precision -> .tflite path
    front: FrontEnd = FrontEnd()  # what makes the first model's input from frames (data/frontend.py)
    stream_fps: int = 0  # frames a second the model was trained to see (0: records from before streams)

    @property
    def parts(self) -> tuple[str, ...]:
        return PARTS[self.kind]

    def path(self, part: str, precision: str) -> Path:
        return self.paths[part][precision]

    def read(self, part: str, precision: str) -> bytes:
        return read_tflite(self.path(part, precision))


def read_tflite(path: str | Path) -> bytes:
    """The bytes of a ``.tflite`` model, checked by LiteRT's flatbuffer verifier first: an empty,
    truncated or foreign file fails with one line here, never inside an interpreter (tflite-micro's
    does not verify what it is given)."""
    from ai_edge_litert.interpreter import Interpreter

    redo = "re-run `tinysign quantize` (or pass the model it wrote)"
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise TinysignError(f"{path}: cannot read it ({exc.strerror}); {redo}") from None
    if not content:
        raise TinysignError(f"{path} is empty (0 bytes): {redo}")
    try:
        Interpreter(model_content=content)
    except (ValueError, RuntimeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TinysignError(f"{path} is not a valid .tflite model ({reason}): {redo}") from None
    return content


def read_labels(path: str | Path) -> list[str]:
    """One class name per line (index = class id); a file that is not such text fails with one line."""
    path = Path(path)
    redo = "it is written beside the model by `tinysign train` and `tinysign quantize`"
    if not path.exists():
        raise TinysignError(f"{path} not found: {redo}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise TinysignError(f"{path} is not UTF-8 text (one class name per line): {redo}") from None
    labels = [line.strip() for line in lines if line.strip()]
    bad = next((n for n, label in enumerate(labels, start=1) if not valid_label(label)), 0)
    if bad:
        raise TinysignError(
            f"{path}: class {bad} is not a class name (control characters or too long): {redo}"
        )
    if len(labels) < 2:
        raise TinysignError(f"{path}: need at least 2 labels, found {len(labels)}")
    return labels


def write_labels(path: str | Path, labels: list[str]) -> None:
    """``labels.txt``: one class name per line."""
    Path(path).write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")


def load_quantized(quant_dir: str | Path) -> QuantizedModel:
    """Read ``metrics.json`` + ``labels.txt`` of a quantize output folder."""
    quant_dir = Path(quant_dir)
    path = quant_dir / METRICS_FILE
    if not path.is_file():
        raise TinysignError(
            f"{path} not found: run `tinysign quantize` first (or point --quant at its output)"
        )
    try:
        meta = read_summary(quant_dir)
        kind, method = meta["model"], meta["method"]
        num_frames, img_size = int(meta["num_frames"]), int(meta["img_size"])
        paths = {part: {p: quant_dir / meta["files"][part][p] for p in PRECISIONS} for part in PARTS[kind]}
    except (KeyError, TypeError, ValueError, TinysignError):
        raise TinysignError(f"{path} is not a quantize report: re-run `tinysign quantize`") from None
    for by_precision in paths.values():
        for file in by_precision.values():
            if not file.exists():
                raise TinysignError(f"{file} is missing: re-run `tinysign quantize`")
            read_tflite(file)
    return QuantizedModel(
        kind=kind,
        labels=read_labels(quant_dir / LABELS_FILE),
        num_frames=num_frames,
        img_size=img_size,
        method=method,
        paths=paths,
        front=FrontEnd.of(meta),
        stream_fps=int(meta.get("stream_fps", 0)),
    )


def check_records(records_dir: str | Path, labels: list[str] | None, num_frames: int, img_size: int) -> None:
    """The records must have the model's labels (``None``: any) and clip shape (else one clear error)."""
    schema = records.read_schema(records_dir)
    if labels is not None and list(schema["labels"]) != labels:
        raise TinysignError(
            f"{records_dir}: its labels ({len(schema['labels'])}) differ from the model's "
            f"labels.txt ({len(labels)}); use the records the model was trained on"
        )
    found = (int(schema["num_frames"]), int(schema["img_size"]))
    if found != (num_frames, img_size):
        raise TinysignError(
            f"{records_dir}: clips are {found[0]} frames of {found[1]}x{found[1]} but the "
            f"model takes {num_frames} of {img_size}x{img_size}; re-extract or retrain with "
            "matching num_frames/img_size"
        )
