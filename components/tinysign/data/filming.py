"""How another camera would have filmed a clip: transforms of its decoded grey frames.

Every clip of the real sets was filmed by one camera in one room. A device meets other cameras,
lighting and rooms on day one. Each function here returns a :data:`Film`: a function of a clip's
decoded frames ``(N, H, W)`` uint8 (the grey ``img_size`` squares :mod:`tinysign.data.video` makes, in
time order, before the front end) returning them as that camera would have delivered them. They are
applied by :func:`tinysign.data.clips.sign_windows` (``make bench-robustness``). A different camera
*rate* is not a transform of frames: it is planned again (``eval_fps``,
:func:`tinysign.data.clips.plan_ticks`).

* :func:`gain`: exposure / sensor gain — every grey level times ``factor``, clipped to 0..255;
* :func:`contrast`: flatter or harder light — grey levels scaled around mid-grey (128);
* :func:`sensor_noise`: independent Gaussian noise on every pixel of every frame;
* :func:`reframe`: the camera moved (shift, as a fraction of the width) or zoomed about the centre;
  pixels the source does not have repeat the nearest edge pixel;
* :func:`lower_resolution`: a source with ``factor`` times fewer pixels a side, scaled back up;
* :func:`cluttered_background`: the plain studio wall replaced by a photograph where the frame is
  static (see the function).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from tinysign.data.backdrop import backdrop_mask
from tinysign.data.video import to_grey_square

Film = Callable[[np.ndarray], np.ndarray]  # decoded frames (N, H, W) uint8 -> as another camera films them

MID_GREY = 128.0


def as_filmed(frames: np.ndarray) -> np.ndarray:
    """The clip as its own camera filmed it (the clean condition)."""
    return frames


def _lookup(table: np.ndarray) -> Film:
    levels = np.clip(np.round(table), 0, 255).astype(np.uint8)
    return lambda frames: levels[frames]


def gain(factor: float) -> Film:
    """Brightness ``x factor``: every grey level multiplied (exposure, gain), saturating at white."""
    return _lookup(np.arange(256, dtype=np.float64) * factor)


def contrast(factor: float) -> Film:
    """Contrast ``x factor`` around mid-grey."""
    return _lookup((np.arange(256, dtype=np.float64) - MID_GREY) * factor + MID_GREY)


def sensor_noise(sigma: float, rng: np.random.Generator) -> Film:
    """Gaussian noise of ``sigma`` grey levels, drawn independently for every pixel of every frame."""

    def film(frames: np.ndarray) -> np.ndarray:
        noisy = frames.astype(np.float32) + rng.normal(0.0, sigma, frames.shape).astype(np.float32)
        return np.clip(np.round(noisy), 0, 255).astype(np.uint8)

    return film


def reframe(shift: float = 0.0, zoom: float = 1.0) -> Film:
    """The picture moved right by ``shift`` of its width and scaled by ``zoom`` about its centre
    (``zoom`` > 1: closer; < 1: farther, the edge pixels repeated where the source has nothing)."""

    def film(frames: np.ndarray) -> np.ndarray:
        h, w = frames.shape[1:]
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, zoom)
        matrix[0, 2] += shift * w
        return np.stack(
            [
                cv2.warpAffine(f, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                for f in frames
            ]
        )

    return film


def lower_resolution(factor: int) -> Film:
    """A source with ``factor`` x fewer pixels a side: each frame area-averaged down, then bilinearly
    scaled back up to its size (what a device gets from a camera coarser than its input)."""

    def film(frames: np.ndarray) -> np.ndarray:
        h, w = frames.shape[1:]
        small = (w // factor, h // factor)
        return np.stack(
            [
                cv2.resize(
                    cv2.resize(f, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR
                )
                for f in frames
            ]
        )

    return film


def cluttered_background(photo: np.ndarray) -> Film:
    """The wall behind the signer replaced by ``photo`` (any size, grey or BGR; centre square, grey, the
    frames' size as :func:`tinysign.data.video.to_grey_square` makes frames) wherever a frame shows it
    (:func:`tinysign.data.backdrop.backdrop_mask`): a static cluttered room instead of a plain studio
    backdrop."""

    def film(frames: np.ndarray) -> np.ndarray:
        room = to_grey_square(photo, frames.shape[1])
        return np.where(backdrop_mask(frames), room[np.newaxis], frames).astype(np.uint8)

    return film
