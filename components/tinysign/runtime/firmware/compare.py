"""The firmware's console against Python: int8 outputs (<= 1 LSB), emissions (identical), and, on a
difference, the first op that differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinysign.model.files import QuantizedModel
from tinysign.runtime.firmware.protocol import Console
from tinysign.runtime.firmware.reference import REFERENCE_ARENA, Reference
from tinysign.runtime.firmware.stream import Stream
from tinysign.runtime.flatbuffer import model_ops
from tinysign.runtime.litert import runner_input
from tinysign.runtime.micro import TOLERANCE_LSB, MicroModel
from tinysign.summaries import FirmwareComparison, FirmwareEmission


def compare(console: Console, ref: Reference) -> FirmwareComparison:
    """Max |firmware - Python| per model over every output and where the first largest difference is;
    the firmware's emissions against the Python recognizer's."""
    parts: dict[str, dict[str, Any]] = {}
    for part in ("features", "head"):
        printed, expected = getattr(console, part), getattr(ref, part)
        diffs = {
            k: np.abs(printed[k].astype(np.int32) - expected[k].astype(np.int32))
            for k in sorted(expected)
            if k in printed
        }
        worst = max(diffs, key=lambda k: int(diffs[k].max()), default=None)
        parts[part] = {
            "outputs": len(diffs),
            "values": int(sum(d.size for d in diffs.values())),
            "mismatched_values": int(sum(np.count_nonzero(d) for d in diffs.values())),
            "max_abs_diff_lsb": int(diffs[worst].max()) if worst is not None else None,
            "worst_stream_frame": worst,
            "missing_frames": sorted(set(expected) ^ set(printed)),
        }
    max_diff = max(p["max_abs_diff_lsb"] or 0 for p in parts.values())
    fw = [_emission(frame, label, score) for frame, label, score in console.emissions]
    window, scale = ref.settings.window, ref.settings.scale
    py = [_emission(e.frame, e.label, round(e.score * window / scale)) for e in ref.emissions]
    return {
        "features": parts["features"],  # type: ignore[typeddict-item]
        "head": parts["head"],  # type: ignore[typeddict-item]
        "max_abs_diff_lsb": max_diff,
        "within_tolerance": max_diff <= TOLERANCE_LSB
        and not any(p["missing_frames"] for p in parts.values()),
        "emissions": fw,
        "python_emissions": py,
        "emissions_identical": fw == py,
    }


def _emission(frame: int, label: int, score_units: int) -> FirmwareEmission:
    """One emission as the firmware prints it (the Python recognizer's score, an average probability, is
    converted back to the window sum of ``q - zero_point`` units)."""
    return {"frame": int(frame), "label": int(label), "score_units": int(score_units)}


def first_divergent_op(model: bytes, x: np.ndarray, dumped: list[dict[str, Any]]) -> dict[str, Any]:
    """First op whose output differs by more than ``TOLERANCE_LSB`` between the firmware's dump and Python
    tflite-micro (all tensors preserved) on the same input ``x``."""
    from tflite_micro import runtime

    micro = runtime.Interpreter.from_bytes(
        model,
        arena_size=4 * REFERENCE_ARENA,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
    )
    micro.set_input(x, 0)
    micro.invoke()
    names = [op["op"] for op in model_ops(model)]
    first_any = None
    for item in sorted(dumped, key=lambda d: d["op"]):
        expected = np.asarray(micro.GetTensor(item["tensor"], 0)["tensor_data"]).reshape(-1)
        got = np.frombuffer(item["raw"], dtype=expected.dtype)
        if got.shape != expected.shape:
            raise ValueError(
                f"op {item['op']}: firmware dumped {got.size} values, Python has {expected.size}"
            )
        diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
        entry = {
            "index": item["op"],
            "op": names[item["op"]],
            "max_abs_diff_lsb": int(diff.max()),
            "values_differing": int(np.count_nonzero(diff)),
        }
        if diff.any() and first_any is None:
            first_any = entry
        if diff.max() > TOLERANCE_LSB:
            return {**entry, "first_op_differing_at_all": first_any}
    return {"index": None, "op": None, "first_op_differing_at_all": first_any}


def locate_divergence(
    console: Console,
    comparison: FirmwareComparison,
    dump: Callable[[int], Console],
    quant: QuantizedModel,
    models: tuple[bytes, bytes],
    stream: Stream,
    ref: Reference,
    frame: int | None = None,
) -> dict[str, Any]:
    """Every op's output at ``frame`` (default: the worst one), printed by a dump build (``dump(frame)``),
    against Python tflite-micro: the first op that differs (by more than the tolerance, and at all)."""
    part = max(("features", "head"), key=lambda p: comparison[p]["max_abs_diff_lsb"] or 0)  # type: ignore[literal-required]
    if frame is None:
        frame = comparison[part]["worst_stream_frame"]  # type: ignore[literal-required]
    dumped = dump(frame).ops
    first = frame in (stream.starts if ref.reset_per_clip else (0,))
    front = quant.front.stream()
    if not first:
        front.push(stream.frames[frame - 1])
    frame_input = runner_input(MicroModel(models[0], REFERENCE_ARENA), front.push(stream.frames[frame]))
    result: dict[str, Any] = {
        "stream_frame": frame,
        "part": part,
        "frame_model": first_divergent_op(
            models[0], frame_input, [d for d in dumped if d["model"] == "frame"]
        ),
        "head": None,
    }
    if frame in console.head:  # the head on the firmware's own window (its features): only the head compared
        t = MicroModel(models[1], REFERENCE_ARENA).input_shape[1]
        window = np.stack([console.features[k] for k in range(frame - t + 1, frame + 1)])[np.newaxis]
        result["head"] = first_divergent_op(models[1], window, [d for d in dumped if d["model"] == "head"])
    return result
