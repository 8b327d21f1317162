"""Few-shot enrollment: new signs from a few clips become an INT8 nearest-prototype head that predict
and the MCU check take in place of the softmax head."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import pattern_clip
from tests.tiny_models import SMALL, quantized_model, shared_records
from tinysign.data.clips import sign_frames
from tinysign.enroll import example_clips, run_enroll, run_pipeline_enroll
from tinysign.errors import TinysignError
from tinysign.mcu import run_mcu_check
from tinysign.model.export import convert
from tinysign.model.files import load_quantized
from tinysign.model.prototypes import build_head, embedding
from tinysign.predict import predict_clip
from tinysign.runtime.enrollment import Embedder, head_accuracy
from tinysign.runtime.flatbuffer import model_ops
from tinysign.runtime.litert import LiteModel, runner_input
from tinysign.summaries import read_summary


def sign_clips(root: Path, signs: dict[str, int], per_sign: int = 3, frames: int = 12) -> Path:
    """``root/<sign>/<k>.mp4``: pattern clips (class ``signs[sign]``'s direction), 16x16 at 30 fps."""
    rng = np.random.default_rng(5)
    for sign, pattern in signs.items():
        (root / sign).mkdir(parents=True, exist_ok=True)
        for k in range(per_sign):
            clip = pattern_clip(pattern, rng, frames, 16)
            writer = cv2.VideoWriter(
                str(root / sign / f"{k}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (16, 16)
            )
            for frame in clip:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
            writer.release()
    return root


@pytest.fixture
def streaming(tmp_path_factory) -> Path:
    return quantized_model(tmp_path_factory, "streaming")


def test_enrolled_head_runs_in_predict_and_on_the_mcu(streaming, tmp_path_factory, tmp_path):
    examples = sign_clips(tmp_path / "new", {"wave": 4, "point": 6})
    summary = run_enroll(streaming, [str(examples)], tmp_path / "enrolled", SMALL, progress=False)
    assert summary["enrolled"] == ["point", "wave"] and summary["num_classes"] == 2
    quant = load_quantized(tmp_path / "enrolled")
    assert quant.labels == ["point", "wave"] and quant.method == "prototypes"
    assert quant.read("frame", "int8") == load_quantized(streaming).read(
        "frame", "int8"
    )  # the deployed model
    ops = [op["op"] for op in model_ops(quant.read("head", "int8"))]
    assert "FULLY_CONNECTED" in ops and len(summary["prototype_offset"]) == summary["bytes_per_sign"]
    assert summary["head_mcu"]["max_abs_diff_lsb"] <= 1 and summary["head_mcu"]["arena_bytes"] > 0
    # predict takes the enrolled folder: the frame model per frame, the prototype head on the ring buffer.
    # Its answer is the INT8 head's on the window enrollment computed for that clip (the 2-epoch test model
    # embeds too weakly to assert the sign itself; make bench-enroll measures accuracy on real video).
    clips, _ = example_clips([str(examples)], SMALL, progress=False)
    clip = next(c for c in clips if c.label == "wave")
    window = Embedder(quant).window(sign_frames(clip, SMALL))
    predicted = predict_clip([str(tmp_path / "enrolled")], clip.path, SMALL)[0][0]
    assert head_accuracy(quant.read("head", "int8"), {predicted: [window]}, quant.labels) == 1.0
    # the MCU check runs the head in tflite-micro (any records of the right clip shape drive it)
    report = run_mcu_check(tmp_path / "enrolled", shared_records(tmp_path_factory), tmp_path / "mcu", SMALL)
    assert report["tflm_vs_litert"]["within_tolerance"] and report["parts"]["head"]["flash_bytes"] > 0
    assert (tmp_path / "enrolled" / "head_data.cc").is_file()


def test_keep_trained_adds_the_trained_classes(streaming, tmp_path_factory, tmp_path):
    examples = sign_clips(tmp_path / "new", {"wave": 4})
    summary = run_enroll(
        streaming,
        [str(examples)],
        tmp_path / "mixed",
        SMALL,
        keep_trained=True,
        records_dir=shared_records(tmp_path_factory),
        progress=False,
    )
    assert load_quantized(tmp_path / "mixed").labels == ["gloss0", "gloss1", "gloss2", "wave"]
    assert summary["enrolled"] == ["wave"] and summary["kept_trained"]


def test_bad_enrollment_inputs_fail_before_anything_is_written(streaming, tmp_path):
    collide = sign_clips(tmp_path / "collide", {"gloss1": 1})
    with pytest.raises(TinysignError, match="gloss1: already trained classes"):
        run_enroll(streaming, [str(collide)], tmp_path / "o1", SMALL, progress=False)
    broken = sign_clips(tmp_path / "broken", {"wave": 4, "point": 6})
    for clip in (broken / "point").iterdir():
        clip.write_bytes(b"not a video")
    with pytest.raises(
        TinysignError, match=r"sign .point. has no usable clip \(its clips: undecodable\); nothing enrolled"
    ):
        run_enroll(streaming, [str(broken)], tmp_path / "o2", SMALL, progress=False)
    short = sign_clips(tmp_path / "short", {"wave": 4, "point": 6}, frames=3)  # < min_clip_frames
    with pytest.raises(TinysignError, match="too_few_frames"):
        run_enroll(streaming, [str(short)], tmp_path / "o3", SMALL, progress=False)
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))


