"""INT8 models in the tflite-micro Python interpreter, compared with LiteRT's reference kernels.

Like tflite-micro's ``evaluate_test.py``: identical int8 inputs go to tflite-micro (the C++ kernels an
MCU build uses) and to LiteRT with ``BUILTIN_REF`` kernels; the outputs must agree within
:data:`TOLERANCE_LSB` (tflite-micro requantizes with two roundings, LiteRT's reference kernels with
one: on exact ties they differ by 1, measured in ``FULLY_CONNECTED``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinysign.data.frontend import FrontEndStream
from tinysign.model.files import QuantizedModel
from tinysign.runtime.litert import LiteModel, qparams, runner_input
from tinysign.runtime.streaming import ClipClassifier, StreamingClassifier

TOLERANCE_LSB = 1


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
        stream = StreamingClassifier(
            compared["frame"], compared["head"], FrontEndStream(quant.front_end, quant.binning)
        )
        for frame in clips.reshape(-1, *clips.shape[2:]):
            stream.push(frame)
    else:
        classifier = ClipClassifier([compared["model"]], quant.front_end, quant.binning)
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
