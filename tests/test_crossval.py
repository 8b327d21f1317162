"""Cross-validation by group: folds never put a val or train clip's group in test, and the workflow
reports every fold with its baselines."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from tests.conftest import FSL105, needs_fsl105
from tinysign.config import SILENT_LABELS, Config
from tinysign.data.manifest import Clip, read_manifest
from tinysign.data.splits import cv_folds
from tinysign.errors import TinysignError
from tinysign.ingest import run_ingest
from tinysign.workflows.crossval import _stats, run_cv, seed_list

FEW_EPOCHS = 12  # the recipe's schedule compressed: enough to beat the baselines, minutes on 2 cores


def clips(signers: int, per_signer: int = 6, with_signer: bool = True) -> list[Clip]:
    return [
        Clip(f"c{s}-{k}", f"g{k % 3}", f"/v/{s}/{k}.mp4", f"{s}/{k}", signer=f"s{s}" if with_signer else "")
        for s in range(1, signers + 1)
        for k in range(per_signer)
    ]


def test_leave_one_signer_out_folds():
    folds = cv_folds(clips(4), folds=0, seed=0)
    assert [f.test for f in folds] == [("s1",), ("s2",), ("s3",), ("s4",)]
    assert [f.val for f in folds] == [("s2",), ("s3",), ("s4",), ("s1",)]
    tested = Counter()
    for fold in folds:
        by_signer = defaultdict(set)
        for clip_id, split in fold.splits.items():
            by_signer[clip_id.split("-")[0]].add(split)
        assert all(len(s) == 1 for s in by_signer.values())  # a signer sits in one split per fold
        assert Counter(fold.splits.values()) == {"train": 12, "val": 6, "test": 6}
        tested.update(c for c, s in fold.splits.items() if s == "test")
    assert set(tested.values()) == {1} and len(tested) == 24  # every clip is tested exactly once


def test_folds_by_source_video_without_signers():
    folds = cv_folds(clips(2, per_signer=10, with_signer=False), folds=5, seed=3)
    assert len(folds) == 5
    assert all(Counter(f.splits.values()) == {"train": 12, "val": 4, "test": 4} for f in folds)
    with pytest.raises(TinysignError, match="needs >= 3 folds"):
        cv_folds(clips(4), folds=2, seed=0)
    with pytest.raises(TinysignError, match="5 folds need >= 5 signer groups, the data has 4"):
        cv_folds(clips(4), folds=5, seed=0)


def _row(fold: int, seed: int, int8: float) -> dict:
    values = dict.fromkeys(("val_accuracy", "float32_accuracy", "int8_minus_float32", "agreement"), 0.5)
    return {
        "fold": fold,
        "seed": seed,
        "model": "m",
        **values,
        "int8_accuracy": int8,
        "baselines": {"x": 0.1},
    }


def test_seeds_are_averaged_per_fold_then_over_folds_with_both_spreads():
    rows = [_row(1, 1, 0.40), _row(1, 2, 0.50), _row(2, 1, 0.70), _row(2, 2, 0.70), _row(2, 3, 0.70)]
    mean, std, seed_std = _stats(rows, "m")
    assert mean["int8_accuracy"] == pytest.approx((0.45 + 0.70) / 2)  # each fold weighs the same
    assert std["int8_accuracy"] == pytest.approx(0.125)  # over the folds' seed means
    assert seed_std["int8_accuracy"] == pytest.approx((0.05 + 0.0) / 2)  # std over seeds, mean over folds
    assert mean["strongest baseline"] == pytest.approx(0.1)
    assert seed_list(Config(seed=7), 3) == [7, 8, 9]
    with pytest.raises(TinysignError, match="at least one seed"):
        seed_list(Config(), 0)


@pytest.mark.slow
def test_cv_workflow_reports_every_fold_and_reuses_finished_ones(demo_ingest, tmp_path):
    config = Config(
        folds=3,
        epochs=1,
        num_frames=8,
        img_size=16,
        augment_copies=0,
        fps_targets=(30,),
        model="streaming",
        calibration_samples=4,
    )
    summary = run_cv(demo_ingest / "manifest.jsonl", tmp_path, config, ["streaming", "s3dconv1d"])
    assert summary["num_folds"] == 3 and len(summary["folds"]) == 6
    for row in summary["folds"]:
        assert set(row["baselines"]) == {"majority", "nearest_neighbour", "motion_nn"}
        assert 0 <= row["agreement"] <= 1 and row["test_clips"] > 0
        assert not set(row["test"]) & set(row["val"])
    means = summary["mean"]["streaming"]
    fold_int8 = [r["int8_accuracy"] for r in summary["folds"] if r["model"] == "streaming"]
    assert means["int8_accuracy"] == pytest.approx(sum(fold_int8) / 3)
    assert "Every fold" in (tmp_path / "cv_report.md").read_text()
    assert "leave-one" not in summary["protocol"] and (tmp_path / "report.html").is_file()
    again = run_cv(demo_ingest / "manifest.jsonl", tmp_path, config, ["streaming"])  # reuses the folds
    first = [r["seconds"] for r in summary["folds"] if r["model"] == "streaming"]
    assert [r["seconds"] for r in again["folds"]] == first
    assert json.loads((tmp_path / "metrics.json").read_text())["models"] == ["streaming"]
    one = run_cv(demo_ingest / "manifest.jsonl", tmp_path, config, ["streaming"], only_folds=[2])
    assert [r["fold"] for r in one["folds"]] == [2] and "fold(s) 2 of 3" in one["protocol"]
    with pytest.raises(TinysignError, match=r"folds \[4\]: this data has folds 1..3"):
        run_cv(demo_ingest / "manifest.jsonl", tmp_path, config, only_folds=[4])


@pytest.mark.slow
def test_every_seed_has_its_own_folder_and_accuracy_counts_only_sign_windows(demo_ingest, tmp_path):
    config = Config(folds=3, epochs=1, num_frames=8, img_size=16, fps_targets=(30,), calibration_samples=4)
    summary = run_cv(demo_ingest / "manifest.jsonl", tmp_path, config, ["streaming"], [1], seeds=[5, 6])
    assert [(r["fold"], r["seed"]) for r in summary["folds"]] == [(1, 5), (1, 6)] and summary["seeds"] == [
        5,
        6,
    ]
    assert "2 seeds (5, 6)" in summary["protocol"] and "seeds ±" in (tmp_path / "cv_report.md").read_text()
    for row in summary["folds"]:
        run = tmp_path / "fold-1" / f"seed-{row['seed']}"
        assert json.loads((run / "streaming" / "cv_done.json").read_text())["config"]["seed"] == row["seed"]
        fold_rows = read_manifest(tmp_path / "fold-1" / "manifest.jsonl")
        signs = [r for r in fold_rows if r["split"] == "test" and r["label"] not in SILENT_LABELS]
        evaluated = json.loads((run / "streaming" / "evaluate" / "metrics.json").read_text())[
            "num_test_clips"
        ]
        assert row["test_clips"] == len(signs) < evaluated  # a window per sign clip; evaluate scores rest too
        assert sum(s["clips"] for s in row["per_sign"].values()) == row["test_clips"]
        hits = sum(s["int8"] for s in row["per_sign"].values())
        assert row["int8_accuracy"] == pytest.approx(hits / row["test_clips"])
        assert not set(row["per_sign"]) & set(SILENT_LABELS)
    again = run_cv(demo_ingest / "manifest.jsonl", tmp_path, config, ["streaming"], [1], seeds=[5])
    assert [r["seconds"] for r in again["folds"]] == [summary["folds"][0]["seconds"]]  # reused
    run = tmp_path / "fold-1" / "seed-5"
    trained_at = (run / "streaming" / "train" / "model.keras").stat().st_mtime_ns
    run_cv(
        demo_ingest / "manifest.jsonl", tmp_path, config.replace(spot_threshold=0.6), ["streaming"], [1], [5]
    )
    assert (run / "streaming" / "train" / "model.keras").stat().st_mtime_ns == trained_at  # the model reused
    assert json.loads((run / "streaming" / "cv_done.json").read_text())["config"]["spot_threshold"] == 0.6
    quantized = json.loads((run / "streaming" / "quantize" / "metrics.json").read_text())
    assert quantized["contrast"] == 0  # no contrast gain by default
    run_cv(  # a quantize key: quantized again from the same trained model
        demo_ingest / "manifest.jsonl", tmp_path, config.replace(contrast_gain=True), ["streaming"], [1], [5]
    )
    assert (run / "streaming" / "train" / "model.keras").stat().st_mtime_ns == trained_at
    # the device front end's contrast reference, measured on the training clips
    assert json.loads((run / "streaming" / "quantize" / "metrics.json").read_text())["contrast"] > 0
    marker = tmp_path / "fold-1" / "seed-5" / "cv_extracted.json"
    records = json.loads((tmp_path / "fold-1" / "seed-5" / "records" / "metrics.json").read_text())
    other = run_cv(
        demo_ingest / "manifest.jsonl", tmp_path, config.replace(rest_class=False), ["streaming"], [1], [5]
    )  # another extraction key: extracted and trained again, not reused
    assert json.loads(marker.read_text())["rest_class"] is False
    assert json.loads((tmp_path / "fold-1" / "seed-5" / "records" / "metrics.json").read_text()) != records
    assert other["folds"][0]["seconds"] != summary["folds"][0]["seconds"]


@pytest.mark.slow
@needs_fsl105
def test_one_unseen_signer_fold_on_real_video_beats_the_trivial_baselines(tmp_path):
    """fsl105-dev, leave-one-signer-out fold 1 (test s1, val s2, train s3 + s4), the default recipe
    with a short schedule: INT8 on a signer never seen beats every trivial baseline."""
    config = Config(model="streaming", epochs=FEW_EPOCHS, unknown_share=0)  # the 30 signs
    run_ingest([str(FSL105)], tmp_path / "ingest", config, progress=False)
    summary = run_cv(tmp_path / "ingest" / "manifest.jsonl", tmp_path / "cv", config, only_folds=[1])
    [fold] = summary["folds"]
    assert (fold["test"], fold["val"], fold["test_clips"]) == (["s1"], ["s2"], 150)
    assert fold["int8_accuracy"] > max(fold["baselines"].values()), fold
