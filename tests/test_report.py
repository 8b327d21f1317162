"""The HTML report of a real tiny run: self-contained (PNGs as base64), every section, tolerant of
missing stages.

Every ``metrics.json`` is written by the stage function itself (ingest of the demo data, the session's
tiny trained and quantized model, then evaluate, mcu, enroll and bless), so a change to a stage's
summary that the report does not follow fails here.
"""

from __future__ import annotations

import argparse
import base64
import html as htmllib
import json
import re
from pathlib import Path

import pytest

from tests.tiny_models import SMALL, quantized_model, shared_records, trained_model
from tinysign import report
from tinysign.bless import run_bless
from tinysign.config import Config
from tinysign.enroll import run_pipeline_enroll
from tinysign.evaluate import run_evaluate
from tinysign.mcu import run_mcu_check
from tinysign.reporting.tables import to_html
from tinysign.reporting.views import (
    accuracy_line,
    blessing_table,
    evaluation_tables,
    firmware_tables,
    mcu_tables,
    split_table,
)
from tinysign.summaries import read_decision, read_summary

TIGHT = SMALL.replace(arena_budget_bytes=1024)  # an arena budget no model meets: NOT BLESSED
HEADINGS = (
    "Summary",
    "What produced this run",
    "Data: ingest, drop report, distributions",
    "Training",
    "Evaluation: float32 vs INT8",
    "Live spotting",
    "Microcontroller budget",
    "Firmware on emulated Cortex-M",
    "Few-shot enrollment",
    "Blessing",
)
# A real run costs ~20 s beyond the session's shared tiny model (the demo's ingest, evaluate, mcu).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory, demo_ingest: Path) -> dict[str, Path]:
    """The stage folders of a tiny real run (the demo's ingest; the shared tiny s3dconv1d model)."""
    root = tmp_path_factory.mktemp("run")
    records, quant = shared_records(tmp_path_factory), quantized_model(tmp_path_factory, "s3dconv1d")
    dirs = {
        "ingest": demo_ingest,
        "records": records,
        "train": trained_model(tmp_path_factory, "s3dconv1d"),
        "quantize": quant,
        **{stage: root / stage for stage in ("evaluate", "mcu", "enroll", "bless")},
    }
    run_evaluate(quant, records, dirs["evaluate"], SMALL)
    run_mcu_check(quant, records, dirs["mcu"], TIGHT)
    run_pipeline_enroll(quant, "", dirs["enroll"], SMALL)  # no enroll_data: a skipped summary
    run_bless(quant, dirs["evaluate"], dirs["mcu"], dirs["bless"], TIGHT)
    return dirs


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_full_report_is_self_contained_and_renders_every_summary(run_dirs, tmp_path):
    page = report.build_report(run_dirs, tmp_path / "out" / "report.html").read_text()
    images = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(images) == 3  # class distribution, training curves, the confusion matrices side by side
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page)  # nothing loaded from outside
    for heading in HEADINGS:
        assert f"<h2>{htmllib.escape(heading)}</h2>" in page
    ingest, evaluation, mcu = (read_summary(run_dirs[s]) for s in ("ingest", "evaluate", "mcu"))
    decision = read_decision(run_dirs["bless"])
    assert decision is not None and not decision["blessed"]
    # every view of every stage summary, exactly as the shared views build it
    for table in (
        split_table(ingest),
        *evaluation_tables(evaluation),
        *mcu_tables(mcu),
        blessing_table(decision),
    ):
        assert to_html(table) in page, table.title or table.header
    text = text_of(page)
    assert "NOT BLESSED" in text and "FAIL: tensor arena within budget" in text
    assert all(reason in text for reason in decision["reasons"])
    assert all(f"{reason} {count}" in text for reason, count in ingest["drop_reasons"].items())
    assert "No signs enrolled" in text and "all metrics (" in text
    # the config the stages used (their stamps), not a default: the model was trained as s3dconv1d
    assert "model=s3dconv1d, quantization=ptq, epochs=2" in text
    assert "Not measured: the s3dconv1d model classifies whole clips" in text  # no live spotting
    assert "No firmware run for this model" in text
    assert f"INT8 test accuracy {accuracy_line(evaluation)}" in text  # count and 95 % interval


def test_missing_stages_are_reported_not_fatal(run_dirs, tmp_path):
    partial = {"ingest": run_dirs["ingest"], "records": tmp_path / "nope", "train": None}
    text = text_of(report.build_report(partial, tmp_path / "partial.html").read_text())
    assert "not available: no train output" in text
    assert "not available: no evaluate output" in text and "not available: no mcu output" in text
    assert "no blessing decision" in text
    dropped = read_summary(run_dirs["ingest"])["drop_reasons"]
    assert all(f"{reason} {count}" in text for reason, count in dropped.items())  # what is there is shown
    assert "class distribution" in text  # drawn from the ingest class counts


def test_cli_reads_a_run_folder(run_dirs, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for stage, folder in run_dirs.items():
        (run / stage).symlink_to(folder, target_is_directory=True)
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    args = parser.parse_args(["--run", str(run), "--out", str(tmp_path / "r.html")])
    assert report.run(args, Config()) == 0
    assert capsys.readouterr().out.strip() == f"report: {tmp_path / 'r.html'}"
    assert to_html(mcu_tables(read_summary(run_dirs["mcu"]))[0]) in (tmp_path / "r.html").read_text()


def test_firmware_numbers_when_the_firmware_was_run(run_dirs, tmp_path):
    """``tinysign firmware``'s summary beside the stage folders (tests/data/firmware_summary.json: what the
    firmware stage wrote for two boards) is shown as the firmware views build it."""
    summary = json.loads((Path(__file__).parent / "data" / "firmware_summary.json").read_text())
    (tmp_path / "firmware").mkdir()
    (tmp_path / "firmware" / "metrics.json").write_text(json.dumps(summary))
    page = report.build_report(
        {**run_dirs, "firmware": tmp_path / "firmware"}, tmp_path / "r.html"
    ).read_text()
    for table in firmware_tables(summary):
        assert to_html(table) in page, table.title
    assert "No firmware run" not in page
