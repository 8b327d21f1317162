"""The bad-input corpus (tests/bad_inputs.py) through the CLI's ingest and the Beam extraction.

Each case must end in a drop-report row, a kept clip, or one clear error line; never a traceback;
and found = kept + dropped (ingest) and clips = extracted + failed (extraction) always hold.
"""

from __future__ import annotations

import csv
import json
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import (
    CASES,
    STAGE_CASES,
    Case,
    Inputs,
    StageCase,
    folder,
    huge_frames,
    stage_command,
    video,
)
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


# --- past ingest --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    """Real stage outputs made once: a tiny streaming model, its records (+ ``stats.json``), a video, a
    dataset and its manifest."""
    from tests.tiny_models import quantized_model, shared_records
    from tinysign.data import records
    from tinysign.ingest import run_ingest

    root = tmp_path_factory.mktemp("stage-inputs")
    source = shared_records(tmp_path_factory)
    schema = records.read_schema(source)
    counts = {  # what extraction writes: train trusts it and reads the shards only through tf.data
        split: {label: {"fps30": int(n)} for label, n in zip(schema["labels"], counts, strict=True)}
        for split in ("train", "val", "test")
        for counts in [records.label_counts(source, split, schema["labels"])]
    }
    shutil.copytree(source, root / "records")
    (root / "records" / "stats.json").write_text(json.dumps({"counts": counts}))
    dataset = Path(folder(root)[0])
    run_ingest([str(dataset)], root / "ingest", Config.load(None, list(TINY)), progress=False)
    return Inputs(
        quant=quantized_model(tmp_path_factory, "streaming"),
        records=root / "records",
        video=video(root / "clip.mp4", frames=30),
        dataset=dataset,
        manifest=root / "ingest" / "manifest.jsonl",
        out=root,
    )


def limited(size: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that caps the size of every file the process writes (a full disk: EFBIG)."""
    if not size:
        return None
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.slow
@pytest.mark.bad_input
@pytest.mark.parametrize("case", STAGE_CASES, ids=[c.name for c in STAGE_CASES])
def test_bad_stage_input(case: StageCase, stage_inputs: Inputs, tmp_path: Path) -> None:
    inputs = Inputs(
        quant=Path(shutil.copytree(stage_inputs.quant, tmp_path / "quant")),
        records=Path(shutil.copytree(stage_inputs.records, tmp_path / "records")),
        video=stage_inputs.video,
        dataset=stage_inputs.dataset,
        manifest=stage_inputs.manifest,
        out=tmp_path,
    )
    case.damage(inputs)
    for command in case.commands:
        result = subprocess.run(
            [sys.executable, "-m", "tinysign.cli", *stage_command(command, inputs)],
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=limited(case.file_size_limit),
        )
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 1 and len(errors) == 1 and case.expect in errors[0], (
            command,
            result.stderr,
        )


def test_stage_corpus_is_documented() -> None:
    documented = DOC.read_text()
    assert not [c.name for c in STAGE_CASES if f"`{c.name}`" not in documented]


def test_a_gloss_is_drawn_as_text_never_as_markup(tmp_path: Path) -> None:
    """Glosses with mathtext syntax through every plot that shows labels (matplotlib's parser raised on
    ``$\\frac{$`` after training, before labels.txt and metrics.json were written)."""
    from tinysign.reporting.plots import plot_confusion_matrix, plot_distribution, plot_timeline

    labels = ["$x^2$", "$\\frac{$", "a_b^c", "rest"]
    plot_confusion_matrix(np.eye(4, dtype=int), labels, tmp_path / "cm.png", title="$title")
    plot_distribution({"train": [1, 2, 3, 4]}, labels, tmp_path / "dist.png")
    times = np.arange(5) / 10
    plot_timeline(
        times,
        np.full((5, 4), 0.5),
        labels,
        [(0.1, 0.3, "$x")],
        [(0.2, "$\\frac{$", True)],
        0.6,
        tmp_path / "t.png",
    )
    assert all((tmp_path / name).stat().st_size > 0 for name in ("cm.png", "dist.png", "t.png"))
