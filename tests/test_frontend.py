"""The device front end's contrast gain: a darker, brighter or flatter camera gives the differences the
training camera gave; without a reference it is the plain frame difference; one frame at a time equals
the whole clip. (The firmware's C front end is checked bit-exact against this one by the firmware test.)"""

import numpy as np
import pytest

from tinysign.data import filming
from tinysign.data.frontend import (
    GAIN_BOUNDS,
    GAIN_ONE,
    FrontEnd,
    contrast_gains,
    frame_contrast,
    front_end,
)


def _clip(frames: int = 12, size: int = 64, seed: int = 0) -> np.ndarray:
    """A textured still background with a bright square moving across it."""
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 110, (size, size)).astype(np.uint8)
    clip = np.repeat(background[np.newaxis], frames, axis=0)
    for t in range(frames):
        clip[t, 20:36, 4 + 3 * t : 20 + 3 * t] = 160
    return clip


def test_without_a_reference_it_is_the_plain_frame_difference():
    clip = _clip()
    plain = front_end(clip, "diff", 2)
    block_diffs = (clip[1:].astype(int) - clip[:-1]).reshape(11, 32, 2, 32, 2).sum(axis=(2, 4))
    np.testing.assert_array_equal(
        np.round(plain[1:] * 255), np.clip(np.floor((block_diffs + 2) / 4), -128, 127)
    )
    assert not plain[0].any()  # the first frame has no motion


def test_at_the_reference_contrast_the_gain_is_one():
    clip = _clip()
    sums = clip.astype(np.int32).reshape(12, 32, 2, 32, 2).sum(axis=(2, 4))
    own = frame_contrast(clip, 2)
    gains = contrast_gains(sums, 2, own)
    assert np.all(np.abs(gains / GAIN_ONE - 1) < 0.05)  # each frame's contrast is within 5 % of the clip's
    with_gain, plain = front_end(clip, "diff", 2, own), front_end(clip, "diff", 2)
    assert np.abs(with_gain - plain).max() * 255 <= 8  # a few grey levels on the largest differences


@pytest.mark.parametrize("camera", [filming.gain(0.6), filming.gain(1.4), filming.contrast(0.7)])
def test_another_camera_gives_the_training_cameras_differences(camera):
    clip = _clip()
    reference = frame_contrast(clip, 2)  # what quantize measures on the training frames
    trained_on = front_end(clip, "diff", 2, reference)
    filmed = camera(clip)
    error_with = np.abs(front_end(filmed, "diff", 2, reference) - trained_on).mean()
    error_without = np.abs(front_end(filmed, "diff", 2) - trained_on).mean()
    assert error_with < error_without / 3


def test_the_gain_is_bounded_and_a_flat_frame_gets_none():
    flat = np.full((2, 8, 8), 90, np.int32)
    faint = flat.copy()
    faint[:, 0, 0] = 91
    assert contrast_gains(flat, 1, 20.0).tolist() == [GAIN_ONE, GAIN_ONE]
    assert contrast_gains(faint, 1, 20.0).tolist() == [GAIN_BOUNDS[1]] * 2
    assert contrast_gains(faint * 50, 1, 1e-3).tolist() == [GAIN_BOUNDS[0]] * 2


@pytest.mark.parametrize("binning", [1, 2, 4])
def test_one_frame_at_a_time_equals_the_whole_clip(binning):
    clip = filming.gain(0.6)(_clip(seed=binning))
    reference = frame_contrast(_clip(seed=binning), binning)
    stream = FrontEnd("diff", binning, reference).stream()
    streamed = np.stack([stream.push(frame) for frame in clip])
    np.testing.assert_array_equal(streamed, front_end(clip, "diff", binning, reference))


def test_a_whole_clip_is_the_stream_from_a_reset():
    clip, reference = filming.gain(0.6)(_clip()), frame_contrast(_clip(), 2)
    stream = FrontEnd("diff", 2, reference).stream()
    stream.push(clip[0])  # state the whole-clip call must not see
    np.testing.assert_array_equal(stream.clip(clip), front_end(clip, "diff", 2, reference))
