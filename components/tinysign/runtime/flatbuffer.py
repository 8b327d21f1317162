"""What a ``.tflite`` flatbuffer holds: operators in order, their shapes and MACs."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysign.errors import TinysignError


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
