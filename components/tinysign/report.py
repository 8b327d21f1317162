"""One self-contained HTML report of a pipeline run (PNGs embedded as base64, no external files).

It reads what the stages wrote — ``metrics.json`` and PNG/CSV/JSON files in each stage folder — and
shows: the blessing verdict and headline numbers, the drop report and class distributions, the
training curves, float vs INT8 accuracy (with the trivial baselines), confusion matrices and
classification reports, the MCU budget table and the blessing checks. A section whose input is
missing says so instead of failing, so the report also works on a partial run.

``tinysign report --run DIR`` reads ``DIR/{ingest,records,train,quantize,evaluate,mcu,bless}``;
single folders can be given instead (``--train DIR`` ...).
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime
import html
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tinysign.bless import ARENA_BYTES, BLESS_FILE, FLASH_BYTES, FLOAT_ACCURACY, INT8_ACCURACY, lookup
from tinysign.config import Config
from tinysign.pipeline_io import METRICS_FILE, scalar_metrics

STAGES = ("ingest", "records", "train", "quantize", "evaluate", "mcu", "bless")
ALIASES = {
    "records": ("extract",),
    "quantize": ("quant",),
    "evaluate": ("eval", "evaluation"),
    "bless": ("blessing",),
}
MAX_DROP_ROWS = 25
MAX_CSV_ROWS = 200
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left;font-size:.92em}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:
tabular-nums}.ok{color:#137333;font-weight:600}.fail{color:#c5221f;font-weight:600}
.missing{color:#777;font-style:italic}.verdict{font-size:1.3em;padding:.6em 1em;border-radius:6px;
display:inline-block}.verdict.ok{background:#e6f4ea}.verdict.fail{background:#fce8e6}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}figure{margin:1em 0}
figcaption{color:#555;font-size:.9em}details{margin:.6em 0}code{background:#f4f4f4;padding:0 .2em}
"""


# --- small HTML helpers ------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value))


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
    if isinstance(value, list | dict):
        text = json.dumps(value)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)


def table(rows: list[list[object]], header: list[str]) -> str:
    """An HTML table; numbers right-aligned, everything escaped."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            if isinstance(cell, Markup):
                cells.append(f"<td>{cell}</td>")
            else:
                num = isinstance(cell, int | float) and not isinstance(cell, bool)
                cells.append(f"<td{' class=num' if num else ''}>{_e(_fmt(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


class Markup(str):
    """Already-escaped HTML for a table cell."""


def verdict(ok: bool, text: str | None = None) -> Markup:
    return Markup(f"<span class={'ok' if ok else 'fail'}>{_e(text or ('pass' if ok else 'FAIL'))}</span>")


def missing(what: str) -> str:
    return f"<p class=missing>{_e(what)}</p>"


NOT_AVAILABLE = Markup("<span class=missing>n/a</span>")


def image(path: Path, caption: str = "") -> str:
    """A PNG embedded as a base64 data URI."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><img alt='{_e(caption or path.name)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{_e(caption or path.name)}</figcaption></figure>"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _metrics_details(metrics: Mapping[str, Any]) -> str:
    flat = scalar_metrics(metrics)
    if not flat:
        return ""
    return (
        f"<details><summary>all metrics ({len(flat)})</summary>"
        + table([[k, v] for k, v in flat.items()], ["metric", "value"])
        + "</details>"
    )


def _csv_table(path: Path) -> str:
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    if not rows:
        return missing(f"{path.name} is empty")
    return table([[_num(c) for c in r] for r in rows[1 : MAX_CSV_ROWS + 1]], rows[0])


