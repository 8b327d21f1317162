"""Proof that the INT8 model runs on a microcontroller, and what it needs there.

Like tflite-micro's ``evaluate_test.py``: the INT8 ``.tflite`` runs in the tflite-micro Python
interpreter (the same C++ kernels an MCU build uses) and in LiteRT with reference kernels
(``BUILTIN_REF``) on real test clips, and the raw int8 outputs must be identical. Then:

* **arena**: the smallest ``arena_size`` at which tflite-micro allocates and runs the model, found
  by probing in child processes (a too-small arena can crash the interpreter); one byte less fails;
* **flash**: the ``.tflite`` bytes (what is linked into the firmware);
* **ops** and **MACs** read from the flatbuffer;
* for the streaming model: frame arena + head arena + ring buffer (``T x F`` int8), the frame model
  and head checked on a continuous stream of test frames;
* ``model_data.cc/.h`` C arrays like tflite-micro's ``generate_cc_arrays``;
* pass/fail against ``config.arena_budget_bytes`` / ``flash_budget_bytes`` and whether it fits the
  boards of :mod:`tinysign.runtime.boards` (the table ``tinysign firmware`` builds for);
* an Ethos-U55 estimate from ``vela`` when ``ethos-u-vela`` is installed.

Outputs: ``mcu_report.json``, ``mcu_report.md``, ``model_data.cc``, ``model_data.h``, ``metrics.json``.
The machinery lives in :mod:`tinysign.runtime` (micro, arena, flatbuffer, carrays, vela).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.arguments import add_folders
from tinysign.artifacts import MCU_REPORT_JSON, MCU_REPORT_MD, VELA_DIR
from tinysign.config import Config
from tinysign.data import records
from tinysign.errors import TinysignError
from tinysign.model.files import QuantizedModel, check_records, load_quantized
from tinysign.reporting.tables import to_markdown
from tinysign.reporting.views import mcu_tables
from tinysign.runtime.arena import check_runs_at, probe_arena
from tinysign.runtime.boards import BOARDS, Board
from tinysign.runtime.carrays import c_array_name, write_c_arrays
from tinysign.runtime.flatbuffer import model_ops, op_summary
from tinysign.runtime.litert import LiteModel
from tinysign.runtime.micro import bit_exact_check
from tinysign.runtime.vela import vela_estimate
from tinysign.summaries import McuPart, McuSummary, TargetFit, stamped, write_summary

CHECK_CLIPS = 8  # real test clips run through both interpreters


@stamped("mcu")
def run_mcu_check(
    quant_dir: str | Path, records_dir: str | Path, out_dir: str | Path, config: Config
) -> McuSummary:
    """Run the INT8 model in tflite-micro, measure what it needs and write the C arrays + report.

    Args:
        quant_dir: quantize output (INT8 ``.tflite`` files, ``labels.txt``, ``metrics.json``).
        records_dir: extraction output; ``CHECK_CLIPS`` test clips drive the bit-exactness check.
        out_dir: folder for ``mcu_report.{json,md}``, ``model_data.{cc,h}``, ``metrics.json``.
        config: ``arena_budget_bytes``, ``flash_budget_bytes``, ``eval_fps``.

    Returns:
        The report (also ``metrics.json``); raises :class:`TinysignError` when tflite-micro and
        LiteRT disagree.
    """
    quant = load_quantized(quant_dir)
    # an enrolled (prototype) head has its own signs: any clips of the right shape drive the check
    labels = None if quant.method == "prototypes" else quant.labels
    check_records(records_dir, labels, quant.num_frames, quant.img_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first = list(itertools.islice(records.iter_records(records_dir, "test"), CHECK_CLIPS))
    if not first:
        raise TinysignError(records.empty_split_message(records_dir, "test"))
    clips, clip_ids = np.stack([r.frames for r in first]), [r.clip_id for r in first]

    models = {part: quant.read(part, "int8") for part in quant.parts}
    parts: dict[str, McuPart] = {}
    for part, model in models.items():
        ops = model_ops(model)
        arena = probe_arena(model)
        parts[part] = {
            "file": quant.path(part, "int8").name,
            "flash_bytes": len(model),
            "arena_bytes": arena,
            "runs_at_arena": check_runs_at(model, arena),
            "fails_below_arena": not check_runs_at(model, arena - 1),
            "macs": sum(op["macs"] for op in ops),
            "ops": op_summary(ops),
            "op_sequence": [op["op"] for op in ops],
        }
        vela = vela_estimate(quant.path(part, "int8"), out / VELA_DIR)
        if vela is not None:
            parts[part]["vela"] = vela

    exact = bit_exact_check(quant, clips, {p: parts[p]["arena_bytes"] for p in quant.parts})
    exact["clip_ids"] = clip_ids
    if not exact["within_tolerance"]:
        raise TinysignError(
            f"tflite-micro and LiteRT (reference kernels) differ by up to "
            f"{exact['max_abs_diff_lsb']} LSB on {exact['mismatched_values']} of "
            f"{exact['values_compared']} int8 outputs ({exact['parts']}); "
            "the INT8 model is not safe to deploy"
        )
    report = _summarise(quant, parts, exact, config)
    arrays = {c_array_name(quant.kind, part): model for part, model in models.items()}
    cc, h = write_c_arrays(arrays, out, _constants(quant, report))
    report["c_arrays"] = {"cc": cc.name, "h": h.name, "names": list(arrays)}
    (out / MCU_REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n")
    (out / MCU_REPORT_MD).write_text(markdown_report(report))
    write_summary(out, report)
    return report


def _summarise(
    quant: QuantizedModel, parts: dict[str, McuPart], exact: dict[str, Any], config: Config
) -> McuSummary:
    flash = sum(p["flash_bytes"] for p in parts.values())
    arena = max(p["arena_bytes"] for p in parts.values())  # the largest single invocation
    report: McuSummary = {
        "model": quant.kind,
        "method": quant.method,
        "num_classes": len(quant.labels),
        "parts": parts,
        "flash_bytes": flash,
        "arena_bytes": arena,
    }
    if quant.kind == "streaming":
        head = parts["head"]["op_sequence"]
        t, f = quant.num_frames, _head_feature_dim(quant)
        ring = t * f  # int8
        report.update(
            {
                "ring_buffer_bytes": ring,
                "feature_dim": f,
                "total_sram_bytes": parts["frame"]["arena_bytes"] + parts["head"]["arena_bytes"] + ring,
                "macs_per_frame": parts["frame"]["macs"] + parts["head"]["macs"],
                "macs_per_clip": t * parts["frame"]["macs"] + parts["head"]["macs"],
                "macs_per_second": config.eval_fps * (parts["frame"]["macs"] + parts["head"]["macs"]),
                "head_ops": head,
            }
        )
    else:
        report.update({"total_sram_bytes": arena, "macs_per_clip": parts["model"]["macs"]})
    report["budgets"] = {
        "arena": {
            "limit_bytes": config.arena_budget_bytes,
            "value_bytes": arena,
            "passed": arena <= config.arena_budget_bytes,
            "what": "largest single tensor arena (per frame model / head invocation)"
            if quant.kind == "streaming"
            else "tensor arena of the whole-clip model",
        },
        "flash": {
            "limit_bytes": config.flash_budget_bytes,
            "value_bytes": flash,
            "passed": flash <= config.flash_budget_bytes,
            "what": "INT8 .tflite bytes (all parts)",
        },
    }
    report["targets"] = [_target_fit(board, report, parts, npu=False) for board in BOARDS.values()]
    report["targets"] += [_target_fit(b, report, parts, npu=True) for b in BOARDS.values() if b.npu]
    report["tflm_vs_litert"] = exact
    return report


def _head_feature_dim(quant: QuantizedModel) -> int:
    return int(LiteModel(quant.read("head", "int8")).input_shape[2])


def _target_fit(board: Board, report: McuSummary, parts: dict[str, McuPart], npu: bool) -> TargetFit:
    """Does the model (arenas + ring buffer, INT8 bytes) fit the board's part? ``npu``: Vela's numbers."""
    sram, flash = report["total_sram_bytes"], report["flash_bytes"]
    source = "tflite-micro"
    if npu:
        velas = [p.get("vela") for p in parts.values()]
        if all(v and "sram_bytes" in v for v in velas):
            sram = sum(v["sram_bytes"] for v in velas) + report.get("ring_buffer_bytes", 0)  # type: ignore[index]
            flash = sum(v["flash_bytes"] for v in velas)  # type: ignore[index]
            source = "vela"
        else:
            source = "tflite-micro (vela not available)"
    return {
        "target": f"{board.core} + {board.npu}" if npu else board.core,
        "note": f"{board.part}: {board.sram_bytes // 1024} KB SRAM / {board.flash_bytes // 1024} KB flash",
        "sram_needed": sram,
        "flash_needed": flash,
        "sram_bytes": board.sram_bytes,
        "flash_bytes": board.flash_bytes,
        "source": source,
        "fits": sram <= board.sram_bytes and flash <= board.flash_bytes,
    }


def _constants(quant: QuantizedModel, report: McuSummary) -> dict[str, int]:
    constants = {
        "kNumClasses": len(quant.labels),
        "kNumFrames": quant.num_frames,
        "kImageSize": quant.img_size,
    }
    for part, info in report["parts"].items():
        prefix = "kS3dConv1d" if part == "model" else f"kStreaming{part.title()}"
        constants[f"{prefix}ArenaSize"] = info["arena_bytes"]
    if quant.kind == "streaming":
        constants["kFeatureDim"] = report["feature_dim"]
        constants["kRingBufferBytes"] = report["ring_buffer_bytes"]
    return constants


def markdown_report(report: McuSummary) -> str:
    """The MCU tables (parts, budgets, targets) as Markdown."""
    return "\n".join(to_markdown(table) for table in mcu_tables(report))


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_folders(parser, "output folder for the report + C arrays", quant=True, records=True)


def run(args: argparse.Namespace, config: Config) -> int:
    report = run_mcu_check(args.quant, args.records, args.out, config)
    print(markdown_report(report))
    return 0
