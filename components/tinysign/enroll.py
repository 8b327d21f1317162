"""Teach the device new signs from a few clips: prototypes of the deployed embedding, an INT8 head.

``tinysign enroll --quant DIR --examples DATASET --out DIR [--keep-trained --records DIR]``

Every example clip (any layout ingest reads) is decoded like a test clip (``eval_fps``, ``T``
frames) and streamed through the deployment path — front end -> INT8 frame model per frame -> ring
buffer — in LiteRT (:class:`tinysign.runtime.enrollment.Embedder`); its embedding is the ring
buffer averaged over time and L2-normalised. One prototype per sign (the normalised mean of its
clips) becomes a row of an INT8 nearest-prototype head (:mod:`tinysign.model.prototypes`).
``--keep-trained`` also enrolls the trained classes from their training clips (``--records``), for
one mixed vocabulary; ``--evaluate`` measures accuracy against the number of clips per sign
(:func:`tinysign.runtime.enrollment.accuracy_vs_k`).

The output is a quantize folder (the INT8/float32 frame model copied, the prototype head as the
``head``, ``labels.txt``, ``metrics.json``), so ``tinysign predict --model OUT`` and ``tinysign mcu
--quant OUT`` take it in place of the softmax head; plus the head's C arrays, the drop report, and
the head's MCU numbers (flash, tensor arena, tflite-micro vs LiteRT).
"""

from __future__ import annotations

import argparse
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.arguments import add_folders
from tinysign.artifacts import DROP_REPORT_FILE, LABELS_FILE
from tinysign.config import Config
from tinysign.console import progress as progress_of
from tinysign.data import records
from tinysign.data.clips import sign_frames
from tinysign.data.datasets import find_clips
from tinysign.data.manifest import Clip, Drop, write_drop_report
from tinysign.data.probing import probe_clips
from tinysign.data.video import VideoError
from tinysign.errors import TinysignError
from tinysign.model.files import PRECISIONS, QuantizedModel, load_quantized, tflite_name, write_labels
from tinysign.model.prototypes import embedding, export_head, offset_of, prototype, prototypes_of
from tinysign.runtime.arena import probe_arena
from tinysign.runtime.carrays import c_array_name, write_c_arrays
from tinysign.runtime.enrollment import ENROLL_SHOTS, Embedder, accuracy_vs_k
from tinysign.runtime.litert import int8_range
from tinysign.runtime.micro import TOLERANCE_LSB, compare_model
from tinysign.summaries import EnrollSummary, stamped, write_summary

METHOD = "prototypes"
CHECK_WINDOWS = 16  # enrollment windows run through tflite-micro and LiteRT


def example_clips(sources: list[str], config: Config, progress: bool = True) -> tuple[list[Clip], list[Drop]]:
    """Usable example clips of ``sources`` (probed; too short or undecodable ones are drop rows)."""
    found, drops = find_clips(sources, config)
    usable, bad = probe_clips(found, config, progress)
    return usable, drops + bad


def windows_of(
    embedder: Embedder, clips: list[Clip], config: Config, progress: bool = True
) -> tuple[dict[str, list[np.ndarray]], list[Drop]]:
    """``({sign: ring buffers of its clips}, drops)`` of decodable ``clips``."""
    windows: dict[str, list[np.ndarray]] = defaultdict(list)
    drops = []
    for clip in progress_of(clips, "enroll", "clips", enabled=progress):
        try:
            frames = sign_frames(clip, config)
        except VideoError as exc:
            drops.append(Drop(clip.clip_id, clip.label, clip.path, exc.reason, exc.detail))
            continue
        windows[clip.label].append(embedder.window(frames))
    return dict(sorted(windows.items())), drops


