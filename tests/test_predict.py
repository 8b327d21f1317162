"""Predict: top-k glosses from a video file; rolling predictions with the streaming pair."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import pattern_clip
from tests.tiny_models import SMALL, quantized_model
from tinysign.cli import main
from tinysign.data.sampling import sample_clip
from tinysign.data.video import read_frames
from tinysign.errors import TinysignError
from tinysign.model.files import load_quantized
from tinysign.predict import run_predict
from tinysign.runtime.litert import LiteModel, dequantize
from tinysign.runtime.streaming import ClipClassifier

VIDEO_FRAMES, VIDEO_FPS = 40, 30


def _video(path: Path, label: int = 1) -> Path:
    """An mp4 (64x64, 30 fps) of the pattern sign ``label`` — what the models were trained on."""
    clip = pattern_clip(label, np.random.default_rng(7), VIDEO_FRAMES, 64)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, (64, 64))
    for frame in clip:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def test_predict_whole_clip_model_prints_top_k_like_training_preprocessing(tmp_path_factory, tmp_path):
    quant = load_quantized(quantized_model(tmp_path_factory, "s3dconv1d"))
    video = _video(tmp_path / "sign.mp4")
    result = run_predict([str(quant.path("model", "int8"))], str(video), SMALL, k=2)
    assert len(result["top_k"]) == 2 and result["rolling"] == [] and not result["streaming"]
    (first, p1), (_, p2) = result["top_k"]
    assert first in quant.labels and 1 >= p1 >= p2 >= 0
    # same numbers as the training preprocessing (read_frames + sample_clip at eval_fps) through LiteRT
    frames, fps = read_frames(str(video), img_size=SMALL.img_size)
    clip = sample_clip(frames, fps, SMALL.eval_fps, SMALL.num_frames)
    classifier = ClipClassifier([LiteModel(quant.path("model", "int8"))], quant.front_end, quant.binning)
    probs = dequantize(classifier.classify(clip).reshape(-1), classifier.output_qparams)
    assert first == quant.labels[int(np.argmax(probs))] and p1 == pytest.approx(float(probs.max()))


def test_predict_streaming_pair_rolls_a_prediction_per_frame(tmp_path_factory, tmp_path, capsys):
    quant_dir = quantized_model(tmp_path_factory, "streaming")
    quant = load_quantized(quant_dir)
    video = _video(tmp_path / "sign.mp4", label=2)
    head, frame = str(quant.path("head", "int8")), str(quant.path("frame", "int8"))  # any order
    seen = []
    result = run_predict([head, frame], str(video), SMALL, k=3, on_rolling=lambda *row: seen.append(row))
    stream_frames = round(VIDEO_FRAMES / VIDEO_FPS * SMALL.eval_fps)
    assert len(result["rolling"]) == stream_frames - SMALL.num_frames + 1 == len(seen)
    assert result["rolling"][0][0] == SMALL.num_frames - 1  # first prediction once the buffer is full
    assert all(gloss in quant.labels and 0 <= p <= 1 for _, _, gloss, p in result["rolling"])
    assert sorted(g for g, _ in result["top_k"]) == sorted(quant.labels)
    assert run_predict([str(quant_dir)], str(video), SMALL)["top_k"] == result["top_k"]  # a quantize folder

    capsys.readouterr()
    assert main(["predict", "--top-k", "2", "--model", frame, head, str(video)]) == 0  # the syntax
    out = capsys.readouterr().out
    assert "streaming at 30 fps" in out and "  1. " in out and "  2. " in out and "  3. " not in out


def test_predict_bad_inputs_are_one_line_errors(tmp_path_factory, tmp_path, capsys):
    model = str(load_quantized(quantized_model(tmp_path_factory, "s3dconv1d")).path("model", "int8"))
    with pytest.raises(TinysignError, match="missing_file"):
        run_predict([model], str(tmp_path / "nope.mp4"), SMALL)
    (tmp_path / "labels.txt").write_text("only\none\nmore\nthan\nthree\n")
    with pytest.raises(TinysignError, match="5 labels but the model has 3 outputs"):
        run_predict([model], str(_video(tmp_path / "v.mp4")), SMALL, labels=str(tmp_path / "labels.txt"))
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "none.tflite"), str(tmp_path / "v.mp4")]) == 1
    assert "none.tflite: file not found" in capsys.readouterr().err
    assert main(["predict", "--model", model]) == 1
    assert "give a video file" in capsys.readouterr().err


def test_live_source_goes_through_the_same_path_as_a_file(tmp_path_factory, tmp_path, capsys):
    """--camera takes any OpenCV source; a file source gives the rolling predictions of the file."""
    quant_dir = quantized_model(tmp_path_factory, "streaming")
    video = _video(tmp_path / "sign.mp4", label=1)
    from_file = run_predict([str(quant_dir)], str(video), SMALL)["rolling"]
    capsys.readouterr()
    assert main(["predict", "--model", str(quant_dir), "--camera", str(video)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  frame")]
    assert len(lines) == len(from_file) > 0
    for line, (index, seconds, gloss, p) in zip(lines, from_file, strict=True):
        assert line == f"  frame {index:4d} t={seconds:6.2f}s  {gloss:<20} {p:.3f}"
    assert main(["predict", "--model", str(quant_dir), "--camera", "7"]) == 1  # no such camera here
    assert "no such camera or stream" in capsys.readouterr().err
