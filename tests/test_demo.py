"""The synthetic data generator: the demo set, and deterministic scale sets of N classes x M clips."""

from __future__ import annotations

import hashlib
import json

from tinysign.config import Config
from tinysign.demo import generate_demo, gloss_names
from tinysign.ingest import run_ingest


def digest(root) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


def test_scale_set_has_exactly_n_classes_times_m_clips_and_is_deterministic(tmp_path):
    first = generate_demo(tmp_path / "a", progress=False, classes=12, clips_per_class=3)
    again = generate_demo(tmp_path / "b", progress=False, classes=12, clips_per_class=3)
    assert digest(first) == digest(again)
    glosses = json.loads((first / "WLASL_v0.3.json").read_text())
    assert [g["gloss"] for g in glosses] == gloss_names(12) and gloss_names(12)[-1] == "sign0011"
    assert all(len(g["instances"]) == 3 for g in glosses) and len(list((first / "videos").iterdir())) == 36
    metrics = run_ingest([str(first)], tmp_path / "ingest", Config(min_per_class=3), progress=False)
    assert metrics["found"] == metrics["kept"] == 36 and metrics["num_classes"] == 10 + 1  # 2 signs unknown
