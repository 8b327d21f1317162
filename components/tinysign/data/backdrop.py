"""The backdrop: where a frame of a signer-centred clip shows the plain wall behind the signer.

The robustness bench films a clip in a cluttered room by putting a photograph there
(:func:`tinysign.data.filming.cluttered_background`); training may put a random texture there
(``augment_backdrop``, :mod:`tinysign.data.augment`). One mask for both, in numpy and in TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STATIC_TOLERANCE = 12  # grey levels: a pixel this close to the clip's background estimate is background
BACKDROP_TOLERANCE = 24  # grey levels: background estimate this close to the wall's level is wall


def backdrop_mask(frames: np.ndarray) -> np.ndarray:
    """Where each frame shows the plain wall behind the signer: boolean ``(N, H, W)``.

    The clip's background estimate is the per-pixel median over its frames (the signer's moving hands
    are elsewhere most of the time). The wall is the part of that estimate within ``BACKDROP_TOLERANCE``
    grey levels of the estimate's outer ring (the image border is wall in a signer-centred shot); the
    signer's body and face, though static, differ from it and are kept. A pixel shows the wall in a frame
    when it is wall in the estimate and the frame matches the estimate there (within
    ``STATIC_TOLERANCE``): a hand passing in front of the wall is not wall.
    """
    background = np.median(frames, axis=0)
    ring = np.concatenate([background[0], background[-1], background[1:-1, 0], background[1:-1, -1]])
    wall = np.abs(background - np.median(ring)) <= BACKDROP_TOLERANCE
    return wall[np.newaxis] & (np.abs(frames.astype(np.float32) - background) <= STATIC_TOLERANCE)


def backdrop_mask_tf(clips: Any) -> Any:
    """:func:`backdrop_mask` of a batch of clips ``(B, T, H, W)`` float32: where each
    frame shows the plain wall (the clip's per-pixel median near its outer ring's level, and the frame
    near that median)."""
    import tensorflow as tf

    background = _median_tf(clips)  # (B, H, W)
    ring = tf.concat(
        [background[:, 0], background[:, -1], background[:, 1:-1, 0], background[:, 1:-1, -1]], axis=1
    )
    wall_level = _median_tf(ring)[:, None, None]
    wall = tf.abs(background - wall_level) <= BACKDROP_TOLERANCE
    return wall[:, None] & (tf.abs(clips - background[:, None]) <= STATIC_TOLERANCE)


def _median_tf(x: Any) -> Any:
    """The median over axis 1, as numpy's (the mean of the two middle values of an even count)."""
    import tensorflow as tf

    ordered, n = tf.sort(x, axis=1), tf.shape(x)[1]
    return (tf.gather(ordered, (n - 1) // 2, axis=1) + tf.gather(ordered, n // 2, axis=1)) / 2
