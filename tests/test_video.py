"""Decoding, FPS simulation, sampling and offline augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from tinysign.config import Config
from tinysign.data.augment import CopyAugmentation, Ranges, augment_copy
from tinysign.data.sampling import resample_indices, sample_clip
from tinysign.data.video import VideoError, probe, read_frames, to_grey_square
from tinysign.demo import write_video


def numbered_video(path, count=30, fps=30, size=(96, 64)):
    """Frame k is a uniform grey level 8*k, so decoded frames can be identified."""
    frames = [np.full((size[1], size[0], 3), 8 * k, np.uint8) for k in range(count)]
    write_video(path, frames, fps)
    return path


def test_probe_reads_properties(tmp_path):
    info = probe(str(numbered_video(tmp_path / "v.mp4", count=30, fps=30)))
    assert (info.frame_count, info.fps, info.width, info.height) == (30, 30.0, 96, 64)


def test_read_frames_honours_segment(tmp_path):
    path = str(numbered_video(tmp_path / "v.mp4"))
    frames, fps = read_frames(path, frame_start=11, frame_end=20, img_size=16)
    assert frames.shape == (10, 16, 16) and frames.dtype == np.uint8 and fps == 30.0
    levels = frames.reshape(10, -1).mean(axis=1)
    np.testing.assert_allclose(levels, 8 * np.arange(10, 20), atol=6)  # mp4v is lossy


def test_read_frames_past_the_end(tmp_path):
    path = str(numbered_video(tmp_path / "v.mp4", count=10))
    with pytest.raises(VideoError) as err:
        read_frames(path, frame_start=20)
    assert err.value.reason == "segment_out_of_range"
    frames, _ = read_frames(path, frame_start=5, frame_end=99)  # end beyond the video: clamped
    assert len(frames) == 6


@pytest.mark.parametrize(
    ("content", "reason"), [(b"", "undecodable"), (b"this is text, not a video", "undecodable")]
)
def test_bad_files_raise_reasons(tmp_path, content, reason):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError) as err:
        probe(str(path))
    assert err.value.reason == reason
    with pytest.raises(VideoError, match="missing_file"):
        probe(str(tmp_path / "absent.mp4"))


def test_centre_crop_keeps_aspect():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, 50:150] = 255  # the centre square is white, the sides black
    assert to_grey_square(frame, 10).min() == 255


def test_fps_simulation_holds_frames_at_low_rates():
    at_10 = resample_indices(48, src_fps=30, target_fps=10, num_frames=24)
    at_50 = resample_indices(48, src_fps=30, target_fps=50, num_frames=24)
    assert len(at_10) == len(at_50) == 24
    assert at_10[0] == 0 and at_50[0] == 0 and at_10[-1] <= 47 and at_50[-1] <= 47
    assert len(set(at_10.tolist())) == 16  # 1.6 s at 10 fps: 16 distinct frames, some repeated
    assert len(set(at_50.tolist())) == 24
    assert np.all(np.diff(at_10) >= 0) and np.all(np.diff(at_50) >= 0)


def test_short_clip_is_padded_by_repetition():
    frames = np.arange(5, dtype=np.uint8)[:, None, None] * np.ones((5, 4, 4), np.uint8)
    clip = sample_clip(frames, 30, 30, 24)
    assert clip.shape == (24, 4, 4) and set(clip[:, 0, 0].tolist()) == {0, 1, 2, 3, 4}


def test_augmentation_is_deterministic_and_bounded():
    clip = np.random.default_rng(0).integers(0, 255, (8, 32, 32), dtype=np.uint8)
    ranges = Ranges(**Config().copy_ranges)
    aug = CopyAugmentation.draw(np.random.default_rng(1), ranges, allow_flip=False)
    again = CopyAugmentation.draw(np.random.default_rng(1), ranges, allow_flip=False)
    assert aug == again and not aug.flip
    out = augment_copy(clip, aug)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert not np.array_equal(out, clip)
    np.testing.assert_array_equal(out, augment_copy(clip, again))
