"""The whole pipeline through ``kfp.local`` (SubprocessRunner) on a small video set, then a cached rerun."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from pipelines.local_run import local_image, next_steps, run_local
from tinysign import demo
from tinysign.config import Config
from tinysign.data.storage import fingerprint
from tinysign.ops.runs import compare_table, local_runs, runs_table
from tinysign.reporting.tables import to_markdown

GLOSSES = ("hello", "thanks", "no")
# Small and quick, yet learnable: 3 glosses x 8 signers, the streaming (MCU) model.
PARAMS = {
    "model": "streaming",
    "epochs": 60,
    "learning_rate": 0.003,
    "augment_copies": 0,
    "min_per_class": 6,
    "fps_targets": [15, 30],
    "unknown_share": 0,  # three signs are too few to spare one for `unknown`: all said, plus `rest`
    # two vocabulary clips in the test stream: one wrong emission is precision 0.67 (< 0.85) and the
    # blessing turned on a coin; this test is about the pipeline's steps, caching and gates
    "min_spot_precision": 0.0,
}
# every task of the compiled pipeline, as pinned by tests/data/pipeline_interface.json
TASKS = set(json.loads((Path(__file__).parent / "data" / "pipeline_interface.json").read_text())["tasks"])
NEW_GLOSSES = ("yes", "please")  # enrolled after training from a few clips each


def write_videos(root: Path, signers: int = 8, first: int = 0, glosses: tuple[str, ...] = GLOSSES) -> Path:
    """``<root>/<gloss>/<signer>.mp4`` rendered by the demo generator (deterministic)."""
    rng = np.random.default_rng(first)
    for gloss in glosses:
        (root / gloss).mkdir(parents=True, exist_ok=True)
        for signer in demo.make_signers(3)[first:signers]:
            demo.write_video(
                root / gloss / f"s{signer.signer_id}.mp4", demo.render_clip(gloss, signer, rng), signer.fps
            )
    return root


README = Path(__file__).parents[1] / "README.md"
# a model version, a pipeline run, a placeholder: whatever this run named them
RUN_NAMES = r"<[^>]+>|\d{8}-\d{6}-[0-9a-f]{8}|tinysign-training-[\d-]+"


def readme_paths() -> set[str]:
    """The paths under ``runs/local`` the README names (``make run``'s out folder), but the demo data,
    which ``make run`` generates before the pipeline (the tests bring their own videos)."""
    named = {p.rstrip("/.") for p in re.findall(r"runs/local/[\w./<>-]+", README.read_text())}
    return {p for p in named if not p.startswith("runs/local/demo-data")}


def run_dirs(out: Path) -> list[Path]:
    return sorted((out / "pipeline_root").iterdir(), key=lambda p: p.name)


def test_data_fingerprint_follows_the_files(tmp_path):
    data = write_videos(tmp_path / "data", signers=1)
    before = fingerprint(str(data))
    assert before == fingerprint(str(data)) and len(before) == 16
    clip = data / "hello" / "s100.mp4"
    os.utime(clip, ns=(clip.stat().st_atime_ns, clip.stat().st_mtime_ns + 1_000_000_000))
    assert fingerprint(str(data)) != before
    # the local "image" (only a cache key) carries a hash of the package sources
    assert local_image() == local_image() and local_image().startswith(f"{Config().image}-local-")


@pytest.mark.slow
def test_local_pipeline_run_then_cached_rerun(tmp_path):
    data = write_videos(tmp_path / "data")
    before = fingerprint(str(data))
    out = tmp_path / "run"
    new_signs = write_videos(tmp_path / "new-signs", signers=6, glosses=NEW_GLOSSES)
    first = run_local(data, out, {**PARAMS, "enroll_data": str(new_signs)})

    [run] = run_dirs(out)
    # enroll_data given: enroll ran and its dsl.Else branch did not; blessed and new: push ran
    assert {p.name for p in run.iterdir() if p.is_dir()} == TASKS - {"no-enrollment"}
    decision = first["decision"]
    assert decision["blessed"] and decision["pushed"], decision["reasons"]
    model = Path(decision["model_uri"])
    assert model.parent == out / "models"
    assert sorted(p.name for p in model.glob("*int8*.tflite")) == [
        "streaming_frame_int8_4.tflite",
        "streaming_head_int8_4.tflite",
    ]
    assert (model / "mcu" / "model_data.cc").is_file() and (model / "labels.txt").read_text().split() == [
        "hello",
        "no",
        "thanks",
        "rest",
    ]
    assert json.loads((out / "models" / "champion.json").read_text())["version"] == decision["version"]

    html = Path(first["report"]).read_text()
    assert "BLESSED" in html and "Microcontroller budget" in html and "Drop report" in html
    assert len(re.findall(r"src='data:image/png;base64,", html)) >= 5
    assert f"run: {run.name}" in html and f"fingerprint {before}" in html and "epochs" in html
    # every path the README names under runs/local is there after a run
    for path in readme_paths():
        pattern = re.sub(RUN_NAMES, "*", path.removeprefix("runs/local/"))
        assert list(out.glob(pattern)), path
    # what to do next: the report, the model it blessed, this run's training curves
    steps = next_steps(first, data)
    assert str(model.name) in steps[1] and Path(first["tensorboard"]).is_dir()
    assert any(Path(first["tensorboard"]).rglob("events.out.tfevents.*"))
    # the new signs were enrolled after training: accuracy against k and the head's MCU numbers
    enrolled = json.loads((run / "enroll" / "executor_output.json").read_text())["artifacts"]
    logged = enrolled["metrics"]["artifacts"][0]["metadata"]
    assert logged["num_classes"] == 2 and logged["head_mcu.max_abs_diff_lsb"] <= 1
    assert {"accuracy_vs_k.1.mean", "accuracy_vs_k.3.mean", "accuracy_vs_k.5.mean"} <= set(logged)
    assert (
        "Few-shot enrollment" in html and "accuracy against k" in html and "Prototype head on the MCU" in html
    )

    # KFP UI-native outputs: metrics and the confusion matrix on the evaluate task, decision as Markdown
    outputs = json.loads((run / "evaluate" / "executor_output.json").read_text())["artifacts"]
    metrics = outputs["metrics"]["artifacts"][0]["metadata"]
    assert metrics["int8_accuracy"] == decision["int8_accuracy"]
    matrix = outputs["confusion"]["artifacts"][0]["metadata"]["confusionMatrix"]
    assert [a["displayName"] for a in matrix["annotationSpecs"]] == ["hello", "no", "thanks", "rest"]
    assert (run / "bless" / "decision").read_text().startswith("**Blessed: version")

    second = run_local(data, out, PARAMS)
    rerun = run_dirs(out)[-1]
    assert rerun != run
    # unchanged data: every step came from the kfp.local cache except data-version (looks at the data),
    # the no-enrollment branch (no enroll_data this time: enroll is skipped), bless (reads the champion)
    # and the report; the model is the champion: nothing to push, the push step is skipped
    expected = {"data-version", "no-enrollment", "bless", "report"}
    assert {p.name for p in rerun.iterdir() if p.is_dir()} == expected
    again = second["decision"]
    assert again["blessed"] and not again["pushed"] and "identical to champion" in again["reasons"][-1]
    assert {p.name for p in (out / "models").iterdir()} == {"champion.json", decision["version"]}

    # a changed training parameter re-runs training and what follows it, never ingest or extraction
    third = run_local(data, out, {**PARAMS, "quantization": "qat", "qat_epochs": 1})
    rerun = run_dirs(out)[-1]
    pushed = {"push"} if third["decision"]["pushed"] else set()
    unchanged = {"ingest", "extract", "train", "enroll", "no-enrollment", "push"}
    assert {p.name for p in rerun.iterdir() if p.is_dir()} == TASKS - unchanged | pushed
    assert third["decision"]["int8_accuracy"] is not None

    # one more video under the same folder: ingest and everything after it run again
    write_videos(data, signers=9, first=8)
    fourth = run_local(data, out, PARAMS)
    rerun = run_dirs(out)[-1]
    pushed = {"push"} if fourth["decision"]["pushed"] else set()
    skipped = {"resolve-config", "enroll", "no-enrollment", "push"}
    assert {p.name for p in rerun.iterdir() if p.is_dir()} == TASKS - skipped | pushed
    assert decision["data_version"] == before != fourth["decision"]["data_version"] == fingerprint(str(data))

    # tinysign runs: the four runs side by side; the first and the last differ in their data
    rows = local_runs(out)
    assert [r.values["data fingerprint"] for r in rows] == [before] * 3 + [fingerprint(str(data))]
    assert all(r.values["model"] == "streaming" and r.values["arena"] > 0 for r in rows)
    compared = compare_table(rows[0], rows[-1])
    changed = {row[0] for row in compared.rows if str(row[-1]) == "changed"}
    assert "data fingerprint" in changed and "model" not in changed
    # the settings that produced the third run: its config keys beside the first's
    qat = {row[0] for row in compare_table(rows[0], rows[2]).rows if str(row[-1]) == "changed"}
    assert {"config: quantization", "config: qat_epochs"} <= qat
    print(to_markdown(runs_table(rows)), to_markdown(compared), sep="\n")  # the README shows this output
