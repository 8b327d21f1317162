"""Online augmentation of training clips in ``tf.data``: a fresh draw every epoch, train split only.

One clip ``(T, H, W)`` float32 in grey levels gets, with the same transform for all its frames:

* temporal: a random sub-window (start and end each moved by up to ``augment_time`` of the length),
  ``T`` indices evenly inside it, each jittered by up to one frame (kept in order);
* spatial: rotation ``±augment_rotate`` degrees, scale ``1 ± augment_scale``, shift ``±augment_shift``
  of the side (edge pixels repeated);
* photometric: contrast ``×(1 ± augment_contrast)`` around mid-grey, brightness ``±augment_brightness``
  grey levels, Gaussian noise of ``augment_noise`` grey levels per pixel.

The result stays in grey levels; the front end (:mod:`tinysign.data.frontend`) rounds it to what a
camera would deliver and computes the model input, exactly as on the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tinysign.config import Config
from tinysign.data.frontend import front_end_tf


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
    """The ``tf.data`` transform from a record's uint8 frames ``(T, H, W)`` to the model input
    ``(T, H/b, W/b, 1)``: online augmentation (training, when ``config.augment_online``), then the
    front end."""
    aug = Augmentation.from_config(config) if training and config.augment_online else None

    def transform(frames: Any) -> Any:
        import tensorflow as tf

        clip = tf.cast(frames, tf.float32)
        if aug is not None:
            clip = augment_clip(clip, aug)
        return front_end_tf(clip, config.front_end, config.binning)

    return transform


def augment_clip(clip: Any, aug: Augmentation) -> Any:
    """One augmented draw of ``clip`` (float32 ``(T, H, W)``, grey levels) as a float32 tensor."""
    import tensorflow as tf

    t = tf.shape(clip)[0]
    clip = _temporal(clip, t, aug.time)
    clip = _affine(clip, aug)
    return _photometric(clip, aug)


def _temporal(clip: Any, t: Any, crop: float) -> Any:
    import tensorflow as tf

    last = tf.cast(t - 1, tf.float32)
    start = tf.random.uniform((), 0.0, crop) * last
    end = last - tf.random.uniform((), 0.0, crop) * last
    positions = tf.linspace(start, end, t) + tf.random.uniform((t,), -1.0, 1.0)
    indices = tf.cast(tf.clip_by_value(tf.round(tf.sort(positions)), 0.0, last), tf.int32)
    return tf.gather(clip, indices)


def _affine(clip: Any, aug: Augmentation) -> Any:
    """Rotation, scale and shift about the centre, one matrix for every frame."""
    import tensorflow as tf

    size = tf.cast(tf.shape(clip)[1], tf.float32)
    angle = tf.random.uniform((), -aug.rotate, aug.rotate) * (math.pi / 180)
    scale = 1.0 + tf.random.uniform((), -aug.scale, aug.scale)
    shift = tf.random.uniform((2,), -aug.shift, aug.shift) * size
    centre = (size - 1) / 2
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # output pixel (x, y) samples the input at R(-angle) / scale * ((x, y) - centre - shift) + centre
    ox, oy = centre + shift[0], centre + shift[1]
    transform = tf.stack(
        [cos, sin, centre - cos * ox - sin * oy, -sin, cos, centre + sin * ox - cos * oy, 0.0, 0.0]
    )
    images = clip[..., tf.newaxis]
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=tf.reshape(transform, (1, 8)),
        output_shape=tf.shape(clip)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return warped[..., 0]


def _photometric(clip: Any, aug: Augmentation) -> Any:
    import tensorflow as tf

    contrast = 1.0 + tf.random.uniform((), -aug.contrast, aug.contrast)
    brightness = tf.random.uniform((), -aug.brightness, aug.brightness)
    noisy = (
        (clip - 128.0) * contrast + 128.0 + brightness + tf.random.normal(tf.shape(clip), stddev=aug.noise)
    )
    return tf.clip_by_value(noisy, 0.0, 255.0)
