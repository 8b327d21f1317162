"""Another camera's view of a clip (make bench-robustness): each transform does what it says, on the decoded
frames, before the sign's window is cut."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tinysign.config import Config
from tinysign.data import filming
from tinysign.data.clips import sign_frames, sign_windows
from tinysign.data.manifest import Clip
from tinysign.data.video import probe

WALL, BODY, HAND = 70, 20, 220
SIZE, FPS = 64, 30


def signer_frames(count: int = 90) -> np.ndarray:
    """A studio shot: a plain wall, a still dark body in the middle, a bright hand that rests on the
    body, moves across the wall and back (frames 30-60), rests again."""
    frames = np.full((count, SIZE, SIZE), WALL, dtype=np.uint8)
    frames[:, 24:, 20:44] = BODY
    for t in range(count):
        x = 24 if not 30 <= t < 60 else 24 - round(20 * np.sin(np.pi * (t - 30) / 30))
        frames[t, 30:38, x : x + 8] = HAND
    return frames


def test_gain_and_contrast_are_grey_level_maps_that_saturate():
    frames = np.array([[[0, 100, 200, 255]]], dtype=np.uint8)
    assert filming.gain(0.6)(frames).tolist() == [[[0, 60, 120, 153]]]
    assert filming.gain(1.4)(frames).tolist() == [[[0, 140, 255, 255]]]
    assert filming.contrast(0.7)(frames).tolist() == [[[38, 108, 178, 217]]]  # around mid-grey 128
    assert filming.as_filmed(frames) is frames


def test_sensor_noise_is_independent_per_pixel_and_frame_with_the_given_sigma():
    flat = np.full((20, SIZE, SIZE), 128, dtype=np.uint8)
    noisy = filming.sensor_noise(4.0, np.random.default_rng(0))(flat).astype(float)
    assert noisy.std() == pytest.approx(4.0, rel=0.05) and abs(noisy.mean() - 128) < 0.1
    assert np.corrcoef(noisy[0].ravel(), noisy[1].ravel())[0, 1] < 0.05  # a fresh draw every frame


def test_reframe_moves_and_zooms_about_the_centre_repeating_the_edge():
    frame = np.zeros((1, SIZE, SIZE), dtype=np.uint8)
    frame[0, 28:36, 28:36] = 255
    shifted = filming.reframe(shift=0.10)(frame)[0]
    columns = np.flatnonzero(shifted.max(axis=0) > 127)
    assert columns.min() - 28 == pytest.approx(0.10 * SIZE, abs=1)  # 6.4 px to the right
    bigger = filming.reframe(zoom=1.15)(frame)[0]
    smaller = filming.reframe(zoom=0.85)(frame)[0]
    assert (bigger > 127).sum() > (frame[0] > 127).sum() > (smaller > 127).sum()
    edge = np.full((1, SIZE, SIZE), 90, dtype=np.uint8)
    assert (filming.reframe(shift=0.1, zoom=0.85)(edge) == 90).all()  # no black border


def test_lower_resolution_loses_the_finest_detail_and_keeps_the_mean():
    stripes = np.zeros((1, SIZE, SIZE), dtype=np.uint8)
    stripes[0, :, ::2] = 200  # one-pixel stripes: finer than a 2x coarser source can show
    coarse = filming.lower_resolution(2)(stripes)
    assert coarse.shape == stripes.shape and np.ptp(coarse[0, 10, 10:50]) <= 1
    assert coarse.mean() == pytest.approx(stripes.mean(), abs=1)


def test_cluttered_background_replaces_only_the_wall_where_the_frame_is_static():
    frames = signer_frames()
    photo = np.random.default_rng(1).integers(0, 256, (48, 96, 3), dtype=np.uint8)  # any size, BGR
    room = cv2.resize(
        cv2.cvtColor(photo[:, 24:72], cv2.COLOR_BGR2GRAY), (SIZE, SIZE), interpolation=cv2.INTER_AREA
    )
    filmed = filming.cluttered_background(photo)(frames)
    t = 45  # the hand over the wall
    hand = frames[t] == HAND
    wall = frames[t] == WALL
    assert (filmed[t][hand] == HAND).all(), "a hand in front of the wall is not wall"
    assert (filmed[t][frames[t] == BODY] == BODY).all(), "the still body is not wall"
    assert (filmed[t][wall] == room[wall]).all()
    assert (filmed[0][frames[0] == WALL] == room[frames[0] == WALL]).all()


@pytest.fixture
def studio_clip(tmp_path: Path) -> Clip:
    path = tmp_path / "studio.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    for frame in signer_frames():
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    info = probe(str(path))
    return Clip("studio", "wave", str(path), "studio", fps=info.fps, frame_count=info.frame_count)


def test_sign_windows_film_the_decoded_frames_and_cut_the_window_of_the_clean_clip(studio_clip):
    config = Config(img_size=SIZE, num_frames=8)
    photo = np.random.default_rng(2).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    windows = sign_windows(
        studio_clip,
        config,
        {
            "clean": filming.as_filmed,
            "bright": filming.gain(1.4),
            "clutter": filming.cluttered_background(photo),
        },
    )
    clean = windows["clean"]
    assert clean.shape == (8, SIZE, SIZE)
    assert np.array_equal(clean, sign_frames(studio_clip, config)), "clean = what a test record holds"
    assert np.array_equal(windows["bright"], filming.gain(1.4)(clean)), (
        "a grey-level map commutes with the cut"
    )
    assert not np.array_equal(windows["clutter"], clean) and (windows["clutter"].max(axis=0) >= 200).any()
    slower = sign_windows(studio_clip, config.replace(eval_fps=15), {"": filming.as_filmed})[""]
    assert slower.shape == clean.shape and not np.array_equal(slower, clean)