def _num(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _generated_png(make: Callable[[Path], Path], scratch: Path, name: str) -> str:
    try:
        return image(make(scratch / name), name.removesuffix(".png").replace("_", " "))
    except Exception as exc:  # a plot is a nicety: never fail the report over one
        return missing(f"could not draw {name}: {exc}")


# --- sections ------------------------------------------------------------------------------------------


class _Run:
    """The stage folders of one run and what has been embedded so far."""

    def __init__(self, dirs: Mapping[str, Path | None], config: Config, scratch: Path) -> None:
        self.dirs = dirs
        self.config = config
        self.scratch = scratch
        self.embedded: set[Path] = set()

    def dir(self, stage: str) -> Path | None:
        path = self.dirs.get(stage)
        return path if path is not None and path.is_dir() else None

    def read(self, stage: str, name: str) -> Any:
        """The JSON file ``name`` of a stage folder (``None`` when absent or unreadable)."""
        path = self.dir(stage)
        return _read_json(path / name) if path else None

    def metrics(self, stage: str) -> dict[str, Any]:
        data = self.read(stage, METRICS_FILE)
        return data if isinstance(data, dict) else {}

    def pngs(self, stage: str, pattern: str = "*.png") -> list[Path]:
        path = self.dir(stage)
        return sorted(p for p in path.rglob(pattern) if p not in self.embedded) if path else []

    def embed(self, paths: list[Path]) -> str:
        self.embedded.update(paths)
        return "".join(image(p, p.stem.replace("_", " ")) for p in paths)

    def absent(self, stage: str) -> str:
        given = self.dirs.get(stage)
        where = f" ({given})" if given is not None else ""
        return missing(f"not available: no {stage} output{where}")


def _summary(run: _Run) -> str:
    bless = run.read("bless", BLESS_FILE)
    parts = []
    if isinstance(bless, dict):
        ok = bool(bless.get("blessed"))
        text = ("BLESSED" if ok else "NOT BLESSED") + (
            f" — pushed to {bless.get('model_uri')}" if bless.get("pushed") else ""
        )
        parts.append(f"<p class='verdict {'ok' if ok else 'fail'}'>{_e(text)}</p>")
    else:
        parts.append(missing("no blessing decision (bless stage output missing)"))
    rows = []
    evaluation, mcu = run.metrics("evaluate"), run.metrics("mcu")
    for name, metrics, paths in (
        ("INT8 test accuracy", evaluation, INT8_ACCURACY),
        ("float32 test accuracy", evaluation, FLOAT_ACCURACY),
        ("tensor arena (bytes)", mcu, ARENA_BYTES),
        ("flash (bytes)", mcu, FLASH_BYTES),
    ):
        value = lookup(metrics, paths)
        rows.append([name, value if value is not None else NOT_AVAILABLE])
    parts.append(table(rows, ["headline", "value"]))
    return "".join(parts)


def _data(run: _Run) -> str:
    parts = []
    ingest = run.metrics("ingest")
    if ingest:
        counts = [[k, ingest[k]] for k in ("found", "kept", "dropped", "num_classes") if k in ingest]
        parts.append(table(counts, ["clips", "count"]))
        if ingest.get("split_counts"):
            signers = ingest.get("signers") or {}
            parts.append(
                table(
                    [
                        [s, n, ", ".join(signers.get(s, [])) or "unknown"]
                        for s, n in ingest["split_counts"].items()
                    ],
                    ["split", "clips", "signers"],
                )
            )
        if "split_mode" in ingest:
            independent = bool(ingest.get("signer_independent"))
            parts.append(
                f"<p>split_mode={_e(ingest['split_mode'])}: "
                + str(verdict(independent, "signer-independent" if independent else "NOT signer-independent"))
                + (
                    " (test clips come from people never seen in training)"
                    if independent
                    else " (the same people may sign in train and test: accuracy is optimistic)"
                )
                + "</p>"
            )
        leaks = ingest.get("leaks")
        if isinstance(leaks, dict):
            parts.append(
                table([[k.replace("_", " "), v] for k, v in leaks.items()], ["leakage check", "count"])
            )
    else:
        parts.append(run.absent("ingest"))
    parts.append("<h3>Drop report</h3>" + _drop_report(run))
    parts.append("<h3>Class distribution</h3>" + _distribution(run))
    return "".join(parts)


def _drop_report(run: _Run) -> str:
    path = run.dir("ingest")
    report = path / "drop_report.csv" if path else None
    if report is None or not report.is_file():
        return missing("not available: no drop_report.csv")
    with open(report, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    if not rows:
        return "<p>No clip was dropped.</p>"
    reasons = Counter(r.get("reason", "?") for r in rows)
    parts = [table([[r, n] for r, n in reasons.most_common()], ["reason", "clips dropped"])]
    shown = rows[:MAX_DROP_ROWS]
    header = list(shown[0].keys())
    parts.append(
        f"<details><summary>first {len(shown)} of {len(rows)} dropped clips</summary>"
        + table([[r.get(h, "") for h in header] for r in shown], header)
        + "</details>"
    )
    return "".join(parts)


def _distribution(run: _Run) -> str:
    existing = run.pngs("train", "*distribution*.png") + run.pngs("records", "*distribution*.png")
    if existing:
        return run.embed(existing)
    stats = run.read("records", "stats.json")
    counts: dict[str, dict[str, int]] = {}
    if isinstance(stats, dict) and isinstance(stats.get("counts"), dict):
        counts = {
            s: {
                label: sum(kinds.values()) if isinstance(kinds, dict) else int(kinds)
                for label, kinds in per.items()
            }
            for s, per in stats["counts"].items()
            if per
        }
        title = "TFRecord examples per class (incl. augmented copies)"
    elif isinstance(run.metrics("ingest").get("class_counts"), dict):
        counts = {s: dict(v) for s, v in run.metrics("ingest")["class_counts"].items() if v}
        title = "clips per class"
    if not counts:
        return missing("not available: no class counts (records stats.json or ingest metrics)")
    labels = sorted({label for per in counts.values() for label in per})
    from tinysign.plots import plot_distribution

    series = {s: [per.get(label, 0) for label in labels] for s, per in counts.items()}
    return _generated_png(
        lambda p: plot_distribution(series, labels, p, title=title), run.scratch, "class_distribution.png"
    )


def _training(run: _Run) -> str:
    if run.dir("train") is None:
        return run.absent("train")
    parts = []
    curves = (
        run.pngs("train", "*history*.png")
        + run.pngs("train", "*training*.png")
        + run.pngs("train", "*curve*.png")
    )
    if curves:
        parts.append(run.embed(sorted(set(curves))))
    else:
        history = run.read("train", "history.json")
        if isinstance(history, dict) and history:
            from tinysign.plots import plot_history

            parts.append(
                _generated_png(lambda p: plot_history(history, p), run.scratch, "training_curves.png")
            )
        else:
            parts.append(missing("not available: no history.json / training plot"))
    metrics = run.metrics("train")
    headline = [[k, v] for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    if headline:
        parts.append(table(headline, ["training metric", "value"]))
    parts.append(_metrics_details(metrics))
    others = run.pngs("train")
    if others:
        parts.append("<details><summary>more training figures</summary>" + run.embed(others) + "</details>")
    return "".join(parts)


def _float_vs_int8(evaluation: Mapping[str, Any]) -> str:
    """Rows for every metric reported for both the float and the INT8 model."""
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in evaluation.items():
        if isinstance(value, Mapping) and key in ("float", "float32", "int8"):
            for name, number in scalar_metrics(value).items():
                pairs.setdefault(name, {})["int8" if key == "int8" else "float"] = number
        elif isinstance(value, int | float) and not isinstance(value, bool):
            for tag, side in (("int8", "int8"), ("float32", "float"), ("float", "float")):
                if key.startswith(tag + "_") or key.endswith("_" + tag):
                    name = key.removeprefix(tag + "_").removesuffix("_" + tag)
                    pairs.setdefault(name, {}).setdefault(side, float(value))
                    break
    rows = []
    for name, sides in pairs.items():
        if "float" in sides and "int8" in sides:
            rows.append([name, sides["float"], sides["int8"], sides["int8"] - sides["float"]])
    if not rows:
        return missing("not available: evaluation metrics have no float/INT8 pair")
    return table(rows, ["metric", "float32", "INT8", "INT8 - float32"])


def _evaluation(run: _Run) -> str:
    evaluation = run.metrics("evaluate")
    if not evaluation:
        return run.absent("evaluate")
    parts = ["<h3>Float32 vs INT8 (test split)</h3>", _float_vs_int8(evaluation)]
    extras = [
        [k, v]
        for k, v in scalar_metrics(evaluation).items()
        if not k.startswith(("int8.", "float32.", "float."))
        and any(word in k for word in ("agreement", "baseline", "delta", "latency"))
    ]
    if extras:
        parts.append(
            "<h3>Agreement, sanity checks and trivial baselines</h3>" + table(extras, ["metric", "value"])
        )
    matrices = run.pngs("evaluate", "*confusion*.png")
    parts.append(
        "<h3>Confusion matrices</h3>"
        + (run.embed(matrices) if matrices else missing("not available: no confusion matrix PNG"))
    )
    reports = sorted(run.dir("evaluate").glob("*classification_report*.csv"))
    if reports:
        parts.append("<h3>Classification reports</h3>")
        for path in reports:
            parts.append(f"<details><summary>{_e(path.name)}</summary>{_csv_table(path)}</details>")
    parts.append(_metrics_details(evaluation))
    parts.append(run.embed(run.pngs("evaluate")))
    return "".join(parts)


def _mcu(run: _Run) -> str:
    mcu = run.metrics("mcu")
    if not mcu:
        return run.absent("mcu")
    rows = []
    for name, paths, budget in (
        ("tensor arena (largest invocation)", ARENA_BYTES, run.config.arena_budget_bytes),
        ("flash (INT8 model bytes)", FLASH_BYTES, run.config.flash_budget_bytes),
    ):
        value = lookup(mcu, paths)
        if isinstance(value, int | float):
            rows.append([name, int(value), budget, budget - int(value), verdict(value <= budget)])
        else:
            rows.append([name, NOT_AVAILABLE, budget, "", verdict(False, "unknown")])
    parts = [table(rows, ["resource", "bytes used", "budget", "headroom", "within budget"])]
    if isinstance(mcu.get("parts"), dict):
        part_rows = []
        for part, info in mcu["parts"].items():
            ops = info.get("ops")
            op_text = ", ".join(f"{k} x{v}" for k, v in ops.items()) if isinstance(ops, dict) else _fmt(ops)
            part_rows.append(
                [
                    part,
                    info.get("file", ""),
                    info.get("arena_bytes"),
                    info.get("flash_bytes"),
                    info.get("macs"),
                    op_text,
                ]
            )
        parts.append(table(part_rows, ["part", "file", "arena bytes", "flash bytes", "MACs", "ops"]))
    for key in ("total_sram_bytes", "ring_buffer_bytes", "macs_per_clip", "macs_per_frame"):
        if isinstance(mcu.get(key), int | float):
            parts.append(f"<p>{_e(key.replace('_', ' '))}: {_e(_fmt(mcu[key]))}</p>")
    targets = mcu.get("targets")
    if isinstance(targets, list) and targets and all(isinstance(t, dict) for t in targets):
        parts.append(
            "<h3>Microcontroller targets</h3>"
            + table(
                [
                    [
                        t.get("target"),
                        t.get("sram_needed"),
                        t.get("sram_bytes"),
                        t.get("flash_needed"),
                        t.get("flash_bytes"),
                        verdict(bool(t.get("fits")), "fits" if t.get("fits") else "does not fit"),
                        t.get("source", ""),
                    ]
                    for t in targets
                ],
                ["target", "SRAM needed", "SRAM", "flash needed", "flash", "fits", "source"],
            )
        )
    exact = mcu.get("tflm_vs_litert")
    if isinstance(exact, dict):
        agreement = verdict(bool(exact.get("within_tolerance")), _agreement(exact))
        parts.append(
            f"<p>tflite-micro vs LiteRT ({_e(exact.get('reference', ''))}) on "
            f"{_e(exact.get('clips'))} test clips: {agreement}</p>"
        )
    parts.append(_metrics_details(mcu))
    parts.append(run.embed(run.pngs("mcu")))
    return "".join(parts)


def _agreement(exact: Mapping[str, Any]) -> str:
    """How the INT8 outputs of tflite-micro and LiteRT compare, in words."""
    if exact.get("bit_exact"):
        return "bit-exact"
    differ = (
        f"{exact.get('mismatched_values')} of {exact.get('values_compared')} int8 values differ by up to "
        f"{exact.get('max_abs_diff_lsb')} LSB"
    )
    return (
        f"{differ} (within the {exact.get('tolerance_lsb')} LSB tolerance)"
        if exact.get("within_tolerance")
        else f"DIFFERENT: {differ}"
    )


def _blessing(run: _Run) -> str:
    bless = run.read("bless", BLESS_FILE)
    if not isinstance(bless, dict):
        return run.absent("bless")
    rows = [
        [c.get("name"), c.get("value"), c.get("threshold"), verdict(bool(c.get("passed"))), c.get("detail")]
        for c in bless.get("checks", [])
    ]
    parts = [table(rows, ["check", "value", "threshold", "verdict", "detail"])]
    parts.append("<ul>" + "".join(f"<li>{_e(r)}</li>" for r in bless.get("reasons", [])) + "</ul>")
    champion = bless.get("champion")
    parts.append(
        f"<p>Champion before this run: {_e(champion.get('version')) if champion else 'none'}"
        f"; version {_e(bless.get('version'))}, model sha256 <code>"
        f"{_e(str(bless.get('model_sha256', ''))[:16])}</code></p>"
    )
    return "".join(parts)


SECTIONS = (
    ("Summary", _summary),
    ("Data: ingest, drop report, distributions", _data),
    ("Training", _training),
    ("Evaluation: float32 vs INT8", _evaluation),
    ("Microcontroller budget", _mcu),
    ("Blessing", _blessing),
)


def build_report(
    stage_dirs: Mapping[str, str | Path | None],
    out_path: str | Path,
    config: Config | None = None,
    title: str = "tinysign pipeline report",
) -> Path:
    """Write the HTML report and return its path.

    Args:
        stage_dirs: stage name (``ingest records train quantize evaluate mcu bless``) -> output
            folder; missing or ``None`` entries produce "not available" sections.
        out_path: the ``.html`` file to write (parents created).
        config: budgets for the MCU table (default: the run's config from ``bless.json``, else
            the defaults).
        title: page title.
    """
    dirs = {stage: Path(p) if p else None for stage, p in stage_dirs.items()}
    if config is None:
        bless = _read_json(dirs["bless"] / BLESS_FILE) if dirs.get("bless") else None
        recorded = bless.get("config") if isinstance(bless, dict) else None
        config = Config.from_dict(recorded) if isinstance(recorded, dict) else Config()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        run = _Run(dirs, config, Path(scratch))
        body = "".join(f"<h2>{_e(name)}</h2>{render(run)}" for name, render in SECTIONS)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = ", ".join(
        f"{k}={_fmt(v)}"
        for k, v in config.to_dict().items()
        if k in ("model", "quantization", "epochs", "batch_size", "img_size", "num_frames", "fps_targets")
    )
    out.write_text(
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>"
        f"<p>Generated {stamp}. {_e(settings)}</p>{body}</body></html>\n",
        encoding="utf-8",
    )
    return out


def stage_dirs_of_run(run_dir: str | Path) -> dict[str, Path | None]:
    """Stage folders under a run folder (``ingest``, ``records`` or ``extract``, ``train`` ...)."""
    root = Path(run_dir)
    found: dict[str, Path | None] = {}
    for stage in STAGES:
        candidates = [root / name for name in (stage, *ALIASES.get(stage, ()))]
        found[stage] = next((p for p in candidates if p.is_dir()), candidates[0])
    return found


# --- CLI --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", help="run folder holding ingest/ records/ train/ quantize/ evaluate/ mcu/ bless/"
    )
    for stage in STAGES:
        parser.add_argument(f"--{stage}", help=f"{stage} output folder (overrides --run)")
    parser.add_argument("--out", required=True, help="HTML file to write, e.g. runs/local/report.html")


def run(args: argparse.Namespace, config: Config) -> int:
    dirs: dict[str, Path | None] = stage_dirs_of_run(args.run) if args.run else dict.fromkeys(STAGES)
    for stage in STAGES:
        if getattr(args, stage):
            dirs[stage] = Path(getattr(args, stage))
    path = build_report(dirs, args.out, None if config == Config() else config)
    print(f"report: {path}")
    return 0
