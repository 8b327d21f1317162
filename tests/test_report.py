"""The HTML report: self-contained (PNGs as base64), every section, tolerant of missing stages."""

from __future__ import annotations

import argparse
import base64
import csv
import json
import re
from html import unescape
from pathlib import Path

import numpy as np

from tinysign import report
from tinysign.bless import run_bless
from tinysign.config import Config
from tinysign.reporting.plots import plot_confusion_matrix, plot_history

LABELS = ["hello", "thanks", "yes"]
CONFIG = Config(arena_budget_bytes=20_000, flash_budget_bytes=100_000)


def write_run(root: Path) -> dict[str, Path]:
    """Stage folders with the files the real stages write (names and metrics.json keys)."""
    dirs = {s: root / s for s in report.STAGES}
    for path in dirs.values():
        path.mkdir(parents=True)
    (dirs["ingest"] / "metrics.json").write_text(
        json.dumps(
            {
                "found": 12,
                "kept": 9,
                "dropped": 3,
                "num_classes": 3,
                "labels": LABELS,
                "drop_reasons": {"class_below_min": 2, "missing_file": 1},
                "split_mode": "grouped",
                "split_counts": {"train": 6, "val": 2, "test": 1},
                "split_signers": {"train": 2, "val": 1, "test": 1},
                "signers": {"train": ["s1", "s2"], "val": ["s3"], "test": ["s4"]},
                "class_counts": {
                    "train": {"hello": 2, "thanks": 2, "yes": 2},
                    "val": {"hello": 1, "yes": 1},
                    "test": {"thanks": 1},
                },
                "leaks": {"source_videos_in_several_splits": 0, "signers_in_several_splits": 0},
                "signer_independent": True,
            }
        )
    )
    with open(dirs["ingest"] / "drop_report.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["clip_id", "label", "path", "reason", "detail"])
        writer.writerow(["w:1", "wave", "v/1.mp4", "class_below_min", "2 usable clips < min_per_class 3"])
        writer.writerow(["w:2", "wave", "v/2.mp4", "class_below_min", "2 usable clips < min_per_class 3"])
        writer.writerow(["w:3", "yes", "", "missing_file", "listed in missing.txt"])
    (dirs["records"] / "stats.json").write_text(
        json.dumps(
            {
                "counts": {
                    "train": {"hello": {"none": 2, "aug": 2}, "thanks": {"none": 2}, "yes": {"none": 2}},
                    "val": {"hello": {"none": 1}},
                    "test": {},
                }
            }
        )
    )
    history = {
        "loss": [1.1, 0.7, 0.4],
        "val_loss": [1.2, 0.9, 0.6],
        "accuracy": [0.3, 0.6, 0.9],
        "val_accuracy": [0.3, 0.5, 0.8],
    }
    (dirs["train"] / "history.json").write_text(json.dumps(history))
    plot_history(history, dirs["train"] / "training_curves.png")
    (dirs["train"] / "metrics.json").write_text(
        json.dumps({"epochs_run": 3, "test_accuracy": 0.9, "params": 1234})
    )
    evaluation = {
        "model": "s3dconv1d",
        "method": "ptq",
        "num_test_clips": 3,
        "num_classes": 3,
        "int8_accuracy": 0.9,
        "float32_accuracy": 0.95,
        "int8_top5_accuracy": 1.0,
        "float32_top5_accuracy": 1.0,
        "accuracy_delta": -0.05,
        "prediction_agreement": 0.93,
        "int8_vs_float32_latency_ratio": 0.5,
        "deployment_path": "whole clip",
        "labels": LABELS,
        "baselines": {"majority": {"accuracy": 0.34, "class": 0}, "nearest_neighbour": {"accuracy": 0.5}},
    }
    for precision, accuracy in (("int8", 0.9), ("float32", 0.95)):
        evaluation[precision] = {
            "accuracy": accuracy,
            "macro_f1": accuracy - 0.02,
            "classification_report_csv": f"/elsewhere/{precision}_classification_report.csv",
            "confusion_matrix_npy": f"/elsewhere/{precision}_confusion_matrix.npy",
            "confusion_matrix_png": f"/elsewhere/{precision}_confusion_matrix.png",
        }
    (dirs["evaluate"] / "metrics.json").write_text(json.dumps(evaluation))
    for precision in ("int8", "float32"):
        np.save(dirs["evaluate"] / f"{precision}_confusion_matrix.npy", np.diag([1, 1, 0]) + np.eye(3, k=1))
        plot_confusion_matrix(
            np.eye(3, dtype=int) * 3, LABELS, dirs["evaluate"] / f"{precision}_confusion_matrix.png"
        )
        with open(dirs["evaluate"] / f"{precision}_classification_report.csv", "w", newline="") as stream:
            csv.writer(stream).writerows(
                [["label", "precision", "recall", "f1-score", "support"], ["hello", "1.0", "1.0", "1.0", "3"]]
            )
    (dirs["mcu"] / "metrics.json").write_text(
        json.dumps(
            {
                "model": "s3dconv1d",
                "method": "ptq",
                "num_classes": 3,
                "arena_bytes": 25_000,
                "flash_bytes": 60_000,
                "total_sram_bytes": 25_000,
                "macs_per_clip": 1000,
                "parts": {
                    "model": {
                        "file": "s3d_conv1d_int8_3.tflite",
                        "arena_bytes": 25_000,
                        "flash_bytes": 60_000,
                        "macs": 1000,
                        "ops": {"CONV_2D": 4, "MEAN": 1},
                    }
                },
                "budgets": {
                    "arena": {"limit_bytes": 20_000, "value_bytes": 25_000, "passed": False, "what": "arena"},
                    "flash": {"limit_bytes": 100_000, "value_bytes": 60_000, "passed": True, "what": "flash"},
                },
                "targets": [
                    {
                        "target": "Cortex-M4",
                        "note": "",
                        "sram_needed": 25_000,
                        "sram_bytes": 262_144,
                        "flash_needed": 60_000,
                        "flash_bytes": 1_048_576,
                        "fits": True,
                        "source": "tflite-micro",
                    }
                ],
                "tflm_vs_litert": {"bit_exact": True, "clips": 1, "reference": "LiteRT BUILTIN_REF kernels"},
            }
        )
    )
    (dirs["quantize"] / "s3d_conv1d_int8_3.tflite").write_bytes(b"model")
    (dirs["quantize"] / "labels.txt").write_text("\n".join(LABELS) + "\n")
    run_bless(dirs["quantize"], dirs["evaluate"], dirs["mcu"], dirs["bless"], CONFIG)
    return dirs


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_full_report_is_self_contained(tmp_path):
    dirs = write_run(tmp_path / "run")
    path = report.build_report(dirs, tmp_path / "out" / "report.html")
    html = path.read_text()
    images = re.findall(r"<img [^>]*src='([^']*)'", html)
    assert len(images) == 3  # class distribution, training curves, the confusion matrices side by side
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", html)  # nothing loaded from outside
    text = text_of(html)
    for heading in (
        "Summary",
        "Data: ingest, drop report, distributions",
        "Training",
        "Evaluation: float32 vs INT8",
        "Microcontroller budget",
        "Blessing",
    ):
        assert f"<h2>{heading}</h2>" in html.replace("&amp;", "&")
    assert "NOT BLESSED" in text  # the arena (25 000 B) is over the 20 000 B budget
    assert "class_below_min 2" in text and "missing_file 1" in text
    assert "accuracy 0.9500 0.9000 -0.0500" in text  # float32 | INT8 | delta
    assert "arena (arena) 25,000 20,000 FAIL" in text and "flash (flash) 60,000 100,000 pass" in text
    assert "signer-independent" in text and "s1, s2" in text
    assert "Cortex-M4" in text and "bit-exact" in text
    assert "FAIL: tensor arena within budget: 25000 B > 20000 B" in text
    assert "baselines.nearest_neighbour.accuracy 0.5000" in text
    assert "Live spotting Not measured: the s3dconv1d model classifies whole clips" in text
    assert "hello 50% of 2 thanks 50% of 2" in text  # per-class accuracy bars (INT8 confusion matrix)
    assert "arena (arena) 25,000 B of 20,000 B (125%)" in text  # the budget bars
    assert "config not recorded" in text  # stage folders written by hand: only bless recorded its keys
    assert "config key value read by" in text and "min_int8_accuracy 0.5 bless" in text


def test_missing_stages_are_reported_not_fatal(tmp_path):
    dirs = write_run(tmp_path / "run")
    partial = {"ingest": dirs["ingest"], "records": tmp_path / "nope", "train": None}
    text = text_of(report.build_report(partial, tmp_path / "partial.html").read_text())
    assert "not available: no train output" in text
    assert "not available: no evaluate output" in text and "not available: no mcu output" in text
    assert "no blessing decision" in text
    assert "class_below_min 2" in text  # what is there is still shown
    assert "clips per class" in text or "class distribution" in text


def test_cli_reads_a_run_folder(tmp_path, capsys):
    write_run(tmp_path / "run")
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    args = parser.parse_args(["--run", str(tmp_path / "run"), "--out", str(tmp_path / "r.html")])
    assert report.run(args, Config()) == 0
    assert capsys.readouterr().out.strip() == f"report: {tmp_path / 'r.html'}"
    assert "Cortex-M4" in (tmp_path / "r.html").read_text()
