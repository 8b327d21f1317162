"""The front end: what a device computes from camera frames before the frame model sees them.

Like the audio front end of tflite-micro's micro_speech, it is integer arithmetic on uint8 frames, so
the same numbers come out of the training pipeline (TensorFlow), the Python runtime (numpy) and the
firmware (C, ``firmware/frontend.c``):

* ``binning`` ``b``: sum of each ``b x b`` block (``b`` = 1, 2 or 4), i.e. an area resize;
* ``diff`` (default): ``q = floor((S_t - S_{t-1} + b²/2) / b²)`` saturated to int8 — the frame
  difference in grey levels (0 on the first frame). Motion carries the sign; static appearance (who
  signs, the background) cancels out. The frame model's int8 input is ``q`` (scale 1/255, zero
  point 0), its float input ``q / 255``;
* ``raw``: ``r = floor((S_t + b²/2) / b²)`` (0..255), int8 input ``r - 128``, float ``r / 255``
  (the seed's input);
* the **contrast gain** (``diff`` only, when the model carries a ``contrast`` reference): a camera that
  films darker, brighter or flatter scales every difference, so each frame's difference is multiplied by
  ``G = reference / D``, where ``D`` is the frame's contrast — the mean absolute deviation of its block
  means from their mean, in grey levels — and ``reference`` the training frames' mean contrast, measured
  on the calibration clips by ``quantize``. Integer form: ``G`` in Q16, ``floor(2^16 · R / Dn)`` with
  ``Dn = Σ|n·S_i − ΣS|`` over the ``n`` blocks and ``R = round(reference · n² · b²)``, bounded to
  ``[1/2, 2]`` (unity for a flat frame), then ``q = sat_int8((Δ · G + b²·2^15) >> (16 + log2 b²))`` —
  exactly the plain difference when ``G = 2^16``. Training sees the plain difference. Off by default
  (``contrast_gain``): signers differ in contrast too (fsl105-dev: ±15 %), and the gain rescales them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SCALE = 1 / 255  # one grey level
ZERO_POINT = {"diff": 0, "raw": -128}
GAIN_ONE = 1 << 16  # the contrast gain's unity (Q16)
GAIN_BOUNDS = (GAIN_ONE // 2, GAIN_ONE * 2)  # at most x2 darker or brighter contrast is made up for


def input_range(kind: str) -> tuple[float, float]:
    """The float range of the frame model's input (exactly the int8 range at scale 1/255)."""
    zero = ZERO_POINT[kind]
    return ((-128 - zero) * SCALE, (127 - zero) * SCALE)


