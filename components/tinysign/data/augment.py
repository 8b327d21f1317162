"""All augmentation of training clips (train split only), within :class:`Ranges` from the config.

Pure functions of the ranges; the caller reads them from the config. Offline, in extraction
(``augment_copies`` > 0; ranges ``augment_copy_*``, ``Config.copy_ranges``): each
augmented copy of a clip is one seeded draw (:class:`CopyAugmentation`): a temporal trim at each
end (planned with the copy's frames), then the same rotation, scale, shift, contrast and brightness
on every frame (:func:`augment_copy`), mirrored only with ``augment_flip``.

Online, in ``tf.data`` (``augment_online``; ranges ``augment_*``, ``Config.online_ranges``): a fresh
draw every epoch (:func:`augment_batch`).
Each clip ``(T, H, W)`` of a batch gets its own draw, the same for all its frames:

* backdrop (``augment_backdrop``: the share of clips): the plain wall behind the signer, wherever a frame
  shows it (:mod:`tinysign.data.backdrop`), replaced by a random cluttered
  room — a dead-leaves picture, objects of every size in front of each other — so a room that is not a
  studio does not surprise the model (a hand over clutter differs from a hand over a wall);
* coarse camera (``augment_coarse``: the share of clips): the clip as a coarser camera films it, between
  as sharp as the records and :data:`COARSEST` x fewer pixels a side (a random blend of the two; the
  coarse picture area-averaged down and bilinearly scaled back up);
* temporal: a random sub-window (start and end each moved by up to ``augment_time`` of the length),
  ``T`` indices evenly inside it, each jittered by up to one frame (kept in order);
* spatial: rotation ``±augment_rotate`` degrees, scale ``1 ± augment_scale``, shift ``±augment_shift``
  of the side (edge pixels repeated), at full resolution;
* then the front end's area resize (``binning``), so the photometric draw works on a quarter of the
  pixels at ``binning=2``;
* photometric: contrast ``×(1 ± augment_contrast)`` around mid-grey, brightness ``±augment_brightness``
  grey levels, Gaussian noise of ``augment_noise`` grey levels per camera pixel, drawn as its
  average over a block: ``augment_noise / b`` on the mean of ``b²`` pixels (``augment_noise_draw=uniform``:
  each clip's sigma drawn from ``U(0, augment_noise)``, so the model sees clean and noisy cameras).

The online result is in grey levels at the binned resolution; the front end
(:mod:`tinysign.data.frontend`) rounds it to whole grey levels and computes the model input, as on
the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from tinysign.data.backdrop import backdrop_mask_tf
from tinysign.data.frontend import binned_means_tf


@dataclass(frozen=True)
class Ranges:
    """How far one augmentation may go (from the config): each draw is uniform within ``±`` these."""

    time: float  # fraction of the length trimmed (offline) or moved (online) at each end
    rotate: float  # degrees
    scale: float  # 1 ± scale
    shift: float  # fraction of the side
    contrast: float  # ×(1 ± contrast) around mid-grey
    brightness: float  # grey levels
    noise: float = 0.0  # Gaussian noise, grey levels per camera pixel (online only)
    # fixed: sigma = noise for every clip; uniform: each clip's sigma drawn from U(0, noise)
    noise_draw: str = "fixed"
    backdrop: float = 0.0  # share of clips whose plain wall becomes a random cluttered texture (online)
    coarse: float = 0.0  # share of clips seen through a coarser camera (online)


# the coarsest camera ``augment_coarse`` simulates: 2x fewer pixels a side (chosen on validation signers: 3x
# closed the coarse-camera gap too but cost 4.5 pp of clean accuracy, 2x about 1 pp; docs/accuracy.md)
COARSEST = 2


# --- offline: augmented copies written by extraction -------------------------------------------------


@dataclass(frozen=True)
class CopyAugmentation:
    """One draw for an offline augmented copy; the same spatial transform applies to every frame."""

    angle: float
    scale: float
    shift_x: float
    shift_y: float
    brightness: float
    contrast: float
    trim_start: float
    trim_end: float
    flip: bool

    @classmethod
    def draw(cls, rng: np.random.Generator, ranges: Ranges, allow_flip: bool) -> CopyAugmentation:
        return cls(
            angle=float(rng.uniform(-ranges.rotate, ranges.rotate)),
            scale=float(rng.uniform(1 - ranges.scale, 1 + ranges.scale)),
            shift_x=float(rng.uniform(-ranges.shift, ranges.shift)),
            shift_y=float(rng.uniform(-ranges.shift, ranges.shift)),
            brightness=float(rng.uniform(-ranges.brightness, ranges.brightness)),
            contrast=float(rng.uniform(1 - ranges.contrast, 1 + ranges.contrast)),
            trim_start=float(rng.uniform(0, ranges.time)),
            trim_end=float(rng.uniform(0, ranges.time)),
            flip=bool(allow_flip and rng.random() < 0.5),
        )

    def describe(self) -> str:
        return (
            f"rot={self.angle:.1f},scale={self.scale:.2f},shift=({self.shift_x:.2f},{self.shift_y:.2f}),"
            f"bright={self.brightness:.0f},contrast={self.contrast:.2f},"
            f"trim=({self.trim_start:.2f},{self.trim_end:.2f}),flip={int(self.flip)}"
        )


def augment_copy(clip: np.ndarray, aug: CopyAugmentation) -> np.ndarray:
    """Apply rotation/scale/shift, brightness/contrast and optional flip to every frame of ``clip``
    ``(T, H, W)`` uint8 (the trim is in the frames the copy was planned with)."""
    size = clip.shape[1]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), aug.angle, aug.scale)
    matrix[:, 2] += (aug.shift_x * size, aug.shift_y * size)
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        warped = cv2.warpAffine(frame, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
        out[t] = cv2.flip(warped, 1) if aug.flip else warped
    levels = (np.arange(256, dtype=np.float32) - 128.0) * aug.contrast + 128.0 + aug.brightness
    return np.clip(levels, 0, 255).astype(np.uint8)[out]  # brightness/contrast as a lookup table


# --- online: a fresh draw every epoch in tf.data -----------------------------------------------------


def augment_batch(frames: Any, ranges: Ranges, binning: int) -> Any:
    """One augmented draw of each clip of a batch of frames ``(B, T, H, W)`` (uint8 or grey levels):
    float32 grey levels ``(B, T, H/b, W/b)``, every clip its own random transform for all its frames."""
    import tensorflow as tf

    clips = tf.cast(_temporal(frames, ranges.time), tf.float32)
    if ranges.backdrop:
        clips = _cluttered_backdrop(clips, ranges.backdrop)
    if ranges.coarse:
        clips = _coarser_camera(clips, ranges.coarse)
    clips = binned_means_tf(_affine(clips, ranges), binning)
    return _photometric(clips, ranges, noise=ranges.noise / binning)


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


def clutter_textures(count: Any, size: Any, leaves: int = 64) -> Any:
    """``count`` random cluttered rooms ``(count, size, size)`` float32 grey levels: a dead-leaves image
    (Lee, Mumford & Huang 2001: objects of power-law sizes occluding each other, the statistics of natural
    images) of ``leaves`` discs and upright rectangles, each a random grey level, with a little shading."""
    import tensorflow as tf

    shape = (count, leaves, 1, 1)
    side = tf.cast(size, tf.float32)
    grid = tf.range(side)
    y, x = grid[None, None, :, None], grid[None, None, None, :]
    cy, cx = tf.random.uniform(shape) * side, tf.random.uniform(shape) * side
    # radius r with density ~ r^-3 from 1.5 px to half the frame (inverse-CDF draw): mostly small objects
    smallest, largest = 1.5**-2, (side / 2) ** -2
    radius = (smallest - tf.random.uniform(shape) * (smallest - largest)) ** -0.5
    aspect = tf.exp(tf.random.uniform(shape, -0.7, 0.7))
    dy, dx = (y - cy) / (radius * aspect), (x - cx) / (radius / aspect)
    disc = dy**2 + dx**2 <= 1.0
    box = (tf.abs(dy) <= 1.0) & (tf.abs(dx) <= 1.0)
    covers = tf.where(tf.random.uniform(shape) < 0.5, disc, box)  # (count, leaves, size, size)
    order = tf.cast(tf.range(1, leaves + 1), tf.float32)[None, :, None, None]
    top = tf.argmax(tf.where(covers, order, 0.0), axis=1)  # the last leaf painted over each pixel (0: none)
    levels = tf.random.uniform((count, leaves), 0.0, 255.0)
    picture = tf.gather(levels, top, batch_dims=1)
    shading = tf.image.resize(tf.random.uniform((count, 4, 4, 1), -20.0, 20.0), tf.stack([size, size]))[
        ..., 0
    ]
    return tf.clip_by_value(picture + shading, 0.0, 255.0)


def _cluttered_backdrop(clips: Any, share: float) -> Any:
    """The plain wall of a ``share`` of the clips replaced by a random cluttered texture (one per clip)."""
    import tensorflow as tf

    shape = tf.shape(clips)
    chosen = tf.random.uniform((shape[0], 1, 1, 1)) < share
    textures = clutter_textures(shape[0], shape[2])[:, None]
    return tf.where(chosen & backdrop_mask_tf(clips), textures, clips)


def _coarser_camera(clips: Any, share: float) -> Any:
    """A ``share`` of the clips as a coarser camera films them: each blended by its own random amount
    toward the clip with :data:`COARSEST` x fewer pixels a side (area-averaged, bilinearly scaled back)."""
    import tensorflow as tf

    shape = tf.shape(clips)
    b, t, h, w = shape[0], shape[1], shape[2], shape[3]
    frames = tf.reshape(clips, (b * t, h, w, 1))
    small = tf.image.resize(frames, tf.stack([h // COARSEST, w // COARSEST]), method="area")
    coarse = tf.reshape(tf.image.resize(small, tf.stack([h, w]), method="bilinear"), shape)
    chosen = tf.cast(tf.random.uniform((b, 1, 1, 1)) < share, tf.float32)
    amount = chosen * tf.random.uniform((b, 1, 1, 1))
    return clips + amount * (coarse - clips)


def _affine(clips: Any, ranges: Ranges) -> Any:
    """Rotation, scale and shift about the centre, one matrix per clip for all its frames."""
    import tensorflow as tf

    shape = tf.shape(clips)
    b, t, h, w = shape[0], shape[1], shape[2], shape[3]
    size = tf.cast(h, tf.float32)
    angle = tf.random.uniform((b,), -ranges.rotate, ranges.rotate) * (math.pi / 180)
    scale = 1.0 + tf.random.uniform((b,), -ranges.scale, ranges.scale)
    shift = tf.random.uniform((2, b), -ranges.shift, ranges.shift) * size
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


def _photometric(clips: Any, ranges: Ranges, noise: float) -> Any:
    import tensorflow as tf

    per_clip = (tf.shape(clips)[0], 1, 1, 1)
    contrast = 1.0 + tf.random.uniform(per_clip, -ranges.contrast, ranges.contrast)
    brightness = tf.random.uniform(per_clip, -ranges.brightness, ranges.brightness)
    sigma = noise if ranges.noise_draw == "fixed" else tf.random.uniform(per_clip, 0.0, noise)
    jitter = tf.random.normal(tf.shape(clips)) * sigma
    return tf.clip_by_value((clips - 128.0) * contrast + 128.0 + brightness + jitter, 0.0, 255.0)
