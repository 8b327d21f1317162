"""The bad-input corpus (tests/bad_inputs.py) through the CLI's ingest and the Beam extraction.

Each case must end in a drop-report row, a kept clip, or one clear error line; never a traceback;
and found = kept + dropped (ingest) and clips = extracted + failed (extraction) always hold.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bad_inputs import CASES, Case, folder, huge_frames
from tinysign.config import Config
from tinysign.extract import run_extract

TINY = ("min_per_class=2", "num_frames=8", "img_size=16", "augment_copies=1", "fps_targets=[15,30]")
DOC = Path(__file__).with_name("BAD_INPUTS.md")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.mark.bad_input
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    sources = case.build(tmp_path)
    before = files_under(tmp_path)
    out = tmp_path / "out"
    overrides = [arg for item in (*TINY, *case.overrides) for arg in ("--set", item)]
    result = subprocess.run(
        [sys.executable, "-m", "tinysign.cli", "ingest", *sources, "--out", str(out), "--quiet", *overrides],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    report = out / "drop_report.csv"
    if case.outcome == "error":
        assert result.returncode == 1, result.stdout + result.stderr  # runtime error (2 = usage)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert case.expect in result.stderr
        if report.exists():  # the error came after reading the inputs: the report still reconciles
            metrics = json.loads((out / "metrics.json").read_text())
            with open(report, newline="") as stream:
                assert metrics["found"] == metrics["kept"] + len(list(csv.DictReader(stream))) > 0
        return
    assert result.returncode == 0, result.stderr
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    with open(report, newline="") as stream:
        drops = list(csv.DictReader(stream))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["found"] == len(manifest) + len(drops) == metrics["kept"] + metrics["dropped"]
    assert f"found {metrics['found']} = kept {len(manifest)} + dropped {len(drops)}" in result.stdout
    assert len(manifest) >= 4, "the healthy core must survive one bad input"
    if case.outcome == "drop":
        assert [d for d in drops if d["reason"] == case.expect], drops
        assert len(manifest) == 4, "exactly the healthy core is kept"
    else:
        assert any(case.expect in row["clip_id"] or case.expect in row["path"] for row in manifest), manifest
    config = Config.load(None, list(TINY) + list(case.overrides))
    extracted = run_extract(out / "manifest.jsonl", out / "records", config)
    assert (
        extracted["clips_in_manifest"]
        == len(manifest)
        == extracted["clips_extracted"] + extracted["clips_failed"]
    )
    assert extracted["clips_failed"] == 0  # everything that passed the probe decodes
    created = files_under(tmp_path) - before
    assert all(out in path.parents for path in created), "a file was written outside the output folder"


def test_corpus_is_large_and_documented() -> None:
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)
    documented = DOC.read_text()
    missing = [c.name for c in CASES if f"`{c.name}`" not in documented]
    assert not missing, f"add these cases to {DOC.name}: {missing}"


PEAK = (
    "import sys; from tinysign.cli import main; status = main(sys.argv[1:]); "
    "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')), file=sys.stderr); "
    "sys.exit(status)"
)


def peak_rss_mib(args: list[str]) -> tuple[int, float]:
    """Run ``tinysign args``; its exit status and its own peak resident memory in MiB (``VmHWM`` of
    its process image: not the test process's pages a forked child starts with)."""
    result = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, timeout=300)
    return result.returncode, int(result.stderr.split("VmHWM:")[1].split()[0]) / 1024


def test_huge_frames_are_dropped_before_decoding(tmp_path: Path) -> None:
    """Three small files declaring 4800x4800 frames: dropped from the container's metadata, and ingest's
    memory stays flat; with the bound raised the same probe decodes them and memory climbs."""
    sources = folder(tmp_path)
    for k in range(3):
        huge_frames(Path(sources[0]), name=f"huge{k}.avi")
    ingest = ["ingest", *sources, "--quiet", "--set", "min_per_class=2"]
    status, bounded = peak_rss_mib([*ingest, "--out", str(tmp_path / "bounded")])
    assert status == 0
    drops = list(csv.DictReader(open(tmp_path / "bounded" / "drop_report.csv", newline="")))
    assert [d["reason"] for d in drops] == ["too_large"] * 3, drops
    status, unbounded = peak_rss_mib(
        [*ingest, "--out", str(tmp_path / "unbounded"), "--set", "max_frame_size=8192"]
    )
    print(f"ingest peak RSS: {bounded:.0f} MiB bounded, {unbounded:.0f} MiB decoding the huge frames")
    assert status == 0 and bounded < 200 < unbounded, (bounded, unbounded)
