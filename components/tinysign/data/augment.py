"""Online augmentation of training clips in ``tf.data``: a fresh draw every epoch, train split only.

Each clip ``(T, H, W)`` of a batch gets its own draw, the same for all its frames:

* temporal: a random sub-window (start and end each moved by up to ``augment_time`` of the length),
  ``T`` indices evenly inside it, each jittered by up to one frame (kept in order);
* spatial: rotation ``±augment_rotate`` degrees, scale ``1 ± augment_scale``, shift ``±augment_shift``
  of the side (edge pixels repeated), at full resolution;
* then the front end's area resize (``binning``), so the photometric draw works on a quarter of the
  pixels at ``binning=2``;
* photometric: contrast ``×(1 ± augment_contrast)`` around mid-grey, brightness ``±augment_brightness``
  grey levels, Gaussian noise of ``augment_noise`` grey levels per camera pixel, drawn as its
  average over a block: ``augment_noise / b`` on the mean of ``b²`` pixels.

The result is in grey levels at the binned resolution; the front end (:mod:`tinysign.data.frontend`)
rounds it to whole grey levels and computes the model input, as on the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tinysign.config import Config
from tinysign.data.frontend import binned_means_tf, front_end_tf


@dataclass(frozen=True)
class Augmentation:
    """The ranges of one online augmentation (from the config's ``augment_*`` keys)."""

    time: float
    rotate: float
    scale: float
    shift: float
    contrast: float
    brightness: float
    noise: float

    @classmethod
    def from_config(cls, config: Config) -> Augmentation:
        return cls(
            time=config.augment_time,
            rotate=config.augment_rotate,
            scale=config.augment_scale,
            shift=config.augment_shift,
            contrast=config.augment_contrast,
            brightness=config.augment_brightness,
            noise=config.augment_noise,
        )


def model_input(config: Config, training: bool) -> Any:
    """The ``tf.data`` transform of a BATCH of records' uint8 frames ``(B, T, H, W)`` to the model
    input ``(B, T, H/b, W/b, 1)``: online augmentation (training, when ``config.augment_online``), then
    the front end. Batched ops do the same per-clip work at about half the CPU of a per-clip map."""
    aug = Augmentation.from_config(config) if training and config.augment_online else None

    def transform(frames: Any) -> Any:
        if aug is None:
            return front_end_tf(frames, config.front_end, config.binning)
        return front_end_tf(augment_batch(frames, aug, config.binning), config.front_end, 1)

    return transform


def augment_batch(frames: Any, aug: Augmentation, binning: int) -> Any:
    """One augmented draw of each clip of a batch of frames ``(B, T, H, W)`` (uint8 or grey levels):
    float32 grey levels ``(B, T, H/b, W/b)``, every clip its own random transform for all its frames."""
    import tensorflow as tf

    clips = tf.cast(_temporal(frames, aug.time), tf.float32)
    clips = binned_means_tf(_affine(clips, aug), binning)
    return _photometric(clips, aug, noise=aug.noise / binning)


def _temporal(clips: Any, crop: float) -> Any:
    import tensorflow as tf

    shape = tf.shape(clips)
    b, t = shape[0], shape[1]
    last = tf.cast(t - 1, tf.float32)
    start = tf.random.uniform((b, 1), 0.0, crop) * last
    end = last - tf.random.uniform((b, 1), 0.0, crop) * last
    steps = tf.linspace(0.0, 1.0, t)[tf.newaxis]
    positions = start + (end - start) * steps + tf.random.uniform((b, t), -1.0, 1.0)
    indices = tf.cast(tf.clip_by_value(tf.round(tf.sort(positions, axis=1)), 0.0, last), tf.int32)
    return tf.gather(clips, indices, batch_dims=1)


def _affine(clips: Any, aug: Augmentation) -> Any:
    """Rotation, scale and shift about the centre, one matrix per clip for all its frames."""
    import tensorflow as tf

    shape = tf.shape(clips)
    b, t, h, w = shape[0], shape[1], shape[2], shape[3]
    size = tf.cast(h, tf.float32)
    angle = tf.random.uniform((b,), -aug.rotate, aug.rotate) * (math.pi / 180)
    scale = 1.0 + tf.random.uniform((b,), -aug.scale, aug.scale)
    shift = tf.random.uniform((2, b), -aug.shift, aug.shift) * size
    centre = (size - 1) / 2
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # output pixel (x, y) samples the input at R(-angle) / scale * ((x, y) - centre - shift) + centre
    ox, oy = centre + shift[0], centre + shift[1]
    zero = tf.zeros_like(cos)
    transforms = tf.stack(
        [cos, sin, centre - cos * ox - sin * oy, -sin, cos, centre + sin * ox - cos * oy, zero, zero], axis=1
    )
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.reshape(clips, (b * t, h, w, 1)),
        transforms=tf.repeat(transforms, t, axis=0),  # frame i of clip c uses clip c's matrix
        output_shape=tf.stack([h, w]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return tf.reshape(warped, shape)


def _photometric(clips: Any, aug: Augmentation, noise: float) -> Any:
    import tensorflow as tf

    per_clip = (tf.shape(clips)[0], 1, 1, 1)
    contrast = 1.0 + tf.random.uniform(per_clip, -aug.contrast, aug.contrast)
    brightness = tf.random.uniform(per_clip, -aug.brightness, aug.brightness)
    jitter = tf.random.normal(tf.shape(clips), stddev=noise)
    return tf.clip_by_value((clips - 128.0) * contrast + 128.0 + brightness + jitter, 0.0, 255.0)
