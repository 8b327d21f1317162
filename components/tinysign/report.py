"""One self-contained HTML report of a pipeline run (PNGs embedded as base64, no external files).

It reads each stage folder's typed summary (``metrics.json``), its stamp (``stamp.json``) and the
files the stages name, and renders the shared views (:mod:`tinysign.reporting.views`): the blessing
verdict and the headline accuracy with its test-clip count, 95 % interval and the kind of data; what
produced the run (run id, code version and commit, data fingerprint, the config the stages used, stage
durations); the split and drop report, class distributions; training curves and the learning rate;
float vs INT8 with the trivial baselines, normalised confusion matrices side by side and per-class
accuracy; live spotting; arena and flash against their budgets; the firmware on emulated Cortex-M when
it was run; few-shot enrollment; the blessing checks. A section whose input is missing says so instead
of failing, so the report also works on a partial run.

``tinysign report --run DIR`` reads ``DIR/{ingest,records,train,quantize,evaluate,mcu,enroll,bless}``
(and ``firmware/`` or ``build/firmware`` when given); single folders can be given instead (``--train
DIR`` ...). It fails with one line when it finds no stage output.

Longer than our ~400-line guideline on purpose: it is one function per report section (each ~20 lines,
in page order, listed in ``SECTIONS``); the tables and plots they show live in :mod:`tinysign.reporting`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
from tinysign.reporting.plots import (
    plot_accuracy_vs_k,
    plot_confusion_matrices,
    plot_distribution,
    plot_history,
)
from tinysign.reporting.tables import Table, bars_to_html, to_html
from tinysign.reporting.views import (
    accuracy_line,
    blessing_table,
    budget_bars,
    config_table,
    durations_table,
    enrollment_tables,
    evaluation_tables,
    firmware_tables,
    mcu_tables,
    nature_note,
    per_class_bars,
    split_table,
    spotting_table,
)
from tinysign.summaries import Stamp, read_decision, read_stamp, read_summary, scalar_metrics

MAX_DROP_ROWS = 25
SETTINGS = ("model", "quantization", "epochs", "batch_size", "img_size", "num_frames", "fps_targets")
PRECISION_NAMES = {"int8": "INT8", "float32": "float32"}


@dataclass(frozen=True)
class RunStamp:
    """What the pipeline knows about its run beyond the stage folders: its id, the config it resolved,
    the data fingerprint of its data-version step (empty: read from the stages' own records)."""

    run_id: str = ""
    config: Config | None = None
    data_version: str = ""


class _Run:
    """The stage folders of one run, their summaries (or summaries handed over directly, as the
    pipeline does with the enroll step's), what produced it, and a scratch folder for generated plots."""

    def __init__(
        self,
        dirs: Mapping[str, Path | None],
        scratch: Path,
        stamp: RunStamp,
        summaries: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.dirs = dirs
        self.scratch = scratch
        self.stamp = stamp
        self.given = summaries

    def dir(self, stage: str) -> Path | None:
        path = self.dirs.get(stage)
        return path if path is not None and path.is_dir() else None

    def summary(self, stage: str) -> dict[str, Any]:
        return dict(self.given[stage]) if stage in self.given else read_summary(self.dir(stage))

    def stamps(self) -> dict[str, Stamp]:
        """The stages' stamps, in pipeline order (stages from before stamps have none)."""
        found = {stage: read_stamp(self.dir(stage)) for stage in STAGES}
        return {stage: stamp for stage, stamp in found.items() if stamp is not None}

    def config_used(self) -> dict[str, dict[str, list[str]]]:
        """``{key: {value as JSON: [stages]}}``: the pipeline's resolved config, else what each stage
        recorded it read."""
        if self.stamp.config is not None:
            return {k: {json.dumps(v): ["pipeline"]} for k, v in self.stamp.config.to_dict().items()}
        used: dict[str, dict[str, list[str]]] = {}
        for stage, stamp in self.stamps().items():
            for key, value in stamp["config"].items():
                used.setdefault(key, {}).setdefault(json.dumps(value), []).append(stage)
        return used

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
    if evaluation:
        parts.append(
            f"<p class=headline>INT8 test accuracy <b>{html.escape(accuracy_line(evaluation))}</b>; "
            f"float32 {html.escape(accuracy_line(evaluation, 'float32'))}.</p>"
        )
        parts.append(html.note(nature_note(run.summary("ingest").get("nature", ""))))
    rows: list[tuple[object, ...]] = []
    spotting = evaluation.get("spotting")
    if spotting:
        rows += [
            (
                "live spotting: recall / precision",
                f"{spotting['recall']:.3f} / {_number(spotting['precision'])}",
            ),
            ("false emissions per minute of rest", spotting["false_per_minute"]),
        ]
    rows += [("tensor arena (bytes)", mcu.get("arena_bytes")), ("flash (bytes)", mcu.get("flash_bytes"))]
    parts.append(to_html(Table(("headline", "value"), rows)))
    return "".join(parts)


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"


def _provenance(run: _Run) -> str:
    """Run id, code version and commit, data fingerprint and kind, stage durations, the config used."""
    stamps, ingest = run.stamps(), run.summary("ingest")
    codes = sorted({(s["version"], s["commit"] or "unknown commit") for s in stamps.values()})
    code = "; ".join(f"tinysign {version} ({commit})" for version, commit in codes) or "not recorded"
    fingerprint = run.stamp.data_version or ingest.get("data_fingerprint") or "not recorded"
    lines = [
        f"run: {run.stamp.run_id or 'not named'}",
        f"code: {code}",
        f"data: fingerprint {fingerprint}, {ingest.get('nature') or 'kind not recorded'}",
    ]
    parts = [f"<p class=stamp>{'<br>'.join(html.escape(line) for line in lines)}</p>"]
    parts.append(
        to_html(durations_table(stamps)) if stamps else html.missing("no stage recorded its duration")
    )
    used = run.config_used()
    if used:
        parts.append(html.details(f"config the run used ({len(used)} keys)", to_html(config_table(used))))
    else:
        parts.append(html.missing("the config is not recorded (stage outputs from before stamps)"))
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
    history = run.json("train", HISTORY_FILE)
    curves = run.file("train", TRAINING_CURVES)
    if isinstance(history, dict) and history:  # drawn here: loss, accuracy and the learning rate
        parts = [run.plot(lambda p: plot_history(history, p), "training_curves.png")]
    elif curves:
        parts = [html.image(curves, "training curves")]
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
    matrices = {}
    for precision in PRECISIONS:
        path = run.file("evaluate", evaluation[precision]["confusion_matrix_npy"])
        if path is not None:
            matrices[PRECISION_NAMES[precision]] = np.load(path)
    labels = evaluation["labels"]
    parts.append("<h3>Confusion matrices, normalised by true class</h3>")
    if matrices:
        parts.append(
            run.plot(lambda p: plot_confusion_matrices(matrices, labels, p), "confusion_matrices.png")
        )
        parts.append("<h3>Per-class accuracy (INT8)</h3>" + _per_class(matrices, labels))
    else:
        parts.append(html.missing("not available: no confusion matrix (.npy) in the evaluate output"))
    parts.append("<h3>Classification reports</h3>")
    for precision in PRECISIONS:
        report = run.file("evaluate", evaluation[precision]["classification_report_csv"])
        if report:
            parts.append(html.details(report.name, html.csv_table(report)))
    parts.append(_all_metrics(evaluation))
    return "".join(parts)


def _per_class(matrices: Mapping[str, np.ndarray], labels: list[str]) -> str:
    """A bar per class from the INT8 confusion matrix (the float32 one when INT8 is missing)."""
    counts = next(iter(matrices.values())) if "INT8" not in matrices else matrices["INT8"]
    support = counts.sum(axis=1)
    accuracy = np.diag(counts) / np.maximum(support, 1)
    tested = [i for i, n in enumerate(support) if n > 0]
    bars = per_class_bars([labels[i] for i in tested], accuracy[tested].tolist(), support[tested].tolist())
    return bars_to_html(bars)


def _spotting(run: _Run) -> str:
    evaluation = run.summary("evaluate")
    spotting = evaluation.get("spotting")
    if not spotting:
        if evaluation and evaluation.get("model") != "streaming":
            return html.paragraph(
                f"Not measured: the {evaluation.get('model')} model classifies whole clips; live spotting "
                "needs the streaming pair."
            )
        return run.absent("evaluate") if not evaluation else html.missing("not available: no spotting")
    parts = [to_html(spotting_table(spotting))]
    for name, caption in (
        ("curve_png", "precision against recall as the detection threshold moves (square: the one used)"),
        (
            "timeline_png",
            "a test stream at a glance: where the signs were (grey), the averaged scores, "
            "what was said (green right, red wrong)",
        ),
    ):
        path = run.file("evaluate", spotting[name])
        parts.append(html.image(path, caption) if path else html.missing(f"not available: no {name}"))
    return "".join(parts)


def _mcu(run: _Run) -> str:
    mcu = run.summary("mcu")
    if not mcu:
        return run.absent("mcu")
    bars = "<h3>Arena and flash against their budgets</h3>" + bars_to_html(budget_bars(mcu))
    return bars + "".join(to_html(t) for t in mcu_tables(mcu)) + _all_metrics(mcu)


def _firmware(run: _Run) -> str:
    firmware = run.summary("firmware")
    if not firmware.get("boards"):
        return html.paragraph(
            "No firmware run for this model: `make firmware` (or `tinysign firmware`) builds it with "
            "tflite-micro + CMSIS-NN and measures it on emulated Cortex-M cores; pass its folder with "
            "--firmware DIR."
        )
    return "".join(to_html(table) for table in firmware_tables(firmware))


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
    ("What produced this run", _provenance),
    ("Data: ingest, drop report, distributions", _data),
    ("Training", _training),
    ("Evaluation: float32 vs INT8", _evaluation),
    ("Live spotting", _spotting),
    ("Microcontroller budget", _mcu),
    ("Firmware on emulated Cortex-M", _firmware),
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
    stamp: RunStamp | None = None,
    summaries: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "tinysign pipeline report",
) -> Path:
    """Write the HTML report and return its path.

    Args:
        stage_dirs: stage name (:data:`tinysign.artifacts.STAGES`, and ``firmware``) -> output
            folder; missing or ``None`` entries produce "not available" sections.
        out_path: the ``.html`` file to write (parents created).
        stamp: the run id, resolved config and data fingerprint, when the caller knows them (the
            pipeline); otherwise read from the stages' ``stamp.json`` and ingest summary.
        summaries: stage -> summary handed over instead of read from its folder (the pipeline's
            enroll step, a parameter).
        title: page title.
    """
    dirs = {stage: Path(p) if p else None for stage, p in stage_dirs.items()}
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        run = _Run(dirs, Path(scratch), stamp or RunStamp(), summaries or {})
        used = run.config_used()
        settings = ", ".join(
            f"{key}={json.loads(next(iter(used[key])))}"
            for key in SETTINGS
            if key in used and len(used[key]) == 1
        )
        sections = [(name, _section(render, run)) for name, render in SECTIONS]
    out.write_text(html.page(title, settings or "config not recorded", sections), encoding="utf-8")
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
    found["firmware"] = root / "firmware"
    return found


# --- CLI --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", help="run folder holding ingest/ records/ train/ quantize/ evaluate/ mcu/ enroll/ bless/"
    )
    for stage in (*STAGES, "firmware"):
        parser.add_argument(f"--{stage}", help=f"{stage} output folder (overrides --run)")
    parser.add_argument("--out", required=True, help="HTML file to write, e.g. runs/local/report.html")


def run(args: argparse.Namespace, config: Config) -> int:
    del config  # the report shows the config the stages recorded, not this command's
    dirs: dict[str, Path | None] = (
        stage_dirs_of_run(args.run) if args.run else dict.fromkeys((*STAGES, "firmware"))
    )
    for stage in (*STAGES, "firmware"):
        if getattr(args, stage):
            dirs[stage] = Path(getattr(args, stage))
    if not any(path is not None and (path / METRICS_FILE).is_file() for path in dirs.values()):
        raise TinysignError(no_stage_output(args.run))
    path = build_report(dirs, args.out, RunStamp(run_id=Path(args.run).resolve().name if args.run else ""))
    print(f"report: {path}")
    return 0
