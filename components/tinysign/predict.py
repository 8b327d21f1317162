"""Top-k glosses for a video with the INT8 model(s), preprocessed exactly like training.

``tinysign predict --model s3d_conv1d_int8_N.tflite VIDEO`` (one whole-clip model) or
``--model streaming_frame_int8_N.tflite streaming_head_int8_N.tflite VIDEO`` (streaming pair; the
order does not matter) or ``--model QUANT_DIR`` (a quantize output). The clip goes through
``video.read_frames`` + ``sampling.sample_clip`` at ``config.eval_fps`` like the records; labels come
from ``labels.txt`` beside the model unless ``--labels`` is given.

Streaming mode also prints a rolling prediction as frames arrive: the video is resampled to
``eval_fps``, the frame model runs once per frame into the ring buffer, and the head classifies the
last ``T`` frames on every frame once the buffer is full. ``--camera SOURCE`` does the same on a live
feed — a camera index, an ``rtsp://`` URL or a file — through the same code
(:func:`tinysign.data.video.stream_frames`); Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.artifacts import LABELS_FILE, METRICS_FILE
from tinysign.config import Config
from tinysign.data.frontend import FrontEndStream
from tinysign.errors import TinysignError
from tinysign.model.files import load_quantized, read_labels
from tinysign.runtime.litert import LiteModel, dequantize
from tinysign.runtime.streaming import ClipClassifier, StreamingClassifier
from tinysign.summaries import read_summary


@dataclass(frozen=True)
class Predictor:
    """INT8 model(s) in LiteRT + labels: whole-clip (one model) or streaming (frame + head)."""

    runners: tuple[LiteModel, ...]
    labels: list[str]
    front_end: str = "raw"
    binning: int = 1

    @property
    def streaming(self) -> bool:
        return len(self.runners) == 2

    @property
    def num_frames(self) -> int:
        return int(self.runners[-1].input_shape[1])

    @property
    def img_size(self) -> int:
        """The side of the grey frames the front end takes (the model sees it / ``binning``)."""
        return int(self.runners[0].input_shape[-2]) * self.binning

    def classifier(self) -> ClipClassifier:
        return ClipClassifier(self.runners, self.front_end, self.binning)


def load_predictor(models: list[str], labels_path: str | None = None) -> Predictor:
    """Open ``.tflite`` file(s) or a quantize folder (its INT8 models)."""
    paths = [Path(m) for m in models]
    if len(paths) == 1 and paths[0].is_dir():
        if not (paths[0] / METRICS_FILE).exists():
            raise TinysignError(f"{paths[0]}: not a quantize output (no {METRICS_FILE}); pass .tflite files")
        quant = load_quantized(paths[0])
        paths = [quant.path(part, "int8") for part in quant.parts]
    for path in paths:
        if not path.is_file():
            raise TinysignError(f"--model {path}: file not found")
    if len(paths) not in (1, 2):
        raise TinysignError(
            f"--model: give one whole-clip model or a frame + head pair, not {len(paths)} files"
        )
    runners = sorted((LiteModel(p) for p in paths), key=lambda r: -len(r.input_shape))  # frame (4-D) first
    ranks = [len(r.input_shape) for r in runners]
    if ranks not in ([5], [4, 3]):
        raise TinysignError(
            f"--model: input ranks {ranks} are neither a whole-clip model (5-D input) nor a "
            "frame (4-D) + head (3-D) pair"
        )
    labels = read_labels(labels_path or paths[0].parent / LABELS_FILE)
    classes = int(np.prod(runners[-1].output_shape))
    if classes != len(labels):
        raise TinysignError(f"--labels: {len(labels)} labels but the model has {classes} outputs")
    exported = read_summary(paths[0].parent)  # the quantize folder's record of the front end
    front = (str(exported.get("front_end", "raw")), int(exported.get("binning", 1)))
    return Predictor(tuple(runners), labels, *front)


def top_k(probs: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    """The ``k`` most probable glosses, best first."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(labels[i], float(probs[i])) for i in order]


def read_video(path: str, img_size: int) -> tuple[np.ndarray, float]:
    """Decode a video like extraction does (centre square, grey, ``img_size``)."""
    from tinysign.data.video import VideoError, read_frames

    try:
        return read_frames(path, img_size=img_size)
    except VideoError as exc:
        raise TinysignError(f"{path}: {exc}") from None


def classify_video(predictor: Predictor, frames: np.ndarray, fps: float, config: Config) -> np.ndarray:
    """Class probabilities for the clip sampled like training (``eval_fps``, ``T`` frames)."""
    from tinysign.data.sampling import sample_clip

    clip = sample_clip(frames, fps, config.eval_fps, predictor.num_frames)
    classifier = predictor.classifier()
    return dequantize(classifier.classify(clip).reshape(-1), classifier.output_qparams)


