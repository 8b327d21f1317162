"""The deployment path: whole-clip model, or streaming frame model -> ring buffer -> head.

The same classes drive LiteRT (evaluate, predict) and tflite-micro (mcu): anything that is a
:class:`tinysign.runtime.litert.Runner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinysign.data.frontend import FrontEndStream
from tinysign.errors import TinysignError
from tinysign.model.files import QuantizedModel
from tinysign.runtime.litert import LiteModel, Runner, dequantize, quantize, runner_input


class RingBuffer:
    """The last ``T`` feature vectors (oldest first) in the head's input dtype: ``T x F`` elements."""

    def __init__(self, num_frames: int, feature_dim: int, dtype: Any) -> None:
        self.data = np.zeros((num_frames, feature_dim), dtype=dtype)
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= len(self.data)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def push(self, feature: np.ndarray) -> None:
        self.data = np.roll(self.data, -1, axis=0)  # on an MCU: a circular index, no copy
        self.data[-1] = feature.reshape(-1)
        self.count += 1

    def reset(self) -> None:
        self.data[:] = 0
        self.count = 0


class StreamingClassifier:
    """Deployment path of the streaming model: front end -> frame model per frame -> ring buffer -> head.

    The frame model's raw output goes into the ring buffer unchanged when its quantization equals
    the head's input quantization (``tinysign quantize`` makes it so); otherwise it is requantized.
    """

    def __init__(self, frame: Runner, head: Runner, front: FrontEndStream) -> None:
        self.frame, self.head, self.front = frame, head, front
        _, t, f = head.input_shape
        self.buffer = RingBuffer(t, f, head.input_dtype)
        self.requantize = frame.output_qparams != head.input_qparams

    def reset(self) -> None:
        self.buffer.reset()
        self.front.reset()

    def feature(self, frame: np.ndarray) -> np.ndarray:
        """One uint8 frame ``(H, W)`` through the front end and the frame model, into the ring buffer."""
        feature = self.frame.invoke(runner_input(self.frame, self.front.push(frame)))
        if self.requantize:
            feature = quantize(
                dequantize(feature, self.frame.output_qparams), self.head.input_qparams, self.head.input_dtype
            )
        self.buffer.push(feature)
        return feature

    def push(self, frame: np.ndarray) -> np.ndarray | None:
        """Feed one uint8 frame ``(H, W)``; returns the head's raw output once the buffer is full."""
        self.feature(frame)
        if not self.buffer.full:
            return None
        return self.head.invoke(self.buffer.data[np.newaxis])

    def window(self, clip: np.ndarray) -> np.ndarray:
        """The ring buffer (raw, ``(T, F)``) after streaming one clip ``(T, H, W)`` from an empty state."""
        self.reset()
        for frame in clip:
            self.feature(frame)
        if not self.buffer.full:
            raise TinysignError(
                f"a clip of {len(clip)} frames cannot fill the {len(self.buffer.data)}-frame "
                "ring buffer: re-extract the records with the model's num_frames"
            )
        return self.buffer.data.copy()

    def classify(self, clip: np.ndarray) -> np.ndarray:
        """Raw head output for one clip ``(T, H, W)`` streamed from an empty state."""
        return self.head.invoke(self.window(clip)[np.newaxis])


class ClipClassifier:
    """Whole-clip model (``s3dconv1d``) or streaming pair behind one ``classify(clip) -> raw`` call."""

    def __init__(self, runners: Sequence[Runner], front: FrontEndStream) -> None:
        self.streaming = StreamingClassifier(*runners, front) if len(runners) == 2 else None
        self.runner, self.front = runners[0], front
        self.output_qparams = runners[-1].output_qparams

    def classify(self, clip: np.ndarray) -> np.ndarray:
        if self.streaming is not None:
            return self.streaming.classify(clip)
        return self.runner.invoke(runner_input(self.runner, self.front.clip(clip)))


def int8_features(frame_int8: bytes, inputs: np.ndarray) -> np.ndarray:
    """Dequantized outputs of the INT8 frame model in LiteRT on front-end ``inputs`` ``(k, T, h, w, 1)``:
    ``(k, T, F)`` float32, what the head gets on the device."""
    model = LiteModel(frame_int8)
    flat = inputs.reshape(-1, 1, *inputs.shape[2:])
    out = [dequantize(model.invoke(runner_input(model, x)), model.output_qparams) for x in flat]
    return np.concatenate(out).reshape(*inputs.shape[:2], -1).astype(np.float32)


def lite_classifier(quant: QuantizedModel, precision: str, *, reference: bool = False) -> ClipClassifier:
    """LiteRT classifier for ``precision`` (int8 | float32) of a quantize output."""
    runners = [LiteModel(quant.path(part, precision), reference=reference) for part in quant.parts]
    return ClipClassifier(runners, quant.front.stream())
