"""Predict like a device: signs said as they happen with the streaming pair; top-k of the sign's window
with a whole-clip model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import pattern_clip
from tests.tiny_models import SMALL, quantized_model
from tinysign.cli import main
from tinysign.data.clips import sign_frames
from tinysign.data.manifest import Clip
from tinysign.data.video import probe
from tinysign.errors import TinysignError
from tinysign.model.files import load_quantized
from tinysign.predict import Between, Said, load_predictor, predict_clip, spot_video
from tinysign.runtime.litert import LiteModel, dequantize
from tinysign.runtime.streaming import ClipClassifier

FPS, REST = 30, 30  # a second of rest around the sign


def _video(path: Path, label: int = 1) -> Path:
    """An mp4 (64x64, 30 fps): the signer still, the pattern sign ``label`` (what the models were trained
    on), still again."""
    rng = np.random.default_rng(7)
    sign = pattern_clip(label, rng, 40, 64)
    still = [np.repeat(sign[:1], REST, axis=0), sign, np.repeat(sign[-1:], REST, axis=0)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (64, 64))
    for frame in np.concatenate(still):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def test_whole_clip_model_scores_the_sign_window_like_a_test_record(tmp_path_factory, tmp_path):
    quant = load_quantized(quantized_model(tmp_path_factory, "s3dconv1d"))
    video = _video(tmp_path / "sign.mp4")
    best = predict_clip([str(quant.path("model", "int8"))], str(video), SMALL, k=2)
    (first, p1), (_, p2) = best
    assert len(best) == 2 and first in quant.labels and 1 >= p1 >= p2 >= 0
    # the same numbers as a test record of the video (its sign's window) through LiteRT
    info = probe(str(video))
    window = sign_frames(Clip("v", "", str(video), "v", fps=info.fps, frame_count=info.frame_count), SMALL)
    classifier = ClipClassifier([LiteModel(quant.path("model", "int8"))], quant.front.stream())
    probs = dequantize(classifier.classify(window).reshape(-1), classifier.output_qparams)
    assert first == quant.labels[int(np.argmax(probs))] and p1 == pytest.approx(float(probs.max()))


def test_streaming_pair_says_signs_as_they_happen_and_accounts_for_every_moment(tmp_path_factory, tmp_path):
    quant_dir = quantized_model(tmp_path_factory, "streaming")
    quant = load_quantized(quant_dir)
    video = _video(tmp_path / "sign.mp4", label=2)
    predictor = load_predictor(
        [str(quant.path("head", "int8")), str(quant.path("frame", "int8"))]
    )  # any order
    config = SMALL.replace(spot_threshold=0.34, spot_window=2)  # a 2-epoch model: low confidence
    events = list(spot_video(predictor, str(video), config))
    # the stretches between signs and the signs said tile the whole stream, in time order
    assert isinstance(events[0], Between) and events[0].start == 0
    ends = [e.end if isinstance(e, Between) else e.seconds for e in events]
    assert ends == sorted(ends) and ends[-1] == pytest.approx((2 * REST + 40) / FPS, abs=0.11)
    said = [e for e in events if isinstance(e, Said)]
    assert all(e.sign in quant.labels and 0.34 - 1 / 256 <= e.score <= 1 for e in said)
    assert said == [
        e for e in spot_video(load_predictor([str(quant_dir)]), str(video), config) if isinstance(e, Said)
    ]


def test_cli_prints_signs_and_json_lines_and_camera_is_the_same_path(tmp_path_factory, tmp_path, capsys):
    quant_dir = str(quantized_model(tmp_path_factory, "streaming"))
    video = str(_video(tmp_path / "sign.mp4", label=1))
    low = ["--set", "spot_threshold=0.34", "--set", "spot_window=2"]
    assert main(["predict", "--model", quant_dir, video, *low]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"streaming {video} at 10 fps") and out[-1].startswith(f"{video}: ")
    assert main(["predict", "--model", quant_dir, video, "--json", *low]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(set(row) == {"seconds", "frame", "sign", "probability"} for row in rows)
    assert main(["predict", "--model", quant_dir, "--camera", video, "--json", *low]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == rows
    assert main(["predict", "--model", quant_dir, "--camera", "7"]) == 1  # no such camera here
    assert "7" in capsys.readouterr().err


def test_a_stream_shorter_than_the_window_is_a_one_line_error(tmp_path_factory, tmp_path, capsys):
    quant_dir = str(quantized_model(tmp_path_factory, "streaming"))
    short = tmp_path / "short.mp4"
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (64, 64))
    for frame in pattern_clip(1, np.random.default_rng(0), 12, 64):  # 0.4 s: 4 frames at 10 fps
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    assert main(["predict", "--model", quant_dir, str(short)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "before the model's 8-frame window" in err[0]


def test_bad_inputs_are_one_line_errors(tmp_path_factory, tmp_path, capsys):
    model = str(load_quantized(quantized_model(tmp_path_factory, "s3dconv1d")).path("model", "int8"))
    with pytest.raises(TinysignError, match="missing_file"):
        predict_clip([model], str(tmp_path / "nope.mp4"), SMALL)
    (tmp_path / "labels.txt").write_text("only\none\nmore\nthan\nthree\n")
    with pytest.raises(TinysignError, match="5 labels but the model has 3 outputs"):
        predict_clip([model], str(_video(tmp_path / "v.mp4")), SMALL, labels=str(tmp_path / "labels.txt"))
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "none.tflite"), str(tmp_path / "v.mp4")]) == 1
    assert "none.tflite: file not found" in capsys.readouterr().err
    assert main(["predict", "--model", model]) == 2  # a usage error
    assert "give a video file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["predict", "--model", model, str(tmp_path / "v.mp4"), "--top-k", "0"])
    assert usage.value.code == 2 and "--top-k" in capsys.readouterr().err
