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
* pass/fail against ``config.arena_budget_bytes`` / ``flash_budget_bytes`` and named MCU targets;
* an Ethos-U55 estimate from ``vela`` when ``ethos-u-vela`` is installed.

Outputs: ``mcu_report.json``, ``mcu_report.md``, ``model_data.cc``, ``model_data.h``, ``metrics.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysign import records
from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.evaluate import ClipClassifier, LiteModel, StreamingClassifier, qparams
from tinysign.quantize import QuantizedModel, check_records, load_quantized

CHECK_CLIPS = 8  # real test clips run through both interpreters
# tflite-micro requantizes with two roundings (gemmlowp style), LiteRT's reference kernels with one;
# on exact ties they differ by 1 (measured in FULLY_CONNECTED). More than this is a real mismatch.
TOLERANCE_LSB = 1
VELA_ACCELERATOR = "ethos-u55-128"


@dataclass(frozen=True)
class Target:
    """A class of microcontroller: SRAM for arena(s) + ring buffer, flash for the model(s)."""

    name: str
    sram_bytes: int
    flash_bytes: int
    note: str = ""


TARGETS = (
    Target("Cortex-M4", 256 * 1024, 1024 * 1024, "256 KB SRAM / 1 MB flash"),
    Target("Cortex-M7", 512 * 1024, 2 * 1024 * 1024, "512 KB SRAM / 2 MB flash"),
    Target(
        "Cortex-M55 + Ethos-U55-128",
        512 * 1024,
        2 * 1024 * 1024,
        "512 KB SRAM / 2 MB flash; NPU memory and latency from Vela",
    ),
)


class MicroModel:
    """A ``.tflite`` model in the tflite-micro Python interpreter (an :class:`evaluate.Runner`)."""

    def __init__(self, model: bytes, arena_size: int) -> None:
        from tflite_micro import runtime

        self.arena_size = arena_size
        self._interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
        inp = self._interpreter.get_input_details(0)
        out = self._interpreter.get_output_details(0)
        self.input_shape = tuple(int(d) for d in inp["shape"])
        self.input_dtype = inp["dtype"]
        self.input_qparams = qparams(inp)
        self.output_qparams = qparams(out)

    def invoke(self, x: np.ndarray) -> np.ndarray:
        self._interpreter.set_input(x, 0)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_output(0))


# --- flatbuffer: ops and MACs ----------------------------------------------------------------------


def model_ops(model: bytes) -> list[dict[str, Any]]:
    """Operators in execution order: ``{"op", "inputs": [shapes], "outputs": [shapes], "macs"}``."""
    from tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    parsed = runtime.convert_bytearray_to_object(bytearray(model))
    if len(parsed.subgraphs) != 1:
        raise TinysignError(f"model has {len(parsed.subgraphs)} subgraphs; expected 1")
    graph = parsed.subgraphs[0]

    def shapes(indices: Any) -> list[list[int]]:
        return [
            [int(d) for d in graph.tensors[i].shape] if graph.tensors[i].shape is not None else []
            for i in (indices if indices is not None else [])
            if i >= 0
        ]

    ops = []
    for op in graph.operators or []:
        name = names.get(
            runtime.get_builtin_code_from_operator_code(parsed.operatorCodes[op.opcodeIndex]), "CUSTOM"
        )
        inputs, outputs = shapes(op.inputs), shapes(op.outputs)
        ops.append({"op": name, "inputs": inputs, "outputs": outputs, "macs": _macs(name, inputs, outputs)})
    return ops


def _macs(op: str, inputs: list[list[int]], outputs: list[list[int]]) -> int:
    """Multiply-accumulates of one op (conv / depthwise / fully connected; others count 0)."""
    out = int(np.prod(outputs[0])) if outputs else 0
    if op == "CONV_2D":  # filter (O, KH, KW, I)
        return out * int(np.prod(inputs[1][1:]))
    if op == "DEPTHWISE_CONV_2D":  # filter (1, KH, KW, O)
        return out * int(inputs[1][1] * inputs[1][2])
    if op == "FULLY_CONNECTED":  # filter (O, I)
        return out * int(inputs[1][-1])
    return 0


def op_summary(ops: list[dict[str, Any]]) -> dict[str, int]:
    """``{op name: count}`` in first-seen order."""
    counts: dict[str, int] = {}
    for op in ops:
        counts[op["op"]] = counts.get(op["op"], 0) + 1
    return counts


# --- tensor arena ---------------------------------------------------------------------------------