def trained_prototypes(
    embedder: Embedder, records_dir: str | Path, labels: list[str]
) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Prototypes of the trained classes from their training clips (one record per clip)."""
    embeddings: dict[str, list[np.ndarray]] = defaultdict(list)
    windows, seen = [], set()
    for record in records.iter_records(records_dir, "train"):
        if record.clip_id in seen or record.augmentation != "none":
            continue
        seen.add(record.clip_id)
        window = embedder.window(record.frames)
        windows.append(window)
        embeddings[record.label_name].append(embedding(window))
    missing = [label for label in labels if label not in embeddings]
    if missing:
        raise TinysignError(f"--keep-trained: no training clip of {', '.join(missing[:5])} in {records_dir}")
    return {label: prototype(np.stack(embeddings[label])) for label in labels}, windows


@stamped("enroll")
def run_enroll(
    quant_dir: str | Path,
    sources: list[str],
    out_dir: str | Path,
    config: Config,
    keep_trained: bool = False,
    records_dir: str | Path | None = None,
    progress: bool = True,
    evaluate: bool = False,
) -> EnrollSummary:
    """Enroll the signs of ``sources``; write a quantize folder with the prototype head to ``out_dir``.

    Args:
        quant_dir: a streaming quantize output (its INT8 frame model makes the embeddings).
        sources: example datasets (any layout ingest reads; the label is the sign).
        out_dir: the new quantize folder (+ C arrays, drop report).
        config: decoding (``img_size``, ``num_frames``, ``eval_fps``, ``min_clip_frames``).
        keep_trained: also enroll the trained classes from their training clips in ``records_dir``.
        records_dir: extraction output the model was trained on (with ``keep_trained``).
        progress: progress bars.
        evaluate: also measure accuracy against the number of enrollment clips per sign
            (:func:`accuracy_vs_k`: k of a sign's clips enrolled, its other clips tested).

    Raises:
        TinysignError: a sign with no usable clip, a sign that is already a trained class, or clips
            that cannot fill the ring buffer — nothing is written half-way.
    """
    quant = load_quantized(quant_dir)
    embedder = Embedder(quant)
    config = config.replace(num_frames=quant.num_frames, img_size=quant.img_size)
    clips, drops = example_clips(sources, config, progress)
    found = {d.label for d in drops} | {c.label for c in clips}
    collide = sorted(found & set(quant.labels))
    if collide:
        raise TinysignError(
            f"{', '.join(collide[:5])}: already trained classes of {quant_dir}; give new signs other names"
        )
    sign_windows, failed = windows_of(embedder, clips, config, progress)
    enrolled = prototypes_of(sign_windows)
    windows = [w for ws in sign_windows.values() for w in ws]
    drops += failed
    empty = sorted(found - set(enrolled))
    if empty:
        reason = next((d.reason for d in drops if d.label == empty[0]), "no clip")
        raise TinysignError(
            f"sign {empty[0]!r} has no usable clip (its clips: {reason}); nothing enrolled"
            + (f" ({len(empty) - 1} more such sign(s))" if len(empty) > 1 else "")
        )
    if len(enrolled) + (len(quant.labels) if keep_trained else 0) < 2:
        raise TinysignError("enroll at least 2 signs (or add the trained ones with --keep-trained)")
    vocabulary = enrolled
    if keep_trained:
        if records_dir is None:
            raise TinysignError(
                "--keep-trained needs --records (the extraction output the model was trained on)"
            )
        trained, trained_windows = trained_prototypes(embedder, records_dir, quant.labels)
        vocabulary, windows = {**trained, **enrolled}, windows + trained_windows
    frame_range = int8_range(embedder.qparams)  # type: ignore[arg-type]
    head = export_head(vocabulary, windows, quant.num_frames, frame_range)
    mcu = head_mcu(head["int8"], windows)
    if mcu["max_abs_diff_lsb"] > TOLERANCE_LSB:  # checked before anything is written
        raise TinysignError(
            f"the prototype head differs by {mcu['max_abs_diff_lsb']} LSB between tflite-micro and LiteRT "
            "(reference kernels): not safe to deploy"
        )
    summary = _write(quant, head, vocabulary, list(enrolled), Path(out_dir), drops)
    summary.update(kept_trained=keep_trained, head_mcu=mcu)
    if evaluate:
        summary["accuracy_vs_k"] = accuracy_vs_k(quant, frame_range, sign_windows)
    write_summary(out_dir, summary)
    return summary


def skipped_summary() -> EnrollSummary:
    """The summary of an enrollment that did not happen: no new signs were given."""
    return {"skipped": True}


def run_pipeline_enroll(
    quant_dir: str | Path, enroll_data: str, out_dir: str | Path, config: Config
) -> EnrollSummary:
    """The pipeline's enroll step: enroll the signs of ``enroll_data`` and measure accuracy against k;
    with no ``enroll_data`` only a ``skipped`` summary (the report then says no signs were enrolled)."""
    if not enroll_data:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        summary = skipped_summary()
        write_summary(out_dir, summary)
        return summary
    return run_enroll(quant_dir, [enroll_data], out_dir, config, progress=False, evaluate=True)


def _write(
    quant: QuantizedModel,
    head: dict[str, bytes],
    vocabulary: dict[str, np.ndarray],
    enrolled: list[str],
    out: Path,
    drops: list[Drop],
) -> EnrollSummary:
    out.mkdir(parents=True, exist_ok=True)
    labels, count = list(vocabulary), len(vocabulary)
    files: dict[str, dict[str, str]] = {"frame": {}, "head": {}}
    for precision in PRECISIONS:
        files["frame"][precision] = quant.path("frame", precision).name
        shutil.copyfile(quant.path("frame", precision), out / files["frame"][precision])
        files["head"][precision] = tflite_name("streaming", "head", precision, count)
        (out / files["head"][precision]).write_bytes(head[precision])
    write_labels(out / LABELS_FILE, labels)
    write_drop_report(out / DROP_REPORT_FILE, drops)
    write_c_arrays(
        {c_array_name("streaming", "head"): head["int8"]}, out, {"kNumSigns": count}, stem="head_data"
    )
    return {
        "model": "streaming",
        "method": METHOD,
        "num_classes": count,
        "num_frames": quant.num_frames,
        "img_size": quant.img_size,
        "front_end": quant.front.kind,
        "binning": quant.front.binning,
        "contrast": quant.front.contrast,
        "files": files,
        "labels": labels,
        "enrolled": enrolled,
        "dropped": len(drops),
        "head_flash_bytes": len(head["int8"]),
        "bytes_per_sign": int(next(iter(vocabulary.values())).size),
        # a sign added later is the int8 row of (its prototype - this offset), on the head's weight scale
        "prototype_offset": [round(float(v), 6) for v in offset_of(np.stack(list(vocabulary.values())))],
    }


def head_mcu(head: bytes, windows: list[np.ndarray]) -> dict[str, Any]:
    """The prototype head on a microcontroller: flash, smallest tensor arena, tflite-micro vs LiteRT
    (reference kernels) on the first enrollment windows."""
    arena = probe_arena(head)
    compared = compare_model(head, windows[:CHECK_WINDOWS], arena)
    return {
        "flash_bytes": len(head),
        "arena_bytes": arena,
        "max_abs_diff_lsb": compared["max_abs_diff_lsb"],
        "windows_compared": compared["invocations"],
    }


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quant", required=True, metavar="DIR", help="streaming quantize output (the frame model)"
    )
    parser.add_argument(
        "--examples", required=True, nargs="+", metavar="DATASET", help="clips of the new signs"
    )
    add_folders(parser, "output: a quantize folder with the prototype head")
    parser.add_argument(
        "--keep-trained", action="store_true", help="also enroll the trained classes (needs --records)"
    )
    parser.add_argument(
        "--records", metavar="DIR", help="the records the model was trained on (--keep-trained)"
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help=f"accuracy against k: enroll k in {ENROLL_SHOTS} clips per sign, test on its other clips",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, config: Config) -> int:
    summary = run_enroll(
        args.quant,
        args.examples,
        args.out,
        config,
        args.keep_trained,
        args.records,
        not args.quiet,
        args.evaluate,
    )
    mcu = summary["head_mcu"]
    print(f"wrote {args.out}: the frame model, the prototype head (+ head_data.cc/.h), labels.txt")
    print(
        f"enrolled {len(summary['enrolled'])} sign(s) ({summary['num_classes']} in the vocabulary, "
        f"{summary['dropped']} clip(s) dropped): head {mcu['flash_bytes']:,} B flash, "
        f"{mcu['arena_bytes']:,} B arena, tflite-micro vs LiteRT <= {mcu['max_abs_diff_lsb']} LSB"
    )
    for k, result in summary.get("accuracy_vs_k", {}).items():
        print(
            f"{k}-shot: INT8 head accuracy {result['mean']:.1%} ± {result['std']:.1%} "
            f"({len(result['draws'])} draws, {result['test_clips']} test clips each)"
        )
    return 0
