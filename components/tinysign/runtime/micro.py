"""INT8 models in the tflite-micro Python interpreter, compared with LiteRT's reference kernels.

Like tflite-micro's ``evaluate_test.py``: identical int8 inputs go to tflite-micro (the C++ kernels an
MCU build uses) and to LiteRT with ``BUILTIN_REF`` kernels, and the outputs are compared. Where they
differ, each op is compared on its own, like tflite-micro's layer-by-layer debugger but without one op's
difference reaching the next op's inputs: every op runs alone in both runtimes on the very input tensors
LiteRT's full run gave it (:func:`compare_ops`). An op may differ by :data:`TOLERANCE_LSB` only where the
kernels are known to round exact ties differently (:data:`TIE_ROUNDING_OPS`: tflite-micro requantizes
with two roundings, LiteRT's reference kernels with one); any other difference fails, naming the op.
A known 1-LSB tie in one op can grow to a few LSB at the model's output; that is not a deployment risk.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinysign.model.files import QuantizedModel
from tinysign.runtime.litert import LiteModel, qparams, runner_input
from tinysign.runtime.streaming import ClipClassifier, StreamingClassifier

TOLERANCE_LSB = 1
# Ops whose tflite-micro kernel rounds exact ties differently from LiteRT's reference kernel (measured:
# FULLY_CONNECTED requantizes gemmlowp-style with two roundings in tflite-micro, one in LiteRT).
TIE_ROUNDING_OPS = frozenset({"FULLY_CONNECTED"})
OP_CHECK_INPUTS = 4  # inputs whose outputs differed that are compared op by op


class MicroModel:
    """A ``.tflite`` model in the tflite-micro Python interpreter (a ``litert.Runner``)."""

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


class ComparedRunner:
    """Runs every input through tflite-micro and LiteRT reference kernels; returns LiteRT's output."""

    def __init__(self, micro: MicroModel, lite: LiteModel) -> None:
        self.micro, self.lite = micro, lite
        self.input_shape, self.input_dtype = lite.input_shape, lite.input_dtype
        self.input_qparams, self.output_qparams = lite.input_qparams, lite.output_qparams
        self.invocations = self.values = self.mismatched_values = self.max_abs_diff = 0
        self.mismatches: list[np.ndarray] = []  # the first inputs whose outputs differed

    def invoke(self, x: np.ndarray) -> np.ndarray:
        a, b = self.micro.invoke(x), self.lite.invoke(x)
        diff = np.abs(a.astype(np.int32) - b.astype(np.int32))
        self.invocations += 1
        self.values += diff.size
        self.mismatched_values += int(np.count_nonzero(diff))
        self.max_abs_diff = max(self.max_abs_diff, int(diff.max()))
        if diff.any() and len(self.mismatches) < OP_CHECK_INPUTS:
            self.mismatches.append(x.copy())
        return b

    def summary(self, model: bytes) -> dict[str, Any]:
        result = {
            "invocations": self.invocations,
            "values_compared": self.values,
            "mismatched_values": self.mismatched_values,
            "max_abs_diff_lsb": self.max_abs_diff,
        }
        if self.mismatches:
            ops = compare_ops(model, self.mismatches)
            result["op_by_op"] = ops
            result["first_divergent_op"] = ops[0] if ops else {"index": None, "op": None}
            # an output difference no single op explains is not a known kernel difference either
            result["ops_within_tolerance"] = bool(ops) and all(o["within_tolerance"] for o in ops)
        else:
            result["ops_within_tolerance"] = True
        return result


def compare_model(model: bytes, inputs: Iterable[np.ndarray], arena_size: int) -> dict[str, Any]:
    """One model on ``inputs`` (real values, quantized as its input) in tflite-micro at ``arena_size``
    bytes and in LiteRT ``BUILTIN_REF``: the comparison of :meth:`ComparedRunner.summary`."""
    compared = ComparedRunner(MicroModel(model, arena_size), LiteModel(model, reference=True))
    for x in inputs:
        compared.invoke(runner_input(compared, x))
    return compared.summary(model)


def bit_exact_check(quant: QuantizedModel, clips: np.ndarray, arenas: dict[str, int]) -> dict[str, Any]:
    """Feed identical int8 inputs to tflite-micro (at the probed arenas) and LiteRT ``BUILTIN_REF``.

    Whole-clip model: each clip. Streaming: the clips form one continuous stream; the frame model
    sees every frame and the head every ring-buffer window (each frame once the buffer is full).
    """
    models = {part: quant.read(part, "int8") for part in quant.parts}
    compared = {
        part: ComparedRunner(MicroModel(model, arenas[part]), LiteModel(model, reference=True))
        for part, model in models.items()
    }
    if quant.kind == "streaming":
        stream = StreamingClassifier(compared["frame"], compared["head"], quant.front.stream())
        for frame in clips.reshape(-1, *clips.shape[2:]):
            stream.push(frame)
    else:
        classifier = ClipClassifier([compared["model"]], quant.front.stream())
        for clip in clips:
            classifier.classify(clip)
    parts = {part: c.summary(models[part]) for part, c in compared.items()}
    max_diff = max(p["max_abs_diff_lsb"] for p in parts.values())
    return {
        "bit_exact": max_diff == 0,
        "within_tolerance": all(p["ops_within_tolerance"] for p in parts.values()),
        "tolerance_lsb": TOLERANCE_LSB,
        "tie_rounding_ops": sorted(TIE_ROUNDING_OPS),
        "max_abs_diff_lsb": max_diff,
        "clips": int(len(clips)),
        "values_compared": sum(p["values_compared"] for p in parts.values()),
        "mismatched_values": sum(p["mismatched_values"] for p in parts.values()),
        "reference": "LiteRT BUILTIN_REF kernels",
        "arena_sizes": arenas,
        "parts": parts,
    }


