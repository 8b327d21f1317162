"""Online augmentation and the front end in tf.data, on whole batches: the same integers as the
device's front end, one draw per clip shared by its frames, frame order kept, train only."""

from __future__ import annotations

import numpy as np
import pytest

from tinysign.config import Config
from tinysign.data.frontend import front_end
from tinysign.data.inputs import model_input

STILL = {  # every augmentation off
    "augment_time": 0.0,
    "augment_rotate": 0.0,
    "augment_scale": 0.0,
    "augment_shift": 0.0,
    "augment_contrast": 0.0,
    "augment_brightness": 0.0,
    "augment_noise": 0.0,
}


def batch(clips: int = 3, frames: int = 8, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (clips, frames, size, size), dtype=np.uint8)


@pytest.mark.parametrize("kind", ["diff", "raw"])
@pytest.mark.parametrize("binning", [1, 2, 4])
def test_front_end_on_a_batch_equals_the_device_front_end(kind, binning):
    clips = batch()
    config = Config(front_end=kind, binning=binning)  # augmentation configured, but val/test never get it
    out = model_input(config, training=False)(clips).numpy()
    assert out.shape == (3, 8, 16 // binning, 16 // binning, 1)
    for clip, got in zip(clips, out, strict=True):
        np.testing.assert_array_equal(got[..., 0], front_end(clip, kind, binning))


def test_augmented_clips_are_binned_like_the_device():
    clips = batch()
    config = Config(**STILL, front_end="raw", binning=2)
    out = model_input(config, training=True)(clips).numpy()  # only the one-frame jitter is left
    assert out.shape == (3, 8, 8, 8, 1)
    for clip, got in zip(clips, out, strict=True):
        binned = front_end(clip, "raw", 2)
        for t, frame in enumerate(got[..., 0]):
            assert any(
                np.abs(frame - binned[s]).max() <= 1 / 255 + 1e-6 for s in range(max(0, t - 1), min(8, t + 2))
            )  # within one grey level (the mean is rounded once, after augmenting)


def test_with_every_range_at_zero_only_the_one_frame_jitter_remains():
    clips = batch()
    config = Config(**STILL, front_end="raw", binning=1)
    augmented = np.round(model_input(config, training=True)(clips).numpy()[..., 0] * 255).astype(np.uint8)
    for clip, out in zip(clips, augmented, strict=True):
        for t, frame in enumerate(out):  # every output frame is an input frame at most one step away
            assert any(np.array_equal(frame, clip[s]) for s in range(max(0, t - 1), min(len(clip), t + 2)))


def test_one_brightness_draw_per_clip_shared_by_its_frames():
    clips = np.full((6, 8, 16, 16), 100, dtype=np.uint8)
    config = Config(**{**STILL, "augment_brightness": 40.0}, front_end="raw", binning=1)
    grey = model_input(config, training=True)(clips).numpy()[..., 0] * 255  # raw front end: q / 255
    per_clip = grey.reshape(6, -1)
    assert np.allclose(per_clip, per_clip[:, :1], atol=1e-3)  # one value per clip, every frame and pixel
    assert len(np.unique(np.round(per_clip[:, 0]))) > 1  # different clips, different draws


def test_temporal_crop_keeps_frame_order():
    frames = np.arange(24, dtype=np.uint8) * 10  # frame i is uniformly grey level 10 i
    clips = np.broadcast_to(frames[None, :, None, None], (4, 24, 16, 16)).copy()
    config = Config(**{**STILL, "augment_time": 0.15}, front_end="raw", binning=1)
    levels = np.round(model_input(config, training=True)(clips).numpy()[:, :, 0, 0, 0] * 255)
    assert (np.diff(levels, axis=1) >= 0).all()  # in order, repeats allowed
    assert (levels[:, 0] <= 10 * 4).all() and (levels[:, -1] >= 10 * 19).all()  # crop <= 15 % (+1 jitter)


@pytest.mark.parametrize("draw", ["fixed", "uniform"])
def test_noise_sigma_is_one_value_or_one_draw_per_clip(draw):
    clips = np.full((32, 8, 16, 16), 100, dtype=np.uint8)
    config = Config(**{**STILL, "augment_noise": 6.0, "augment_noise_draw": draw}, front_end="raw", binning=1)
    grey = model_input(config, training=True)(clips).numpy()[..., 0] * 255
    sigmas = (grey.reshape(32, -1) - 100).std(axis=1)  # rounding to grey levels adds ~0.3
    if draw == "fixed":
        assert np.all(np.abs(sigmas - 6.0) < 0.5)
    else:  # each clip its own sigma from U(0, 6): some near-clean, some near 6
        assert sigmas.max() < 6.5 and sigmas.min() < 2.0 and sigmas.max() > 4.0


def studio_clips(count: int = 4, frames: int = 9, size: int = 32) -> np.ndarray:
    """A plain wall (level 200, a little sensor noise), a static body (level 60) and a hand (level 20)
    moving along the top rows: what a studio clip looks like to the backdrop mask."""
    rng = np.random.default_rng(1)
    clips = 200 + rng.integers(-3, 4, (count, frames, size, size))
    clips[:, :, size // 2 :, size // 4 : 3 * size // 4] = 60  # the body
    for t in range(frames):
        clips[:, t, 4:8, 2 + 3 * t : 6 + 3 * t] = 20  # the hand
    return clips.astype(np.uint8)


def test_backdrop_mask_in_tensorflow_is_the_robustness_bench_mask():
    from tinysign.data.backdrop import backdrop_mask, backdrop_mask_tf

    clips = studio_clips()  # an odd number of frames: numpy's median is one of them
    got = backdrop_mask_tf(clips.astype(np.float32)).numpy()
    for clip, mask in zip(clips, got, strict=True):
        np.testing.assert_array_equal(mask, backdrop_mask(clip))
    assert got[:, :, 20, 2].all() and not got[:, :, 20, 16].any()  # wall is wall, the body is not


def test_a_cluttered_backdrop_replaces_the_wall_only():
    clips = studio_clips(count=8)
    config = Config(**{**STILL, "augment_backdrop": 1.0}, front_end="raw", binning=1)
    grey = np.round(model_input(config, training=True)(clips).numpy()[..., 0] * 255)
    np.testing.assert_array_equal(grey[:, :, 16:, 8:24], 60)  # the body: static but not wall, kept
    assert ((grey[:, :, 4:8] == 20).sum(axis=(2, 3)) >= 16).all()  # the moving hand, kept in every frame
    wall = grey[:, :, 9:15]  # rows of wall between the hand and the body
    assert (wall.std(axis=(1, 2, 3)) > 8).all()  # every clip's wall is a texture now, not a flat 200
    assert np.abs(np.diff(wall, axis=1)).max() == 0  # a static texture: the same in every frame
    assert len({round(float(w.mean())) for w in wall}) > 1  # each clip its own texture


def test_a_coarser_camera_is_a_blend_of_each_clip_and_its_coarsest_source():
    from tinysign.data import filming
    from tinysign.data.augment import COARSEST

    clips = np.repeat(batch(clips=16, frames=1, size=48), 4, axis=1)  # stills: no time jitter
    config = Config(**{**STILL, "augment_coarse": 1.0}, front_end="raw", binning=1)
    grey = model_input(config, training=True)(clips).numpy()[..., 0] * 255
    sharp = clips.astype(np.float32)
    coarse = np.stack([filming.lower_resolution(COARSEST)(c) for c in clips]).astype(np.float32)
    towards = (coarse - sharp).reshape(16, -1)
    amount = np.sum((grey - sharp).reshape(16, -1) * towards, axis=1) / np.sum(towards**2, axis=1)
    blend = sharp + amount[:, None, None, None] * (coarse - sharp)
    assert np.abs(grey - blend).max() <= 1.5  # one amount per clip, every frame (both rounded to grey levels)
    assert (amount >= -0.01).all() and (amount <= 1.01).all()  # between as sharp as filmed and the coarsest
    assert amount.max() - amount.min() > 0.5  # each clip its own camera