_PROBE = r"""
import sys
import numpy as np
from tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
size = int(sys.argv[2])
try:
    itp = runtime.Interpreter.from_bytes(data, arena_size=size)
except RuntimeError:
    sys.exit(3)
if len(sys.argv) > 3:
    inp = itp.get_input_details(0)
    itp.set_input(np.zeros(inp["shape"], dtype=inp["dtype"]), 0)
    itp.invoke()
    itp.print_allocations()
"""


@contextmanager
def _model_file(model: bytes) -> Iterator[Path]:
    """``model`` written to a temporary ``.tflite`` file (the probe runs in a child process)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        yield path


def _probe(path: Path, arena_size: int, record: bool = False) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-c", _PROBE, str(path), str(arena_size)] + (["record"] if record else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)


def _fits(path: Path, arena_size: int) -> bool:
    result = _probe(path, arena_size)
    if result.returncode not in (0, 3) and result.returncode > 0:
        raise TinysignError(
            f"tflite-micro probe failed unexpectedly (exit {result.returncode}): "
            f"{result.stderr.strip()[-300:]}"
        )
    return result.returncode == 0  # 3 = allocation failed; < 0 = crashed on a tiny arena


def recorded_arena(path: Path) -> int | None:
    """Arena total reported by ``print_allocations`` (C-level output of a child process)."""
    size = 64 * 1024
    while size <= 1 << 30:
        result = _probe(path, size, record=True)
        if result.returncode == 0:
            found = re.search(r"Arena allocation total (\d+) bytes", result.stdout + result.stderr)
            return int(found.group(1)) if found else None
        size *= 4
    raise TinysignError(f"{path}: tflite-micro cannot allocate this model even with a 1 GB arena")


def probe_arena(model: bytes) -> int:
    """Smallest ``arena_size`` (bytes) at which tflite-micro runs ``model``; ``size - 1`` fails.

    Starts from the ``print_allocations`` total, then brackets and bisects with real allocations,
    each in a child process (a far too small arena can crash the interpreter).
    """
    with _model_file(model) as path:
        hi = recorded_arena(path) or max(4096, 10 * len(model))
        while not _fits(path, hi):
            hi *= 2
        lo = hi - 1
        while lo > 0 and _fits(path, lo):
            hi, lo = lo, lo // 2
        while hi - lo > 1:  # invariant: fits(hi), not fits(lo)
            mid = (lo + hi) // 2
            if _fits(path, mid):
                hi = mid
            else:
                lo = mid
        return hi


# --- bit-exactness --------------------------------------------------------------------------------


class _Compared:
    """Runs every input through tflite-micro and LiteRT reference kernels; returns LiteRT's output."""

    def __init__(self, micro: MicroModel, lite: LiteModel) -> None:
        self.micro, self.lite = micro, lite
        self.input_shape, self.input_dtype = lite.input_shape, lite.input_dtype
        self.input_qparams, self.output_qparams = lite.input_qparams, lite.output_qparams
        self.invocations = self.values = self.mismatched_values = self.max_abs_diff = 0
        self.first_mismatch: np.ndarray | None = None

    def invoke(self, x: np.ndarray) -> np.ndarray:
        a, b = self.micro.invoke(x), self.lite.invoke(x)
        diff = np.abs(a.astype(np.int32) - b.astype(np.int32))
        self.invocations += 1
        self.values += diff.size
        self.mismatched_values += int(np.count_nonzero(diff))
        self.max_abs_diff = max(self.max_abs_diff, int(diff.max()))
        if diff.any() and self.first_mismatch is None:
            self.first_mismatch = x.copy()
        return b

    def summary(self, model: bytes) -> dict[str, Any]:
        result = {
            "invocations": self.invocations,
            "values_compared": self.values,
            "mismatched_values": self.mismatched_values,
            "max_abs_diff_lsb": self.max_abs_diff,
        }
        if self.first_mismatch is not None:
            result["first_divergent_op"] = divergent_op(model, self.first_mismatch)
        return result


