"""One self-contained HTML report of a pipeline run (PNGs embedded as base64, no external files).

It reads each stage folder's typed summary (``metrics.json``) and the files the stages name, and
renders the shared views (:mod:`tinysign.reporting.views`): the blessing verdict and headline
numbers, the split and drop report, class distributions, training curves, float vs INT8 accuracy
with the trivial baselines, confusion matrices and classification reports, the MCU budget tables and
the blessing checks. A section whose input is missing says so instead of failing, so the report also
works on a partial run.

``tinysign report --run DIR`` reads ``DIR/{ingest,records,train,quantize,evaluate,mcu,enroll,bless}``;
single folders can be given instead (``--train DIR`` ...).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tinysign.artifacts import (
    DISTRIBUTION_PLOT,
    DROP_REPORT_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    REPORT_FILE,
    STAGE_ALIASES,
    STAGES,
    STATS_FILE,
    TRAINING_CURVES,
)
from tinysign.config import Config
from tinysign.data.manifest import read_drop_report
from tinysign.errors import TinysignError
from tinysign.model.files import PRECISIONS
from tinysign.reporting import html
from tinysign.reporting.plots import plot_accuracy_vs_k, plot_distribution, plot_history
from tinysign.reporting.tables import Table, to_html
from tinysign.reporting.views import (
    blessing_table,
    enrollment_tables,
    evaluation_tables,
    mcu_tables,
    split_table,
)
from tinysign.summaries import read_decision, read_summary, scalar_metrics

MAX_DROP_ROWS = 25
SETTINGS = ("model", "quantization", "epochs", "batch_size", "img_size", "num_frames", "fps_targets")


class _Run:
    """The stage folders of one run, their summaries, and a scratch folder for generated plots."""

    def __init__(self, dirs: Mapping[str, Path | None], scratch: Path) -> None:
        self.dirs = dirs
        self.scratch = scratch

    def dir(self, stage: str) -> Path | None:
        path = self.dirs.get(stage)
        return path if path is not None and path.is_dir() else None

    def summary(self, stage: str) -> dict[str, Any]:
        return read_summary(self.dir(stage))

    def file(self, stage: str, name: str) -> Path | None:
        """A file a stage wrote, by its name (``None`` when absent)."""
        folder = self.dir(stage)
        path = folder / Path(name).name if folder else None
        return path if path is not None and path.is_file() else None

    def json(self, stage: str, name: str) -> Any:
        path = self.file(stage, name)
        return json.loads(path.read_text()) if path else None

    def absent(self, stage: str) -> str:
        given = self.dirs.get(stage)
        return html.missing(f"not available: no {stage} output{f' ({given})' if given is not None else ''}")

    def plot(self, draw: Callable[[Path], Path], name: str) -> str:
        try:
            return html.image(draw(self.scratch / name))
        except Exception as exc:  # a plot is a nicety: never fail the report over one
            return html.missing(f"could not draw {name}: {exc}")


def _all_metrics(summary: Mapping[str, Any]) -> str:
    flat = scalar_metrics(summary)
    if not flat:
        return ""
    return html.details(f"all metrics ({len(flat)})", to_html(Table(("metric", "value"), list(flat.items()))))


# --- sections ------------------------------------------------------------------------------------------


def _summary(run: _Run) -> str:
    decision = read_decision(run.dir("bless")) if run.dir("bless") else None
    parts = []
    if decision:
        pushed = f" — pushed to {decision['model_uri']}" if decision.get("pushed") else ""
        parts.append(
            html.verdict_banner(
                decision["blessed"], ("BLESSED" if decision["blessed"] else "NOT BLESSED") + pushed
            )
        )
    else:
        parts.append(html.missing("no blessing decision (bless stage output missing)"))
    evaluation, mcu = run.summary("evaluate"), run.summary("mcu")
    rows = [
        ("INT8 test accuracy", evaluation.get("int8_accuracy")),
        ("float32 test accuracy", evaluation.get("float32_accuracy")),
        ("tensor arena (bytes)", mcu.get("arena_bytes")),
        ("flash (bytes)", mcu.get("flash_bytes")),
    ]
    parts.append(to_html(Table(("headline", "value"), rows)))
    return "".join(parts)


def _data(run: _Run) -> str:
    ingest = run.summary("ingest")
    if ingest:
        counts = Table(
            ("clips", "count"), [(k, ingest[k]) for k in ("found", "kept", "dropped", "num_classes")]
        )
        leaks = Table(
            ("leakage check", "count"), [(k.replace("_", " "), v) for k, v in ingest["leaks"].items()]
        )
        parts = [to_html(counts), to_html(split_table(ingest)), to_html(leaks)]
    else:
        parts = [run.absent("ingest")]
    parts.append("<h3>Drop report</h3>" + _drop_report(run))
    parts.append("<h3>Class distribution</h3>" + _distribution(run))
    return "".join(parts)


def _drop_report(run: _Run) -> str:
    path = run.file("ingest", DROP_REPORT_FILE)
    if path is None:
        return html.missing(f"not available: no {DROP_REPORT_FILE}")
    rows = read_drop_report(path)
    if not rows:
        return "<p>No clip was dropped.</p>"
    reasons = Table(("reason", "clips dropped"), Counter(r["reason"] for r in rows).most_common())
    shown = rows[:MAX_DROP_ROWS]
    first = Table(tuple(shown[0]), [tuple(r.values()) for r in shown])
    return to_html(reasons) + html.details(f"first {len(shown)} of {len(rows)} dropped clips", to_html(first))


def _distribution(run: _Run) -> str:
    drawn = run.file("train", DISTRIBUTION_PLOT)
    if drawn:
        return html.image(drawn, "clips per class")
    stats = run.json("records", STATS_FILE)
    if isinstance(stats, dict) and stats.get("counts"):
        title = "TFRecord examples per class (incl. augmented copies)"
        counts = {
            s: {label: sum(kinds.values()) for label, kinds in per.items()}
            for s, per in stats["counts"].items()
        }
    elif run.summary("ingest").get("class_counts"):
        title, counts = "clips per class", run.summary("ingest")["class_counts"]
    else:
        return html.missing("not available: no class counts (records stats.json or ingest metrics)")
    labels = sorted({label for per in counts.values() for label in per})
    series = {s: [per.get(label, 0) for label in labels] for s, per in counts.items() if per}
    return run.plot(lambda p: plot_distribution(series, labels, p, title=title), "class_distribution.png")


def _training(run: _Run) -> str:
    if run.dir("train") is None:
        return run.absent("train")
    curves = run.file("train", TRAINING_CURVES)
    history = run.json("train", HISTORY_FILE)
    if curves:
        parts = [html.image(curves, "training curves")]
    elif isinstance(history, dict) and history:
        parts = [run.plot(lambda p: plot_history(history, p), "training_curves.png")]
    else:
        parts = [html.missing("not available: no history.json / training plot")]
    summary = run.summary("train")
    headline = [(k, v) for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    if headline:
        parts.append(to_html(Table(("training metric", "value"), headline)))
    parts.append(_all_metrics(summary))
    return "".join(parts)


def _evaluation(run: _Run) -> str:
    evaluation = run.summary("evaluate")
    if not evaluation:
        return run.absent("evaluate")
    parts = [to_html(table) for table in evaluation_tables(evaluation)]
    matrices = [run.file("evaluate", evaluation[p]["confusion_matrix_png"]) for p in PRECISIONS]
    parts.append("<h3>Confusion matrices</h3>")
    parts += [
        html.image(m) if m else html.missing("not available: no confusion matrix PNG") for m in matrices
    ]
    parts.append("<h3>Classification reports</h3>")
    for precision in PRECISIONS:
        report = run.file("evaluate", evaluation[precision]["classification_report_csv"])
        if report:
            parts.append(html.details(report.name, html.csv_table(report)))
    parts.append(_all_metrics(evaluation))
    return "".join(parts)


def _mcu(run: _Run) -> str:
    mcu = run.summary("mcu")
    return "".join(to_html(t) for t in mcu_tables(mcu)) + _all_metrics(mcu) if mcu else run.absent("mcu")


def _enrollment(run: _Run) -> str:
    enrolled = run.summary("enroll")
    if not enrolled or enrolled.get("skipped"):
        return html.paragraph("No signs enrolled (the pipeline's enroll_data parameter was empty).")
    parts = []
    if enrolled.get("accuracy_vs_k"):
        parts.append(
            run.plot(lambda p: plot_accuracy_vs_k(enrolled["accuracy_vs_k"], p), "accuracy_vs_k.png")
        )
    parts += [to_html(table) for table in enrollment_tables(enrolled)]
    return "".join(parts) + _all_metrics(enrolled)


def _blessing(run: _Run) -> str:
    decision = read_decision(run.dir("bless")) if run.dir("bless") else None
    if not decision:
        return run.absent("bless")
    champion = decision.get("champion")
    return (
        to_html(blessing_table(decision))
        + "<ul>"
        + "".join(f"<li>{html.escape(r)}</li>" for r in decision.get("reasons", []))
        + "</ul>"
        + html.paragraph(
            f"Champion before this run: {champion.get('version') if champion else 'none'}; version "
            f"{decision['version']}, model sha256 {decision['model_sha256'][:16]}"
        )
    )


SECTIONS = (
    ("Summary", _summary),
    ("Data: ingest, drop report, distributions", _data),
    ("Training", _training),
    ("Evaluation: float32 vs INT8", _evaluation),
    ("Microcontroller budget", _mcu),
    ("Few-shot enrollment", _enrollment),
    ("Blessing", _blessing),
)


def _section(render: Callable[[_Run], str], run: _Run) -> str:
    try:
        return render(run)
    except (KeyError, TypeError) as exc:  # a summary from an older or partial run
        return html.missing(f"could not render this section: a stage summary lacks {exc}; re-run that stage")


def build_report(
    stage_dirs: Mapping[str, str | Path | None],
    out_path: str | Path,
    config: Config | None = None,
    title: str = "tinysign pipeline report",
) -> Path:
    """Write the HTML report and return its path.

    Args:
        stage_dirs: stage name (:data:`tinysign.artifacts.STAGES`) -> output folder; missing or
            ``None`` entries produce "not available" sections.
        out_path: the ``.html`` file to write (parents created).
        config: the run's config for the settings line (default: the one recorded in ``bless.json``).
        title: page title.
    """
    dirs = {stage: Path(p) if p else None for stage, p in stage_dirs.items()}
    if config is None:
        decision = read_decision(dirs["bless"]) if dirs.get("bless") and dirs["bless"].is_dir() else None
        config = Config.from_dict(decision["config"]) if decision and decision.get("config") else Config()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = ", ".join(f"{k}={v}" for k, v in config.to_dict().items() if k in SETTINGS)
    with tempfile.TemporaryDirectory() as scratch:
        run = _Run(dirs, Path(scratch))
        sections = [(name, _section(render, run)) for name, render in SECTIONS]
    out.write_text(html.page(title, settings, sections), encoding="utf-8")
    return out


def no_stage_output(run_dir: str | None) -> str:
    """Why there is nothing to report, and where the report of a pipeline run is."""
    where = f"{run_dir}: " if run_dir else ""
    if run_dir and (Path(run_dir) / "pipeline_root").is_dir():
        return (
            f"{where}no stage output (a pipeline run folder: its report is {Path(run_dir) / REPORT_FILE}, "
            "written by every run)"
        )
    folders = "/ ".join(STAGES)
    return f"{where}no stage output ({folders}/ with a metrics.json): run the stages, or give their folders"


def stage_dirs_of_run(run_dir: str | Path) -> dict[str, Path | None]:
    """Stage folders under a run folder (``ingest``, ``records`` or ``extract``, ``train`` ...)."""
    root = Path(run_dir)
    found: dict[str, Path | None] = {}
    for stage in STAGES:
        candidates = [root / name for name in (stage, *STAGE_ALIASES.get(stage, ()))]
        found[stage] = next((p for p in candidates if p.is_dir()), candidates[0])
    return found


# --- CLI --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", help="run folder holding ingest/ records/ train/ quantize/ evaluate/ mcu/ enroll/ bless/"
    )
    for stage in STAGES:
        parser.add_argument(f"--{stage}", help=f"{stage} output folder (overrides --run)")
    parser.add_argument("--out", required=True, help="HTML file to write, e.g. runs/local/report.html")


def run(args: argparse.Namespace, config: Config) -> int:
    dirs: dict[str, Path | None] = stage_dirs_of_run(args.run) if args.run else dict.fromkeys(STAGES)
    for stage in STAGES:
        if getattr(args, stage):
            dirs[stage] = Path(getattr(args, stage))
    if not any(path is not None and (path / METRICS_FILE).is_file() for path in dirs.values()):
        raise TinysignError(no_stage_output(args.run))
    path = build_report(dirs, args.out, None if config == Config() else config)
    print(f"report: {path}")
    return 0