def beyond_tolerance(exact: dict[str, Any]) -> str:
    """What fails in a :func:`bit_exact_check` that is not within tolerance, in words: the op (part,
    index, name) whose output differs on the same inputs by more than its kernels' rounding allows."""
    for part, result in exact["parts"].items():
        for op in result.get("op_by_op", []):
            if not op["within_tolerance"]:
                return (
                    f"{part}: op {op['index']} ({op['op']}) differs by up to "
                    f"{op['max_abs_diff_lsb']} LSB on the same inputs (allowed {op['tolerance_lsb']})"
                )
        if not result["ops_within_tolerance"]:
            return f"{part}: the outputs differ though no single op does on the same inputs"
    return "nothing"


def compare_ops(model: bytes, inputs: list[np.ndarray]) -> list[dict[str, Any]]:
    """Every op of ``model`` alone in tflite-micro and in LiteRT ``BUILTIN_REF``, fed the input tensors
    LiteRT's full run on each of ``inputs`` gave that op; the ops whose outputs differ, in model order:
    ``{"index", "op", "max_abs_diff_lsb", "values_differing", "tolerance_lsb", "within_tolerance"}``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    full = Interpreter(
        model_content=model,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    full.allocate_tensors()
    parsed = runtime.convert_bytearray_to_object(bytearray(model))
    alone = [_op_alone(parsed, index) for index in range(len(parsed.subgraphs[0].operators))]
    names = [op["op_name"] for op in full._get_ops_details()]  # noqa: SLF001 - the only per-op API
    worst: dict[int, list[int]] = {}
    for x in inputs:
        full.set_tensor(full.get_input_details()[0]["index"], x)
        full.invoke()
        for index, (content, feeds, outputs) in enumerate(alone):
            values = [full.get_tensor(t) for t in feeds]
            diff = np.abs(_run_micro(content, values, len(outputs)) - _run_lite(content, values))
            if diff.any():
                seen = worst.setdefault(index, [0, 0])
                seen[0], seen[1] = max(seen[0], int(diff.max())), seen[1] + int(np.count_nonzero(diff))
    found = []
    for index, (largest, count) in sorted(worst.items()):
        tolerance = TOLERANCE_LSB if names[index] in TIE_ROUNDING_OPS else 0
        found.append(
            {
                "index": index,
                "op": names[index],
                "max_abs_diff_lsb": largest,
                "values_differing": count,
                "tolerance_lsb": tolerance,
                "within_tolerance": largest <= tolerance,
            }
        )
    return found


def _op_alone(parsed: Any, index: int) -> tuple[bytes, list[int], list[int]]:
    """``(a model of op ``index`` alone, its non-constant input tensors, its output tensors)``: the
    same tensors, weights and quantization, the op's variable inputs as the model's inputs."""
    import flatbuffers

    model = copy.deepcopy(parsed)
    graph = model.subgraphs[0]
    op = graph.operators[index]

    def constant(tensor: int) -> bool:
        data = model.buffers[graph.tensors[tensor].buffer].data
        return data is not None and len(data) > 0

    feeds = [int(t) for t in op.inputs if t >= 0 and not constant(int(t))]
    graph.operators, graph.inputs, graph.outputs = [op], feeds, [int(t) for t in op.outputs]
    model.signatureDefs = []
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), feeds, list(graph.outputs)


def _run_lite(content: bytes, values: list[np.ndarray]) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    lite = Interpreter(model_content=content, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    lite.allocate_tensors()
    for detail, value in zip(lite.get_input_details(), values, strict=True):
        lite.set_tensor(detail["index"], value)
    lite.invoke()
    return np.concatenate(
        [lite.get_tensor(d["index"]).astype(np.int64).ravel() for d in lite.get_output_details()]
    )


def _run_micro(content: bytes, values: list[np.ndarray], outputs: int) -> np.ndarray:
    from tflite_micro import runtime

    arena = 65536 + 4 * sum(v.nbytes for v in values)
    micro = runtime.Interpreter.from_bytes(content, arena_size=max(arena, 1 << 20))
    for position, value in enumerate(values):
        micro.set_input(value, position)
    micro.invoke()
    return np.concatenate([np.asarray(micro.get_output(k)).astype(np.int64).ravel() for k in range(outputs)])
