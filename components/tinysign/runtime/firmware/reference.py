"""What the firmware must print: Python tflite-micro and the Python recognizer on the same stream.

The project's deployment path (:class:`~tinysign.runtime.streaming.StreamingClassifier`: front end ->
frame model -> ring buffer of the last T feature vectors, oldest first -> head) in the tflite-micro Python
interpreter (reference kernels), fed the stream the firmware plays, and the head's outputs through
:func:`~tinysign.runtime.recognizer.recognize` with the settings the firmware was generated with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.model.files import QuantizedModel
from tinysign.runtime.firmware.stream import Stream
from tinysign.runtime.micro import MicroModel
from tinysign.runtime.recognizer import Emission, RecognizerSettings, recognize
from tinysign.runtime.streaming import StreamingClassifier

REFERENCE_ARENA = 1 << 20  # host arena for the Python interpreter (its size does not change results)


def streaming_models(quant: QuantizedModel) -> tuple[bytes, bytes]:
    """The INT8 ``(frame, head)`` ``.tflite`` bytes of a streaming quantize output."""
    if quant.kind != "streaming":
        raise TinysignError(f"model kind {quant.kind!r}: the firmware runs the streaming pair (frame + head)")
    return quant.read("frame", "int8"), quant.read("head", "int8")


def reference_stream(quant: QuantizedModel) -> StreamingClassifier:
    """The deployment path in the tflite-micro Python interpreter."""
    frame, head = (MicroModel(model, REFERENCE_ARENA) for model in streaming_models(quant))
    return StreamingClassifier(frame, head, quant.front.stream())


def recognizer_settings(quant: QuantizedModel, config: Config) -> RecognizerSettings:
    """The config's recognizer (``spot_window``, ``spot_threshold``, ``spot_suppression``) in the units of
    the int8 head's output, as the firmware gets it."""
    head = MicroModel(streaming_models(quant)[1], REFERENCE_ARENA)
    return RecognizerSettings.for_head(quant.labels, head.output_qparams, config)


@dataclass(frozen=True)
class Reference:
    """Every frame's features, every full ring buffer's head output, and the recognizer's emissions."""

    features: dict[int, np.ndarray]
    head: dict[int, np.ndarray]
    emissions: list[Emission]
    settings: RecognizerSettings
    reset_per_clip: bool


def reference_run(
    quant: QuantizedModel, stream: Stream, settings: RecognizerSettings, reset_per_clip: bool = False
) -> Reference:
    """The stream played as one (or from an empty state at every clip, ``reset_per_clip``, as the
    firmware does then: ring buffer, front end and recognizer reset)."""
    path = reference_stream(quant)
    zero_point = path.head.output_qparams[1] if path.head.output_qparams else 0
    features: dict[int, np.ndarray] = {}
    outputs: dict[int, np.ndarray] = {}
    emissions: list[Emission] = []
    segments = stream.starts if reset_per_clip else (0,)
    for start, end in zip(segments, (*segments[1:], len(stream.frames)), strict=True):
        path.reset()
        segment: list[tuple[int, np.ndarray]] = []
        for number in range(start, end):
            features[number] = path.feature(stream.frames[number]).reshape(-1)
            if path.buffer.full:
                outputs[number] = path.head.invoke(path.buffer.data[np.newaxis]).reshape(-1)
                segment.append((number, outputs[number]))
        emissions += recognize(settings, segment, zero_point)
    return Reference(features, outputs, emissions, settings, reset_per_clip)


def project_outputs(quant: QuantizedModel, stream: Stream) -> list[np.ndarray | None]:
    """Raw head output per clip streamed from an empty state (``StreamingClassifier.classify``); ``None``
    for a clip shorter than the ring buffer."""
    path = reference_stream(quant)
    t = path.buffer.data.shape[0]
    clips = [stream.clip(k) for k in range(len(stream.starts))]
    return [path.classify(clip).reshape(-1) if len(clip) >= t else None for clip in clips]