def bit_exact_check(quant: QuantizedModel, clips: np.ndarray, arenas: dict[str, int]) -> dict[str, Any]:
    """Feed identical int8 inputs to tflite-micro (at the probed arenas) and LiteRT ``BUILTIN_REF``.

    Whole-clip model: each clip. Streaming: the clips form one continuous stream; the frame model
    sees every frame and the head every ring-buffer window (each frame once the buffer is full).
    """
    models = {part: quant.read(part, "int8") for part in quant.parts}
    compared = {
        part: _Compared(MicroModel(model, arenas[part]), LiteModel(model, reference=True))
        for part, model in models.items()
    }
    if quant.kind == "streaming":
        stream = StreamingClassifier(compared["frame"], compared["head"])
        for frame in clips.reshape(-1, *clips.shape[2:]):
            stream.push(frame)
    else:
        classifier = ClipClassifier([compared["model"]])
        for clip in clips:
            classifier.classify(clip)
    parts = {part: c.summary(models[part]) for part, c in compared.items()}
    max_diff = max(p["max_abs_diff_lsb"] for p in parts.values())
    return {
        "bit_exact": max_diff == 0,
        "within_tolerance": max_diff <= TOLERANCE_LSB,
        "tolerance_lsb": TOLERANCE_LSB,
        "max_abs_diff_lsb": max_diff,
        "clips": int(len(clips)),
        "values_compared": sum(p["values_compared"] for p in parts.values()),
        "mismatched_values": sum(p["mismatched_values"] for p in parts.values()),
        "reference": "LiteRT BUILTIN_REF kernels",
        "arena_sizes": arenas,
        "parts": parts,
    }


def divergent_op(model: bytes, x: np.ndarray) -> dict[str, Any]:
    """The first op whose output differs between tflite-micro and LiteRT reference kernels for ``x``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    lite = Interpreter(
        model_content=model,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    lite.allocate_tensors()
    tensors = lite.get_tensor_details()
    arena = 65536 + 2 * sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in tensors)
    micro = runtime.Interpreter.from_bytes(
        model, arena_size=arena, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors
    )
    lite.set_tensor(lite.get_input_details()[0]["index"], x)
    lite.invoke()
    micro.set_input(x, 0)
    micro.invoke()
    for index, op in enumerate(lite._get_ops_details()):  # noqa: SLF001 - the only per-op API
        for tensor in op["outputs"]:
            a = np.asarray(micro.GetTensor(int(tensor), 0)["tensor_data"]).astype(np.int64)
            b = lite.get_tensor(int(tensor)).astype(np.int64)
            if a.shape == b.shape and (a != b).any():
                return {
                    "index": index,
                    "op": op["op_name"],
                    "max_abs_diff_lsb": int(np.abs(a - b).max()),
                    "values_differing": int(np.count_nonzero(a != b)),
                }
    return {"index": None, "op": None}


def check_runs_at(model: bytes, arena_size: int) -> bool:
    """True when tflite-micro allocates and invokes ``model`` with ``arena_size`` bytes."""
    with _model_file(model) as path:
        return _probe(path, arena_size, record=True).returncode == 0


# --- C arrays (generate_cc_arrays style) ------------------------------------------------------------


def c_array_name(quant: QuantizedModel, part: str) -> str:
    """``g_s3d_conv1d_model_data`` or ``g_streaming_{frame,head}_model_data`` (the .tflite file stems)."""
    return f"g_{'s3d_conv1d' if quant.kind == 's3dconv1d' else f'streaming_{part}'}_model_data"


def write_c_arrays(
    arrays: dict[str, bytes],
    out_dir: str | Path,
    constants: dict[str, int] | None = None,
    stem: str = "model_data",
) -> tuple[Path, Path]:
    """Write ``<stem>.cc`` (``alignas(16) const unsigned char <name>[]`` + ``<name>_size``) and ``.h``.

    Args:
        arrays: C array name -> bytes (e.g. ``g_s3d_conv1d_model_data``).
        out_dir: folder for both files.
        constants: extra ``constexpr int`` values for the header (arena sizes, shapes).
        stem: file name without extension.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    guard = f"TINYSIGN_{stem.upper()}_H_"
    header = ["// Generated by `tinysign mcu`. Do not edit.", f"#ifndef {guard}", f"#define {guard}", ""]
    for key, value in (constants or {}).items():
        header.append(f"constexpr int {key} = {int(value)};")
    if constants:
        header.append("")
    source = [
        "// Generated by `tinysign mcu`. Do not edit.",
        "#include <cstdint>",
        "",
        f'#include "{stem}.h"',
        "",
    ]
    for name, data in arrays.items():
        header += [f"extern const unsigned char {name}[];", f"extern const unsigned int {name}_size;"]
        rows = [", ".join(f"0x{byte:02x}" for byte in data[i : i + 12]) for i in range(0, len(data), 12)]
        source += [
            f"alignas(16) const unsigned char {name}[] = {{",
            *(f"    {row}," for row in rows),
            "};",
            f"const unsigned int {name}_size = {len(data)};",
            "",
        ]
    header += ["", f"#endif  // {guard}", ""]
    cc, h = out / f"{stem}.cc", out / f"{stem}.h"
    cc.write_text("\n".join(source))
    h.write_text("\n".join(header))
    return cc, h


