"""INT8 / float ``.tflite`` models in LiteRT, and the (de)quantization both runtimes share.

:class:`Runner` is what a model looks like to the deployment path, whatever interpreter runs it
(:class:`LiteModel` here, :class:`tinysign.runtime.micro.MicroModel` for tflite-micro).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

QParams = tuple[float, int] | None  # (scale, zero_point) of an int8 tensor; None for float


class Runner(Protocol):
    """One ``.tflite`` model in some interpreter (LiteRT here, tflite-micro in ``mcu``)."""

    input_shape: tuple[int, ...]
    input_dtype: Any
    input_qparams: QParams
    output_qparams: QParams

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """Raw input (model dtype, ``input_shape``) -> raw first output (model dtype)."""
        ...


def qparams(details: dict[str, Any]) -> QParams:
    """``(scale, zero_point)`` from LiteRT/TFLM tensor details (``None`` when not quantized)."""
    q = details["quantization_parameters"]
    if details["dtype"] not in (np.int8, np.uint8, np.int16) or len(q["scales"]) == 0:
        return None
    return float(q["scales"][0]), int(q["zero_points"][0])


def quantize(x: np.ndarray, params: QParams, dtype: Any) -> np.ndarray:
    """Float -> model input (``round(x / scale) + zero_point``, clipped), or a float cast."""
    if params is None:
        return np.asarray(x, dtype=dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / params[0]) + params[1], info.min, info.max).astype(dtype)


def dequantize(raw: np.ndarray, params: QParams) -> np.ndarray:
    """Model output -> float32 (``(q - zero_point) * scale``)."""
    if params is None:
        return np.asarray(raw, dtype=np.float32)
    return ((raw.astype(np.float32) - params[1]) * params[0]).astype(np.float32)


class LiteModel:
    """A ``.tflite`` model in the LiteRT interpreter.

    Args:
        model: ``.tflite`` bytes or path.
        reference: use the reference kernels (``BUILTIN_REF``), as tflite-micro does, so integer
            results can be compared bit for bit.
        num_threads: interpreter threads (1 = single-core, MCU-like latency ratios).
    """

    def __init__(self, model: bytes | str | Path, *, reference: bool = False, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        kwargs: dict[str, Any] = {"num_threads": num_threads}
        if reference:
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
        self._interpreter = Interpreter(model_content=content, **kwargs)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        self._in, self._out = inp["index"], out["index"]
        self.input_shape = tuple(int(d) for d in inp["shape"])
        self.input_dtype = inp["dtype"]
        self.input_qparams = qparams(inp)
        self.output_shape = tuple(int(d) for d in out["shape"])
        self.output_qparams = qparams(out)

    def invoke(self, x: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._in, x)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._out).copy()


def runner_input(runner: Runner, values: np.ndarray) -> np.ndarray:
    """Float model-input values (the front end's output) -> the runner's raw input (int8 or float)."""
    return quantize(np.reshape(values, runner.input_shape), runner.input_qparams, runner.input_dtype)


def int8_range(params: tuple[float, int]) -> tuple[float, float]:
    """The float range an int8 tensor with ``(scale, zero_point)`` represents."""
    scale, zero_point = params
    return ((-128 - zero_point) * scale, (127 - zero_point) * scale)