def _binned_sums(frames: np.ndarray, binning: int) -> np.ndarray:
    """int32 block sums ``(..., H/b, W/b)`` of uint8 frames ``(..., H, W)``."""
    h, w = frames.shape[-2:]
    blocks = frames.astype(np.int32).reshape(*frames.shape[:-2], h // binning, binning, w // binning, binning)
    return blocks.sum(axis=(-3, -1))


def frame_contrast(frames: np.ndarray, binning: int) -> float:
    """Mean contrast of uint8 frames ``(..., H, W)`` as the front end measures it: the mean absolute
    deviation of each frame's ``b x b`` block means from their mean, in grey levels, averaged."""
    sums = _binned_sums(np.asarray(frames), binning)
    blocks = sums.reshape(-1, sums.shape[-2] * sums.shape[-1]).astype(np.float64) / (binning * binning)
    return float(np.abs(blocks - blocks.mean(axis=1, keepdims=True)).mean())


def reference_deviation(contrast: float, blocks: int, binning: int) -> int:
    """The contrast reference in the integer units of a frame's deviation ``Σ|n·S_i − ΣS|``."""
    return round(contrast * blocks * blocks * binning * binning)


def contrast_gains(sums: np.ndarray, binning: int, contrast: float) -> np.ndarray:
    """int64 Q16 gain of each frame's block sums ``(T, h, w)`` towards the ``contrast`` reference."""
    flat = sums.reshape(len(sums), -1).astype(np.int64)
    n = flat.shape[1]
    deviation = np.abs(n * flat - flat.sum(axis=1, keepdims=True)).sum(axis=1)
    reference = reference_deviation(contrast, n, binning)
    gains = (reference << 16) // np.maximum(deviation, 1)
    return np.where(deviation > 0, np.clip(gains, *GAIN_BOUNDS), GAIN_ONE)


def _from_sums(sums: np.ndarray, kind: str, binning: int, contrast: float = 0.0) -> np.ndarray:
    """int32 front-end values of consecutive frames' block sums ``(T, h, w)``."""
    area, half = binning * binning, binning * binning // 2
    if kind == "raw":
        return (sums + half) // area
    previous = np.concatenate([sums[:1], sums[:-1]], axis=0)  # the first frame has no motion
    if not contrast:
        return np.clip((sums - previous + half) // area, -128, 127)
    # the first row differs from itself (0 at any gain): only the later frames' gains are computed
    gains = np.concatenate([[GAIN_ONE], contrast_gains(sums[1:], binning, contrast)])[:, None, None]
    shift = 16 + area.bit_length() - 1  # area is a power of two
    gained = ((sums - previous).astype(np.int64) * gains + (area << 15)) >> shift
    return np.clip(gained, -128, 127).astype(np.int32)


def front_end(frames: np.ndarray, kind: str, binning: int, contrast: float = 0.0) -> np.ndarray:
    """Float32 model input of a uint8 clip ``(T, H, W)``: ``(T, H/b, W/b)`` (``q / 255`` or ``r / 255``);
    ``contrast``: the reference of the contrast gain (0: none)."""
    values = _from_sums(_binned_sums(np.asarray(frames), binning), kind, binning, contrast)
    return values.astype(np.float32) * np.float32(SCALE)


@dataclass(frozen=True)
class FrontEnd:
    """A model's front end, as ``quantize`` records it: its ``kind``, ``binning`` and contrast reference."""

    kind: str = "raw"
    binning: int = 1
    contrast: float = 0.0  # the contrast gain's reference, grey levels (0: no gain)

    @classmethod
    def of(cls, summary: dict[str, Any]) -> FrontEnd:
        """The front end a quantize summary records (models from before a key: its default)."""
        return cls(
            str(summary.get("front_end", "raw")),
            int(summary.get("binning", 1)),
            float(summary.get("contrast", 0.0)),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def clip(self, frames: np.ndarray) -> np.ndarray:
        """A whole clip at once: :func:`front_end` with this front end."""
        return front_end(frames, self.kind, self.binning, self.contrast)

    def stream(self) -> FrontEndStream:
        """This front end one frame at a time (as on the device)."""
        return FrontEndStream(self)


class FrontEndStream:
    """A front end one frame at a time, as on a device: it remembers the previous frame's sums."""

    def __init__(self, front: FrontEnd) -> None:
        self.front = front
        self.previous: np.ndarray | None = None

    def reset(self) -> None:
        self.previous = None

    def clip(self, frames: np.ndarray) -> np.ndarray:
        """A whole clip at once, as if streamed from a reset."""
        return self.front.clip(frames)

    def push(self, frame: np.ndarray) -> np.ndarray:
        """uint8 frame ``(H, W)`` -> float32 model input ``(H/b, W/b)``: row ``t`` of :func:`front_end`."""
        front = self.front
        sums = _binned_sums(np.asarray(frame), front.binning)
        pair = np.stack([sums if self.previous is None else self.previous, sums])
        self.previous = sums
        values = _from_sums(pair, front.kind, front.binning, front.contrast)[-1]
        return values.astype(np.float32) * np.float32(SCALE)


def binned_means_tf(frames: Any, binning: int) -> Any:
    """Block means of a batch of clips ``(B, T, H, W)`` (any real dtype) as float32 ``(B, T, H/b, W/b)``:
    the front end's area resize (an average pool, much cheaper than a reshape-and-sum)."""
    import tensorflow as tf

    x = tf.cast(frames, tf.float32)
    if binning == 1:
        return x
    shape = tf.shape(x)
    pooled = tf.nn.avg_pool2d(tf.reshape(x, (-1, shape[2], shape[3], 1)), binning, binning, "VALID")
    return tf.reshape(pooled, (shape[0], shape[1], shape[2] // binning, shape[3] // binning))


def front_end_tf(frames: Any, kind: str, binning: int) -> Any:
    """The same front end in TensorFlow for ``tf.data``: a batch of uint8 or float clips ``(B, T, H, W)``
    (float input is rounded to the nearest grey level first, as a camera would deliver it) -> float32
    ``(B, T, H/b, W/b, 1)``."""
    import tensorflow as tf

    frames = tf.convert_to_tensor(frames)
    if not frames.dtype.is_integer:  # augmented grey levels: round to what a camera would deliver
        frames = tf.clip_by_value(tf.round(frames), 0.0, 255.0)
    area, half = binning * binning, binning * binning // 2
    # the integer block sums, exactly: sums of grey levels are integers far below 2**24
    sums = tf.cast(tf.round(binned_means_tf(frames, binning) * area), tf.int32)
    if kind == "raw":
        values = tf.math.floordiv(sums + half, area)
    else:
        previous = tf.concat([sums[:, :1], sums[:, :-1]], axis=1)
        values = tf.clip_by_value(tf.math.floordiv(sums - previous + half, area), -128, 127)
    return (tf.cast(values, tf.float32) * SCALE)[..., tf.newaxis]
