"""Firmware on emulated Cortex-M boards: the INT8 streaming pair in tflite-micro + CMSIS-NN under QEMU.

``tinysign firmware --quant DIR --mcu DIR --records DIR [--out build/firmware] [--targets m4f m33 m7 m55]``

A few real test clips become the camera stream. The firmware's sources are generated for this model
(models as C arrays, op resolver, front end, recognizer settings from the config, the stream); the same
stream runs through Python tflite-micro and the Python recognizer. Then, per board of
:mod:`tinysign.runtime.boards`: build tflite-micro + CMSIS-NN and the firmware (``firmware/``), run it
under ``qemu-system-arm``, right-size the arena to what the target used, rebuild, run again, and compare
every int8 output (<= 1 LSB; on a difference the first op that differs is named) and every emission of
the recognizer (identical) with Python; measure flash and RAM (the ELF), instructions per frame (QEMU
counts them) and check the budgets. Writes ``metrics.json`` (a ``FirmwareSummary``) and
``firmware_report.md`` under ``--out``. Needs ``make firmware-deps`` (the Arm toolchain and QEMU) and the
tflite-micro source (``--tflm-source``), copied once into ``--out``; ``--tflm-build DIR`` (or
``TINYSIGN_TFLM_BUILD``) keeps the slow tflite-micro libraries in a folder shared between builds.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.model.files import QuantizedModel, load_quantized
from tinysign.reporting.tables import to_markdown
from tinysign.reporting.views import firmware_tables
from tinysign.runtime.boards import BOARDS, Board
from tinysign.runtime.firmware import build, codegen, protocol
from tinysign.runtime.firmware.compare import compare, locate_divergence
from tinysign.runtime.firmware.measure import section_sizes, timing
from tinysign.runtime.firmware.reference import (
    Reference,
    project_outputs,
    recognizer_settings,
    reference_run,
    streaming_models,
)
from tinysign.runtime.firmware.stream import Stream, select_stream
from tinysign.runtime.micro import TOLERANCE_LSB
from tinysign.runtime.recognizer import RecognizerSettings
from tinysign.summaries import (
    FirmwareBoard,
    FirmwareCheck,
    FirmwareSizes,
    FirmwareSummary,
    write_summary,
)

DEFAULT_SOURCE = Path(__file__).resolve().parents[3] / "shared" / "third_party" / "tflite-micro"
TFLM_BUILD_ENV = "TINYSIGN_TFLM_BUILD"  # default --tflm-build: a cache of the tflite-micro libraries
REPORT_MD = "firmware_report.md"


def run_firmware(
    quant_dir: str | Path,
    mcu_dir: str | Path,
    records_dir: str | Path,
    out_dir: str | Path = "build/firmware",
    boards: list[str] | None = None,
    tflm_source: str | Path = DEFAULT_SOURCE,
    tflm_build: str | Path | None = None,
    config: Config | None = None,
    num_clips: int = 4,
    stream: Stream | None = None,
    dump_frame: int | None = None,
    reset_per_clip: bool = False,
) -> FirmwareSummary:
    """Build and run the firmware for ``boards`` (default: all) and compare it with Python.

    Args:
        quant_dir: ``tinysign quantize`` output (the streaming INT8 pair).
        mcu_dir: ``tinysign mcu`` output of it (``model_data.cc/.h``).
        records_dir: extraction output: ``num_clips`` test clips become the stream (unless ``stream``).
        out_dir: build folder (relative paths are resolved once, against the current directory).
        boards: names of :data:`~tinysign.runtime.boards.BOARDS`.
        tflm_source: tflite-micro source tree (copied into ``out_dir`` once).
        tflm_build: folder of the tflite-micro libraries (default ``$TINYSIGN_TFLM_BUILD``, else
            ``out_dir/tflm``).
        config: recognizer settings (``spot_*``) and the model budgets (``flash_budget_bytes``,
            ``arena_budget_bytes``).
        num_clips: test clips played back to back as the camera stream.
        stream: any stream of frames instead (see :mod:`tinysign.runtime.firmware.stream`).
        dump_frame: also compare every op's output at this stream frame (done anyway on a mismatch).
        reset_per_clip: reset ring buffer, front end and recognizer at every clip (default: one stream).

    Returns:
        The summary (also ``out_dir/metrics.json`` and ``out_dir/firmware_report.md``).
    """
    config, boards = config or Config(), boards or list(BOARDS)
    if unknown := sorted(set(boards) - set(BOARDS)):
        raise TinysignError(f"unknown board(s) {', '.join(unknown)}: choose from {', '.join(BOARDS)}")
    build.check_tools()
    quant = load_quantized(quant_dir)
    models = streaming_models(quant)
    stream = stream if stream is not None else select_stream(records_dir, num_clips)
    settings = recognizer_settings(quant, config)
    paths = build.BuildPaths.resolve(out_dir, tflm_build or os.environ.get(TFLM_BUILD_ENV))
    build.writable_copy(tflm_source, paths.tflm_src)

    start = time.perf_counter()
    resolver = codegen.generate(paths.gen, quant, models, mcu_dir, stream, settings, paths.tflm_src)
    generated = time.perf_counter()
    ref = reference_run(quant, stream, settings, reset_per_clip)
    project = project_outputs(quant, stream)
    seconds = {"generate": generated - start, "python_reference": time.perf_counter() - generated}
    seconds["build_tflm"] = build.make(["tflm"], paths, boards)
    results = {
        name: check_board(
            build.Firmware(BOARDS[name], paths, reset_per_clip),
            quant,
            stream,
            ref,
            project,
            config,
            dump_frame,
        )
        for name in boards
    }
    seconds["total"] = sum(seconds.values()) + sum(sum(r["seconds"].values()) for r in results.values())
    generated_info = {
        "constants": codegen.header_constants(paths.gen / "model_data.h"),
        "op_resolver": resolver,
    }
    summary = _summary(
        quant, stream, settings, config, reset_per_clip, project, seconds, results, generated_info
    )
    write_summary(paths.build_dir, summary)
    (paths.build_dir / REPORT_MD).write_text(markdown(summary))
    return summary


def check_board(
    firmware: build.Firmware,
    quant: QuantizedModel,
    stream: Stream,
    ref: Reference,
    project: list[np.ndarray | None],
    config: Config,
    dump_frame: int | None = None,
) -> FirmwareBoard:
    """Build with the default arena, run, right-size the arena to what the target used (+ 16 B alignment),
    rebuild, run, measure and compare; on a mismatch (or for ``dump_frame``) compare every op at one frame."""
    board, seconds = firmware.board, {}
    text, seconds["build_firmware"], seconds["qemu_first"] = firmware.build_and_run()
    used = int(protocol.parse(text).settings["arena"]["used"])
    arena = (used + 16 + 15) // 16 * 16  # TFLM: arena_used_bytes() + 16 for alignment
    text, seconds["build_firmware_tight"], seconds["qemu"] = firmware.build_and_run(arena)
    console = protocol.parse(text)
    elf = firmware.paths.elf(board.name)
    sizes, speed, comparison = section_sizes(elf), timing(console, board.clock_hz), compare(console, ref)
    top = [_top(console.head.get(end)) for end in stream.ends]  # the head's top class at each clip's end
    result: FirmwareBoard = {
        "board": board.name,
        "core": board.core,
        "part": board.part,
        "machine": board.machine,
        "elf": str(elf),
        "sizes": sizes,
        "arena": {k: int(v) for k, v in console.settings["arena"].items()},
        "memory": {k: int(v) for k, v in console.settings["mem"].items()},
        "timing": speed,
        "comparison": comparison,
        "budgets": budgets(board, sizes, int(console.settings["arena"]["used"]), speed["fps"], config),
        "clip_end_top": top,
        "top_matches_project": all(
            t == _top(out) for t, out in zip(top, project, strict=True) if out is not None
        ),
        # the project's classify starts each clip empty: the same output with --reset-per-clip (or raw)
        "clip_outputs_equal_project": all(
            out is not None and end in console.head and np.array_equal(console.head[end], out)
            for end, out in zip(stream.ends, project, strict=True)
        ),
        "seconds": seconds,
    }
    if not comparison["within_tolerance"] or dump_frame is not None:

        def dump(frame: int) -> protocol.Console:
            return protocol.parse(firmware.build_and_run(arena, frame)[0])

        models = streaming_models(quant)
        result["divergence"] = locate_divergence(
            console, comparison, dump, quant, models, stream, ref, dump_frame
        )
        firmware.build(arena)  # leave the normal build behind
    return result


def _top(scores: np.ndarray | None) -> int | None:
    return int(np.argmax(scores)) if scores is not None else None


def budgets(
    board: Board, sizes: FirmwareSizes, arena_used: int, fps: float, config: Config
) -> list[FirmwareCheck]:
    """The model's budgets (the config's, as ``tinysign mcu`` checks them on the host) measured on the target;
    the whole firmware against the board's part; the frame rate against the board's target."""
    checks = [
        ("whole firmware flash <= the part's flash", sizes["flash"], board.flash_bytes),
        ("static RAM <= the part's SRAM", sizes["static_ram"], board.sram_bytes),
        ("models' flash <= flash_budget_bytes", sizes["flash_models"], config.flash_budget_bytes),
        ("arena used <= arena_budget_bytes", arena_used, config.arena_budget_bytes),
    ]
    return [
        *(
            {"name": name, "value": value, "limit": limit, "passed": value <= limit}
            for name, value, limit in checks
        ),
        {
            "name": f"frames/s >= {board.fps_target:.0f}",
            "value": fps,
            "limit": board.fps_target,
            "passed": fps >= board.fps_target,
        },
    ]


def _summary(
    quant: QuantizedModel,
    stream: Stream,
    settings: RecognizerSettings,
    config: Config,
    reset_per_clip: bool,
    project: list[np.ndarray | None],
    seconds: dict[str, float],
    boards: dict[str, FirmwareBoard],
    generated: dict[str, Any],
) -> FirmwareSummary:
    return {
        "model": quant.kind,
        "num_classes": len(quant.labels),
        "labels": quant.labels,
        "stream": {
            "frames": len(stream.frames),
            "clip_ids": list(stream.clip_ids),
            "starts": list(stream.starts),
            "labels": list(stream.labels),
            "spans": [list(span) for span in stream.spans] if stream.spans else None,
        },
        "constants": generated["constants"],
        "op_resolver": generated["op_resolver"],
        "front_end": quant.front.as_dict(),
        "recognizer": {
            "window": settings.window,
            "threshold_units": int(settings.threshold),
            "suppression": settings.suppression,
            "silent": list(settings.silent),
            "scale": settings.scale,
        },
        "reset_per_clip": reset_per_clip,
        "project_top_classes": [_top(out) for out in project],
        "tolerance_lsb": TOLERANCE_LSB,
        "budgets": {
            "flash_budget_bytes": config.flash_budget_bytes,
            "arena_budget_bytes": config.arena_budget_bytes,
        },
        "seconds": seconds,
        "boards": boards,
    }


def markdown(summary: FirmwareSummary) -> str:
    """The firmware tables (``reporting.views.firmware_tables``) as Markdown."""
    return "\n".join(to_markdown(table) for table in firmware_tables(summary))


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quant", required=True, metavar="DIR", help="streaming quantize output")
    parser.add_argument("--mcu", required=True, metavar="DIR", help="tinysign mcu output (model_data.cc/.h)")
    parser.add_argument("--records", required=True, metavar="DIR", help="extraction output (test clips)")
    parser.add_argument("--out", default="build/firmware", metavar="DIR", help="build folder (%(default)s)")
    parser.add_argument("--targets", nargs="+", default=list(BOARDS), choices=list(BOARDS), help="boards")
    parser.add_argument("--clips", type=int, default=4, help="test clips played back as the camera stream")
    parser.add_argument("--tflm-source", default=str(DEFAULT_SOURCE), help="tflite-micro source tree")
    parser.add_argument(
        "--tflm-build",
        help=f"tflite-micro library folder shared between builds (default ${TFLM_BUILD_ENV} or OUT/tflm)",
    )
    parser.add_argument("--dump-frame", type=int, help="also compare every op's output at this stream frame")
    parser.add_argument("--reset-per-clip", action="store_true", help="reset the stream at every clip")


def run(args: argparse.Namespace, config: Config) -> int:
    summary = run_firmware(
        args.quant,
        args.mcu,
        args.records,
        args.out,
        args.targets,
        args.tflm_source,
        args.tflm_build,
        config,
        num_clips=args.clips,
        dump_frame=args.dump_frame,
        reset_per_clip=args.reset_per_clip,
    )
    print(markdown(summary))
    ok = all(
        b["comparison"]["within_tolerance"] and b["comparison"]["emissions_identical"]
        for b in summary["boards"].values()
    )
    return 0 if ok else 1