def rolling_predictions(
    predictor: Predictor, frames: Iterable[np.ndarray], config: Config
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Streaming: ``(frame index, seconds, probabilities)`` for every frame once the buffer is full.

    ``frames`` arrive at ``eval_fps`` (:func:`tinysign.data.video.stream_frames`): a file, a camera or
    a stream, one frame at a time, as on the device.
    """
    if not predictor.streaming:
        raise TinysignError("rolling predictions need the streaming frame + head models")
    classifier = StreamingClassifier(
        *predictor.runners, FrontEndStream(predictor.front_end, predictor.binning)
    )
    for index, frame in enumerate(frames):
        raw = classifier.push(frame)
        if raw is not None:
            probs = dequantize(raw.reshape(-1), classifier.head.output_qparams)
            yield index, (index + 1) / config.eval_fps, probs


def run_live(
    predictor: Predictor,
    source: str | int,
    config: Config,
    on_rolling: Callable[[int, float, str, float], None] | None = None,
) -> list[tuple[int, float, str, float]]:
    """The rolling top gloss per frame of any OpenCV source (camera index, file, ``rtsp://`` URL)."""
    from tinysign.data.video import VideoError, stream_frames

    rolling = []
    try:
        for index, seconds, probs in rolling_predictions(
            predictor, stream_frames(source, predictor.img_size, config.eval_fps), config
        ):
            best = int(np.argmax(probs))
            rolling.append((index, seconds, predictor.labels[best], float(probs[best])))
            if on_rolling is not None:
                on_rolling(*rolling[-1])
    except VideoError as exc:
        raise TinysignError(f"{source}: {exc}") from None
    return rolling


def run_predict(
    models: list[str],
    video_path: str,
    config: Config,
    labels: str | None = None,
    k: int = 5,
    on_rolling: Callable[[int, float, str, float], None] | None = None,
) -> dict[str, Any]:
    """Predict one video.

    Args:
        models: INT8 ``.tflite`` file(s) or a quantize folder.
        video_path: the video.
        config: uses ``eval_fps``.
        labels: ``labels.txt`` (default: beside the model).
        k: how many glosses to return.
        on_rolling: called with ``(frame, seconds, gloss, p)`` as each streaming prediction is made.

    Returns:
        ``{"top_k": [(gloss, p)], "rolling": [(frame, seconds, gloss, p)]}`` (rolling: streaming only).
    """
    predictor = load_predictor(models, labels)
    frames, fps = read_video(video_path, predictor.img_size)
    rolling = run_live(predictor, video_path, config, on_rolling) if predictor.streaming else []
    probs = classify_video(predictor, frames, fps, config)
    return {
        "top_k": top_k(probs, predictor.labels, k),
        "rolling": rolling,
        "num_frames": predictor.num_frames,
        "streaming": predictor.streaming,
    }


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        nargs="+",
        metavar="TFLITE",
        help="INT8 model: one whole-clip .tflite, the streaming frame + head pair, "
        "or a quantize output folder",
    )
    parser.add_argument("--labels", metavar="FILE", help="labels.txt (default: beside the model)")
    parser.add_argument("--top-k", type=int, default=5, dest="top_k", help="how many glosses to print")
    parser.add_argument("video", nargs="?", help="video file (may also come last after --model's files)")
    parser.add_argument(
        "--camera",
        metavar="SOURCE",
        help="live: a camera index (0), a stream URL (rtsp://...) or a video file, streamed frame by frame "
        "through the streaming pair (Ctrl-C stops)",
    )


def run(args: argparse.Namespace, config: Config) -> int:
    shown: list[int] = []

    def show(index: int, seconds: float, gloss: str, p: float) -> None:
        if not shown:
            print(f"streaming at {config.eval_fps} fps, a prediction per frame once the ring buffer is full:")
        shown.append(index)
        print(f"  frame {index:4d} t={seconds:6.2f}s  {gloss:<20} {p:.3f}", flush=True)

    models, video = list(args.model), args.video
    if args.camera is not None:
        if video is not None:
            models.append(video)
        predictor = load_predictor(models, args.labels)
        if not predictor.streaming:
            raise TinysignError(
                "--camera needs the streaming frame + head models (a rolling prediction per frame)"
            )
        source = int(args.camera) if args.camera.isdigit() else args.camera
        rows = run_live(predictor, source, config, on_rolling=show)
        print(f"{args.camera}: {len(rows)} rolling predictions")
        return 0
    if video is None:  # `--model a.tflite [b.tflite] video.mp4`: argparse gives --model every path
        if len(models) < 2:
            raise TinysignError("predict: give a video file after the model(s)")
        models, video = models[:-1], models[-1]
    result = run_predict(models, video, config, args.labels, args.top_k, on_rolling=show)
    print(f"{video}: top {args.top_k} (clip of {result['num_frames']} frames at {config.eval_fps} fps)")
    for rank, (gloss, p) in enumerate(result["top_k"], start=1):
        print(f"  {rank}. {gloss:<20} {p:.3f}")
    return 0