def test_a_hundred_sign_head_fits_in_8_kb():
    rng = np.random.default_rng(0)
    prototypes = rng.normal(size=(100, 32)).astype(np.float32)
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
    windows = rng.random((20, 24, 32)).astype(np.float32) * 4

    def samples():
        for window in windows:
            yield [window[np.newaxis]]

    head = convert(build_head(prototypes, 24), (1, 24, 32), int8=True, representative=samples)
    assert len(head) <= 8 * 1024


def test_int8_head_picks_the_cosine_nearest_prototype_of_nearly_collinear_embeddings():
    """Non-negative features make every embedding point the same way (cosines 0.95-1.0, as on real
    video); the INT8 head must still pick the sign a float cosine picks."""
    rng = np.random.default_rng(1)
    common = rng.random(32) + 0.5
    prototypes = common + 0.08 * rng.normal(size=(10, 32))
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
    windows = (prototypes[rng.integers(0, 10, 200)] * 3)[:, np.newaxis] + 0.1 * rng.normal(size=(200, 24, 32))
    windows = np.clip(windows, 0, 6).astype(np.float32)  # ReLU6 features

    def samples():
        for window in windows[:50]:
            yield [window[np.newaxis]]

    head = LiteModel(convert(build_head(prototypes, 24), (1, 24, 32), int8=True, representative=samples))
    cosines = [float(prototypes[i] @ embedding(w)) for w in windows for i in range(10)]
    assert min(cosines) > 0.9  # the hard case
    agree = [
        int(np.argmax(head.invoke(runner_input(head, w)))) == int(np.argmax(prototypes @ embedding(w)))
        for w in windows
    ]
    assert np.mean(agree) >= 0.95


def test_accuracy_against_k_tests_on_the_clips_not_enrolled(streaming, tmp_path):
    examples = sign_clips(tmp_path / "new", {"wave": 4, "point": 6}, per_sign=4)
    summary = run_enroll(
        streaming, [str(examples)], tmp_path / "enrolled", SMALL, progress=False, evaluate=True
    )
    results = summary["accuracy_vs_k"]
    assert set(results) == {"1", "3"}  # k = 5 would leave no clip to test
    assert results["1"]["test_clips"] == 2 * 3 and results["3"]["test_clips"] == 2 * 1
    for result in results.values():
        assert len(result["draws"]) == 5 and all(0 <= a <= 1 for a in result["draws"])
        assert result["mean"] == pytest.approx(np.mean(result["draws"]))
    # the pipeline's step: the same with enroll_data, a "skipped" summary without
    assert run_pipeline_enroll(streaming, "", tmp_path / "none", SMALL) == {"skipped": True}
    assert read_summary(tmp_path / "none") == {"skipped": True}