def read_c_array(cc_text: str, name: str) -> bytes:
    """Bytes of array ``name`` in a generated ``.cc`` (checks ``<name>_size``)."""
    body = re.search(rf"const unsigned char {re.escape(name)}\[\] = \{{(.*?)\}};", cc_text, re.S)
    size = re.search(rf"const unsigned int {re.escape(name)}_size = (\d+);", cc_text)
    if not body or not size:
        raise TinysignError(f"C array {name} not found")
    data = bytes(int(tok, 16) for tok in re.findall(r"0x([0-9a-fA-F]{2})", body.group(1)))
    if len(data) != int(size.group(1)):
        raise TinysignError(f"C array {name}: {len(data)} bytes but {name}_size = {size.group(1)}")
    return data


# --- Vela (Ethos-U55) -----------------------------------------------------------------------------


def vela_path() -> str | None:
    """The ``vela`` executable (beside this Python first, then PATH), or ``None``."""
    local = Path(sys.executable).parent / "vela"
    return str(local) if local.exists() else shutil.which("vela")


def vela_estimate(
    model_path: Path, out_dir: Path, accelerator: str = VELA_ACCELERATOR
) -> dict[str, Any] | None:
    """Vela's SRAM, flash and latency estimate for Ethos-U, or ``None`` without ``vela``."""
    exe = vela_path()
    if exe is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [exe, str(model_path), "--accelerator-config", accelerator, "--output-dir", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summaries = sorted(out_dir.glob(f"{model_path.stem}_summary_*.csv"))
    if result.returncode != 0 or not summaries:
        return {"error": (result.stderr or result.stdout).strip()[-300:]}
    with open(summaries[0], newline="") as stream:
        row = next(csv.DictReader(stream))
    npu = re.search(r"NPU operators = (\d+)", result.stdout)
    cpu = re.search(r"CPU operators = (\d+)", result.stdout)
    return {
        "accelerator": accelerator,
        "system_config": row["system_config"],
        "sram_bytes": round(float(row["sram_memory_used"]) * 1024),
        "flash_bytes": round(
            float(row["off_chip_flash_memory_used"]) * 1024 + float(row["on_chip_flash_memory_used"]) * 1024
        ),
        "inference_ms": float(row["inference_time"]) * 1000,
        "cycles": int(float(row["cycles_total"])),
        "clock_hz": float(row["core_clock"]),
        "nn_macs": int(float(row["nn_macs"])),
        "npu_ops": int(npu.group(1)) if npu else None,
        "cpu_ops": int(cpu.group(1)) if cpu else None,
    }


# --- the stage ------------------------------------------------------------------------------------


def run_mcu_check(
    quant_dir: str | Path, records_dir: str | Path, out_dir: str | Path, config: Config
) -> dict[str, Any]:
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
    check_records(records_dir, quant.labels, quant.num_frames, quant.img_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clips, _, clip_ids = records.load_arrays(records_dir, "test")
    clips, clip_ids = clips[:CHECK_CLIPS], clip_ids[:CHECK_CLIPS]

    models = {part: quant.read(part, "int8") for part in quant.parts}
    parts: dict[str, dict[str, Any]] = {}
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
        vela = vela_estimate(quant.path(part, "int8"), out / "vela")
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
    arrays = {c_array_name(quant, part): model for part, model in models.items()}
    cc, h = write_c_arrays(arrays, out, _constants(quant, report))
    report["c_arrays"] = {"cc": cc.name, "h": h.name, "names": list(arrays)}
    (out / "mcu_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "mcu_report.md").write_text(markdown_report(report))
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _summarise(
    quant: QuantizedModel, parts: dict[str, dict[str, Any]], exact: dict[str, Any], config: Config
) -> dict[str, Any]:
    flash = sum(p["flash_bytes"] for p in parts.values())
    arena = max(p["arena_bytes"] for p in parts.values())  # the largest single invocation
    report: dict[str, Any] = {
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
            "pass": arena <= config.arena_budget_bytes,
            "what": "largest single tensor arena (per frame model / head invocation)"
            if quant.kind == "streaming"
            else "tensor arena of the whole-clip model",
        },
        "flash": {
            "limit_bytes": config.flash_budget_bytes,
            "value_bytes": flash,
            "pass": flash <= config.flash_budget_bytes,
            "what": "INT8 .tflite bytes (all parts)",
        },
    }
    report["targets"] = [_target_fit(target, report, parts) for target in TARGETS]
    report["tflm_vs_litert"] = exact
    return report


def _head_feature_dim(quant: QuantizedModel) -> int:
    return int(LiteModel(quant.read("head", "int8")).input_shape[2])


def _target_fit(target: Target, report: dict[str, Any], parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sram, flash = report["total_sram_bytes"], report["flash_bytes"]
    source = "tflite-micro"
    if "Ethos-U" in target.name:
        velas = [p.get("vela") for p in parts.values()]
        if all(v and "sram_bytes" in v for v in velas):
            sram = sum(v["sram_bytes"] for v in velas) + report.get("ring_buffer_bytes", 0)  # type: ignore[index]
            flash = sum(v["flash_bytes"] for v in velas)  # type: ignore[index]
            source = "vela"
        else:
            source = "tflite-micro (vela not available)"
    return {
        "target": target.name,
        "note": target.note,
        "sram_needed": sram,
        "flash_needed": flash,
        "sram_bytes": target.sram_bytes,
        "flash_bytes": target.flash_bytes,
        "source": source,
        "fits": sram <= target.sram_bytes and flash <= target.flash_bytes,
    }


def _constants(quant: QuantizedModel, report: dict[str, Any]) -> dict[str, int]:
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


def _kb(value: int) -> str:
    return f"{value / 1024:.1f} KB"


def markdown_report(report: dict[str, Any]) -> str:
    """The MCU table (arena, flash, MACs, ops per part; budgets; targets) as Markdown."""
    lines = [
        f"# MCU report: {report['model']} ({report['method']}, {report['num_classes']} classes)",
        "",
        "| part | tensor arena | flash | MACs | ops | Vela U55 SRAM / flash / latency |",
        "|---|---:|---:|---:|---|---|",
    ]
    for part, info in report["parts"].items():
        vela = info.get("vela") or {}
        vela_text = (
            f"{_kb(vela['sram_bytes'])} / {_kb(vela['flash_bytes'])} / {vela['inference_ms']:.2f} ms"
            if "sram_bytes" in vela
            else "n/a"
        )
        ops = ", ".join(f"{name}x{count}" for name, count in info["ops"].items())
        lines.append(
            f"| {part} | {info['arena_bytes']} B ({_kb(info['arena_bytes'])}) | "
            f"{info['flash_bytes']} B ({_kb(info['flash_bytes'])}) | {info['macs']:,} | {ops} | "
            f"{vela_text} |"
        )
    lines.append("")
    if report["model"] == "streaming":
        lines += [
            f"Ring buffer: {report['ring_buffer_bytes']} B (T x F int8); total SRAM (frame arena + "
            f"head arena + ring buffer): {report['total_sram_bytes']} B; MACs per frame "
            f"{report['macs_per_frame']:,}, per clip {report['macs_per_clip']:,}.",
            "",
        ]
    lines += ["| budget | value | limit | result |", "|---|---:|---:|---|"]
    for name, budget in report["budgets"].items():
        lines.append(
            f"| {name} ({budget['what']}) | {budget['value_bytes']} B | {budget['limit_bytes']} B | "
            f"{'PASS' if budget['pass'] else 'FAIL'} |"
        )
    lines += [
        "",
        "| target | SRAM needed / available | flash needed / available | fits |",
        "|---|---|---|---|",
    ]
    for t in report["targets"]:
        lines.append(
            f"| {t['target']} ({t['source']}) | {_kb(t['sram_needed'])} / {_kb(t['sram_bytes'])} | "
            f"{_kb(t['flash_needed'])} / {_kb(t['flash_bytes'])} | {'yes' if t['fits'] else 'no'} |"
        )
    exact = report["tflm_vs_litert"]
    verdict = (
        "bit-exact"
        if exact["bit_exact"]
        else f"{exact['mismatched_values']} values differ by <= {exact['max_abs_diff_lsb']} LSB "
        f"(first in {_divergent(exact)}: rounding of requantization)"
    )
    lines += [
        "",
        f"tflite-micro vs LiteRT ({exact['reference']}): {verdict}; "
        f"{exact['values_compared']} int8 output values from {exact['clips']} test clips.",
        "",
    ]
    return "\n".join(lines)


def _divergent(exact: dict[str, Any]) -> str:
    ops = [
        f"{part}: {p['first_divergent_op']['op']}"
        for part, p in exact["parts"].items()
        if "first_divergent_op" in p
    ]
    return ", ".join(ops) or "?"


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quant", required=True, metavar="DIR", help="quantize output (.tflite files)")
    parser.add_argument("--records", required=True, metavar="DIR", help="extraction output (TFRecords)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for the report + C arrays")


def run(args: argparse.Namespace, config: Config) -> int:
    report = run_mcu_check(args.quant, args.records, args.out, config)
    print(markdown_report(report))
    return 0
