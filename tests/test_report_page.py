"""The report of a real run, as a person sees it: rendered by headless Chromium.

A tiny but complete run of the streaming model on the demo data (two epochs; every stage function,
stream records included) is reported by ``tinysign report --run``; Chromium loads the page and a
script reads what it drew: every section, every image decoded, the bars laid out, and no "not
available" anywhere the run has the data. The page also says what produced it (the config the
stages used, not today's defaults), the accuracy with its clip count and interval, and that the data
is synthetic.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_report import HEADINGS
from tinysign.bless import run_bless
from tinysign.cli import main
from tinysign.config import Config
from tinysign.enroll import run_pipeline_enroll
from tinysign.evaluate import run_evaluate
from tinysign.mcu import run_mcu_check
from tinysign.quantize import run_quantize
from tinysign.reporting.tables import to_html
from tinysign.reporting.views import accuracy_line, spotting_table
from tinysign.summaries import read_stamp, read_summary
from tinysign.train import run_train

pytestmark = pytest.mark.slow  # a real run: ~2 min on 2 cores
TINY = Config(epochs=2, lr_schedule="constant", calibration_samples=16)
# Loads the report in a frame and writes what the browser made of it into the page (dumped below).
CHECKER = """<!DOCTYPE html><html><body>
<iframe id=page src="report.html" style="width:1200px;height:900px"></iframe><pre id=out>not loaded</pre>
<script>
document.getElementById('page').onload = () => {
  const d = document.getElementById('page').contentDocument;
  const images = [...d.images];
  document.getElementById('out').textContent = JSON.stringify({
    sections: [...d.querySelectorAll('h2')].map(h => h.textContent),
    images: images.length,
    drawn: images.filter(i => i.complete && i.naturalWidth > 0).length,
    bars: [...d.querySelectorAll('.fill')].map(
      f => f.getBoundingClientRect().width / f.parentElement.getBoundingClientRect().width),
    text: d.body.innerText,
  });
};
</script></body></html>
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, demo_ingest: Path, demo_records: Path) -> Path:
    """A run folder as ``make ingest extract train quantize evaluate mcu`` + bless leave it."""
    root = tmp_path_factory.mktemp("run") / "tiny-demo"
    root.mkdir()
    (root / "ingest").symlink_to(demo_ingest, target_is_directory=True)
    (root / "records").symlink_to(demo_records, target_is_directory=True)
    run_train(demo_records, root / "train", TINY)
    run_quantize(root / "train", demo_records, root / "quantize", TINY)
    run_evaluate(root / "quantize", demo_records, root / "evaluate", TINY)
    run_mcu_check(root / "quantize", demo_records, root / "mcu", TINY)
    run_pipeline_enroll(root / "quantize", "", root / "enroll", TINY)  # no new signs
    run_bless(root / "quantize", root / "evaluate", root / "mcu", root / "bless", TINY)
    return root


def rendered(page: Path) -> dict:
    """What headless Chromium drew of ``page``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install chromium; .ci/run installs it)")
    (page.parent / "check.html").write_text(CHECKER)
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--allow-file-access-from-files",  # the checker reads the report's frame
            "--virtual-time-budget=20000",
            "--dump-dom",
            (page.parent / "check.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r"<pre id=\"out\">(.*?)</pre>", dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def test_the_page_renders_every_section_with_its_data(run, tmp_path, capsys):
    page = tmp_path / "report.html"
    assert main(["report", "--run", str(run), "--out", str(page)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {page}"
    shown = rendered(page)
    assert shown["sections"] == list(HEADINGS)
    # class distribution, training curves + learning rate, confusion matrices, precision-recall, timeline
    assert shown["images"] == shown["drawn"] >= 5
    # the bars (a class's accuracy, arena and flash against their budgets) drawn as long as the page says
    widths = [
        float(w) / 100 for w in re.findall(r"class='fill[^']*' style='width:([\d.]+)%'", page.read_text())
    ]
    assert len(shown["bars"]) == len(widths) >= 8 + 2
    assert shown["bars"] == pytest.approx(widths, abs=0.01) and max(widths) > 0
    text = shown["text"]
    assert "not available" not in text and "could not" not in text
    assert "No firmware run for this model" in text and "No signs enrolled" in text  # not run here

    evaluation, ingest = read_summary(run / "evaluate"), read_summary(run / "ingest")
    assert f"INT8 test accuracy {accuracy_line(evaluation)}" in text  # type: ignore[arg-type]
    assert f"on {evaluation['num_test_clips']} test clips (95 % CI " in text
    assert "synthetic data (tinysign data demo)" in text
    assert to_html(spotting_table(evaluation["spotting"])) in page.read_text()  # type: ignore[arg-type]
    # what produced it: the run, the code, the data, each stage's time, the config the stages used
    stamp = read_stamp(run / "train")
    assert stamp is not None and stamp["config"]["epochs"] == 2
    assert "run: tiny-demo" in text and f"tinysign {stamp['version']}" in text
    assert f"fingerprint {ingest['data_fingerprint']}, synthetic" in text
    assert "model=streaming, quantization=ptq, epochs=2" in text  # not the default 40
    for stage in ("ingest", "train", "quantize", "evaluate", "mcu", "bless"):
        assert re.search(rf"{stage}\s+\d+\.\d s", text), stage


def test_a_pipeline_run_folder_points_to_its_report(run, tmp_path, capsys):
    (tmp_path / "pipeline_root").mkdir()
    assert main(["report", "--run", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: {tmp_path}: no stage output (a pipeline run folder: its report is "
        f"{tmp_path / 'report.html'}, written by every run)\n"
    )
