"""Views of the stage summaries, built once: the CLI, the KFP Markdown and the HTML report render these.

Each function turns a typed summary (:mod:`tinysign.summaries`) into :class:`Table`\\ s or
one line of text; none reads files or parses prose.

Longer than our ~400-line guideline on purpose: one view per typed summary, all of them here, so the CLI,
the KFP Markdown and the HTML report render every summary the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tinysign.reporting.tables import Bar, Table, Verdict
from tinysign.summaries import (
    BlessDecision,
    CvSummary,
    EnrollSummary,
    EvaluateSummary,
    FirmwareSummary,
    IngestSummary,
    McuSummary,
    SpottingSummary,
    Stamp,
    failed_checks,
)

# --- data ------------------------------------------------------------------------------------------


def split_table(ingest: IngestSummary) -> Table:
    signers = ingest.get("signers") or {}
    independent = bool(ingest.get("signer_independent"))
    return Table(
        ("split", "clips", "signers"),
        [(s, n, ", ".join(signers.get(s, [])) or "unknown") for s, n in ingest["split_counts"].items()],
        note=f"split_mode={ingest.get('split_mode', 'grouped')}: "
        + (
            "signer-independent (test clips come from people never seen in training)"
            if independent
            else "NOT signer-independent (the same people may sign in train and test: accuracy is optimistic)"
        ),
    )


# --- evaluation ------------------------------------------------------------------------------------

EVALUATION_METRICS = (
    "accuracy",
    "top5_accuracy",
    "macro_f1",
    "weighted_f1",
    "macro_precision",
    "macro_recall",
)
BASELINE_NAMES = {
    "majority": "majority class",
    "nearest_neighbour": "raw-pixel 1-NN",
    "motion_nn": "motion 1-NN",
}


def evaluation_tables(evaluation: EvaluateSummary) -> list[Table]:
    """Float32 vs INT8 per metric; then agreement, latency and the trivial baselines."""
    int8, float32 = evaluation["int8"], evaluation["float32"]
    compared = Table(
        ("metric", "float32", "INT8", "INT8 - float32"),
        [
            (name, float32.get(name), int8.get(name), _difference(int8.get(name), float32.get(name)))
            for name in EVALUATION_METRICS
        ],
        title=f"Float32 vs INT8 on {evaluation['num_test_clips']} test clips",
    )
    rows: list[tuple[object, ...]] = [
        ("INT8/float32 prediction agreement", evaluation["prediction_agreement"]),
        ("INT8 - float32 accuracy", evaluation["accuracy_delta"]),
        ("INT8 / float32 latency", evaluation["int8_vs_float32_latency_ratio"]),
    ]
    rows += [
        (f"baseline: {BASELINE_NAMES.get(name, name)}", baseline["accuracy"])
        for name, baseline in evaluation["baselines"].items()
    ]
    return [compared, Table(("check", "value"), rows, title="Agreement and trivial baselines")]


def accuracy_line(evaluation: EvaluateSummary, precision: str = "int8") -> str:
    """``1.000 on 16 test clips (95 % CI 0.806-1.000)``: an accuracy with what it rests on."""
    accuracy = evaluation[f"{precision}_accuracy"]  # type: ignore[literal-required]
    line = f"{accuracy:.3f} on {evaluation['num_test_clips']} test clips"
    interval = (evaluation.get("accuracy_interval") or {}).get(precision)
    return f"{line} (95 % CI {interval[0]:.3f}-{interval[1]:.3f}, Wilson)" if interval else line


def nature_note(nature: str) -> str:
    """What the kind of data says about the numbers measured on it."""
    if nature == "synthetic":
        return (
            "synthetic data (tinysign data demo): deliberately easy, it says the pipeline works, not that "
            "the model reads sign language; measure on real video (docs/accuracy.md)"
        )
    return f"{nature} data" if nature else "data of unknown kind (an ingest from before it was recorded)"


def per_class_bars(labels: Sequence[str], accuracy: Sequence[float], support: Sequence[int]) -> list[Bar]:
    """One bar per class: the share of its test clips classified right."""
    return [
        Bar(label, value, 1.0, f"{value:.0%} of {int(count)}")
        for label, value, count in zip(labels, accuracy, support, strict=True)
    ]


def _difference(a: object, b: object) -> float | None:
    return a - b if isinstance(a, int | float) and isinstance(b, int | float) else None


# --- cross-validation ------------------------------------------------------------------------------

CV_COLUMNS = (
    ("val_accuracy", "val INT8"),
    ("float32_accuracy", "test float32"),
    ("int8_accuracy", "test INT8"),
    ("int8_minus_float32", "INT8 - float"),
    ("agreement", "INT8/float agreement"),
)


def cv_tables(cv: CvSummary) -> list[Table]:
    """Mean ± std per model beside the baselines; then every fold (and seed)."""
    baselines = list(cv["folds"][0]["baselines"]) if cv["folds"] else []
    seeds = cv.get("seeds") or [cv["config"].get("seed")]
    header = ("model", *(title for _, title in CV_COLUMNS), *(BASELINE_NAMES.get(b, b) for b in baselines))
    rows = []
    for model in cv["models"]:
        mean, std = cv["mean"][model], cv["std"][model]
        spread = cv.get("seed_std", {}).get(model, {}) if len(seeds) > 1 else {}
        keys = [key for key, _ in CV_COLUMNS] + [f"baseline {b}" for b in baselines]
        rows.append(
            (
                model,
                *(
                    f"{mean[k]:.3f} ± {std[k]:.3f}" + (f" (seeds ± {spread[k]:.3f})" if k in spread else "")
                    if k in mean
                    else None  # e.g. no val INT8 for final models trained on the validation signer too
                    for k in keys
                ),
            )
        )
    ratios = [
        cv["mean"][m]["int8_accuracy"] / max(cv["mean"][m]["strongest baseline"], 1e-9) for m in cv["models"]
    ]
    over = (
        f"each fold the mean of {len(seeds)} seeds; mean ± std over folds (seeds ± mean over folds of the "
        "std over seeds)"
        if len(seeds) > 1
        else "mean ± std over folds"
    )
    overall = Table(
        header + ("INT8 / strongest baseline",),
        [row + (f"{ratio:.2f}x",) for row, ratio in zip(rows, ratios, strict=True)],
        title=f"Cross-validation: {cv['protocol']} ({cv['num_folds']} folds), sign windows, {over}",
    )
    per_fold = Table(
        (
            "fold",
            "seed",
            "test",
            "val",
            "model",
            *(title for _, title in CV_COLUMNS),
            *(BASELINE_NAMES.get(b, b) for b in baselines),
            "epochs (best)",
            "seconds",
        ),
        [
            (
                f["fold"],
                f.get("seed", ""),
                ", ".join(f["test"]),
                ", ".join(f["val"]),
                f["model"],
                *(f[key] for key, _ in CV_COLUMNS),
                *(f["baselines"][b] for b in baselines),
                f"{f['epochs_run']} ({f['best_epoch']})",
                f["seconds"],
            )
            for f in cv["folds"]
        ],
        title="Every fold",
    )
    return [overall, per_fold]


# --- MCU -------------------------------------------------------------------------------------------


def _kb(value: int) -> str:
    return f"{value:,} B ({value / 1024:.1f} KB)"


def mcu_tables(mcu: McuSummary) -> list[Table]:
    """Per-part arena/flash/MACs/ops, the budgets, and which MCU classes it fits."""
    parts = []
    for part, info in mcu["parts"].items():
        vela = info.get("vela") or {}
        parts.append(
            (
                part,
                _kb(info["arena_bytes"]),
                _kb(info["flash_bytes"]),
                info["macs"],
                ", ".join(f"{name} x{count}" for name, count in info["ops"].items()),
                f"{vela['sram_bytes'] / 1024:.1f} KB / {vela['flash_bytes'] / 1024:.1f} KB / "
                f"{vela['inference_ms']:.2f} ms"
                if "sram_bytes" in vela
                else None,
            )
        )
    streaming = mcu["model"] == "streaming"
    note = (
        f"Ring buffer {mcu['ring_buffer_bytes']:,} B (T x F int8); total SRAM (frame arena + head arena "
        f"+ ring buffer) {mcu['total_sram_bytes']:,} B; MACs per frame {mcu['macs_per_frame']:,}, per clip "
        f"{mcu['macs_per_clip']:,}."
        if streaming
        else ""
    )
    budgets = Table(
        ("budget", "value", "limit", "result"),
        [
            (f"{name} ({b['what']})", b["value_bytes"], b["limit_bytes"], Verdict(b["passed"]))
            for name, b in mcu["budgets"].items()
        ],
        title="Budgets",
    )
    targets = Table(
        ("target", "SRAM needed / available", "flash needed / available", "fits"),
        [
            (
                f"{t['target']} ({t['source']})",
                f"{t['sram_needed'] / 1024:.1f} KB / {t['sram_bytes'] / 1024:.0f} KB",
                f"{t['flash_needed'] / 1024:.1f} KB / {t['flash_bytes'] / 1024:.0f} KB",
                Verdict(t["fits"], "yes" if t["fits"] else "no"),
            )
            for t in mcu["targets"]
        ],
        title="Microcontroller targets",
        note=tflm_agreement(mcu["tflm_vs_litert"]),
    )
    title = f"MCU report: {mcu['model']} ({mcu['method']}, {mcu['num_classes']} classes)"
    head = Table(
        ("part", "tensor arena", "flash", "MACs", "ops", "Vela U55 SRAM / flash / latency"),
        parts,
        title=title,
        note=note,
    )
    return [head, budgets, targets]


def budget_bars(mcu: McuSummary) -> list[Bar]:
    """Arena and flash against their budgets (red beyond)."""
    return [
        Bar(
            f"{name} ({b['what']})",
            b["value_bytes"],
            b["limit_bytes"],
            f"{b['value_bytes']:,} B of {b['limit_bytes']:,} B ({b['value_bytes'] / b['limit_bytes']:.0%})",
            b["passed"],
        )
        for name, b in mcu["budgets"].items()
    ]


def spotting_table(spotting: SpottingSummary) -> Table:
    """Live spotting on the test streams: what was said, how often wrongly, how fast."""
    latency = (
        f"median {spotting['latency_median_s']:+.2f} s, 90th percentile {spotting['latency_p90_s']:+.2f} s"
        if spotting["latency_median_s"] is not None
        else None
    )
    return Table(
        ("live spotting", "value", "of"),
        [
            (
                "recall: vocabulary signs said, once, in time",
                spotting["recall"],
                spotting["vocabulary_clips"],
            ),
            ("precision: emissions that are right", spotting["precision"], spotting["emissions"]),
            ("false emissions per minute of rest", spotting["false_per_minute"], _minutes(spotting)),
            (
                "unknown-sign trigger rate: unknown signs during which anything is said",
                spotting["unknown_trigger_rate"],
                spotting["unknown_clips"],
            ),
            ("latency after the sign's motion ends (negative: before)", latency, spotting["recalled"]),
        ],
        title=f"Live spotting at threshold {spotting['threshold']:.2f} (window {spotting['window']} frames, "
        f"suppression {spotting['suppression']} frames at {spotting['stream_fps']} fps)",
        note=f"Protocol: {spotting['protocol']}.",
    )


def _minutes(spotting: SpottingSummary) -> str:
    return f"{spotting['rest_minutes']:.1f} min of rest, {spotting['rest_false_emissions']} said"


# --- what produced a run ---------------------------------------------------------------------------


def durations_table(stamps: Mapping[str, Stamp]) -> Table:
    """Each stage's wall time, when it finished and with which code."""
    return Table(
        ("stage", "wall time", "finished (UTC)", "tinysign", "commit"),
        [
            (s["stage"], f"{s['seconds']:.1f} s", s["finished_at"], s["version"], s["commit"] or "?")
            for s in stamps.values()
        ],
        title="Stages",
        note="A stage served from the pipeline's cache shows the run that computed it.",
    )


def config_table(used: Mapping[str, Mapping[str, Sequence[str]]]) -> Table:
    """Every config key the run's stages read: ``{key: {value as JSON: [stages that read it]}}``. A key
    with several values was set differently for different stages (stages run by hand)."""
    rows = []
    for key, values in sorted(used.items()):
        readers = sorted({stage for stages in values.values() for stage in stages})
        if len(values) == 1:
            value = next(iter(values))
        else:
            value = " / ".join(f"{v} ({', '.join(stages)})" for v, stages in values.items())
        rows.append((key, value, ", ".join(readers)))
    return Table(("config key", "value", "read by"), rows, title="Config the run used")


def enrollment_tables(enrolled: EnrollSummary) -> list[Table]:
    """Accuracy against the number of enrollment clips per sign, and the prototype head on an MCU."""
    mcu = enrolled["head_mcu"]
    tables = []
    if enrolled.get("accuracy_vs_k"):
        tables.append(
            Table(
                (
                    "clips per sign (k)",
                    "INT8 head accuracy (mean ± std)",
                    "float32 head",
                    "draws",
                    "test clips per draw",
                ),
                [
                    (
                        k,
                        f"{r['mean']:.1%} ± {r['std']:.1%}",
                        f"{r['float32_mean']:.1%}" if "float32_mean" in r else "-",
                        len(r["draws"]),
                        r["test_clips"],
                    )
                    for k, r in enrolled["accuracy_vs_k"].items()
                ],
                title=f"{len(enrolled['enrolled'])} enrolled signs: accuracy against k",
                note="Each draw enrolls k random clips per sign and tests the INT8 prototype head on the "
                "sign's other clips; the float32 head (same prototypes) shows what INT8 costs.",
            )
        )
    tables.append(
        Table(
            ("prototype head", "value"),
            [
                ("signs in the vocabulary", enrolled["num_classes"]),
                ("flash", _kb(mcu["flash_bytes"])),
                ("bytes per sign (one int8 row)", enrolled["bytes_per_sign"]),
                ("tensor arena", _kb(mcu["arena_bytes"])),
                ("tflite-micro vs LiteRT (reference kernels)", f"<= {mcu['max_abs_diff_lsb']} LSB"),
            ],
            title="Prototype head on the MCU",
        )
    )
    return tables


def tflm_agreement(exact: Mapping[str, Any]) -> str:
    """How tflite-micro's int8 outputs compare with LiteRT's reference kernels, in one sentence."""
    if exact.get("bit_exact"):
        verdict = "bit-exact"
    else:
        ops = ", ".join(
            f"{part}: {p['first_divergent_op']['op']}"
            for part, p in exact.get("parts", {}).items()
            if "first_divergent_op" in p
        )
        differ = (
            f"{exact.get('mismatched_values')} of {exact.get('values_compared')} int8 values differ by up to "
            f"{exact.get('max_abs_diff_lsb')} LSB (first in {ops or '?'})"
        )
        verdict = (
            f"{differ}: within the {exact.get('tolerance_lsb')} LSB rounding tolerance"
            if exact.get("within_tolerance")
            else f"DIFFERENT: {differ}"
        )
    where = f"({exact.get('reference', '')}) on {exact.get('clips')} test clips"
    return f"tflite-micro vs LiteRT {where}: {verdict}."


# --- firmware --------------------------------------------------------------------------------------


def firmware_tables(firmware: FirmwareSummary) -> list[Table]:
    """Per board: what the firmware measured, its budgets, and how it compares with Python."""
    boards = firmware["boards"].values()
    measured = Table(
        (
            "board (QEMU)",
            "flash: text + rodata + data",
            "of which models",
            "static RAM: data + bss + heap + stack",
            "arena used",
            "heap / stack used",
            "instructions / frame (max)",
            "est. ms / frame",
            "est. frames/s",
        ),
        [
            (
                f"{b['core']} ({b['machine']}, {b['part']} @ {b['timing']['clock_hz'] / 1e6:.0f} MHz)",
                b["sizes"]["flash"],
                b["sizes"]["flash_models"],
                b["sizes"]["static_ram"],
                b["arena"]["used"],
                f"{b['memory']['heap_used']:,} / {b['memory']['stack_used']:,}",
                round(b["timing"]["instructions_per_frame_max"]),
                f"{b['timing']['ms_per_frame']:.2f}",
                f"{b['timing']['fps']:.0f}",
            )
            for b in boards
        ],
        title=f"Firmware on emulated Cortex-M: {firmware['model']} ({firmware['num_classes']} classes), "
        f"{firmware['stream']['frames']} frames of {len(firmware['stream']['clip_ids'])} test clips",
        note="Instructions are counted by QEMU (-icount); ms and frames/s assume one instruction per cycle "
        "at the part's clock. The test stream is linked outside flash (on a device a camera provides it).",
    )
    budgets = Table(
        ("board", "check", "value", "limit", "result"),
        [
            (b["board"], c["name"], c["value"], c["limit"], Verdict(c["passed"]))
            for b in boards
            for c in b["budgets"]
        ],
        title="Budgets: the model's (config) on the target, the whole firmware against the board's part",
    )
    header = ("board", "int8 outputs (frame model + head invocations)", "differ", "max diff")
    compared = Table(
        (
            *header,
            "emissions (frame: label)",
            "same as the Python recognizer",
            "clip-end top class = project's",
        ),
        [_firmware_comparison(b, firmware) for b in boards],
        title=f"Against Python tflite-micro (<= {firmware['tolerance_lsb']} LSB) and the Python recognizer",
        note=_divergences(firmware),
    )
    return [measured, budgets, compared]


def _firmware_comparison(board: Mapping[str, Any], firmware: FirmwareSummary) -> tuple[object, ...]:
    c = board["comparison"]
    features, head = c["features"], c["head"]
    labels = firmware["labels"]
    said = ", ".join(f"{e['frame']}: {labels[e['label']]}" for e in c["emissions"]) or "none"
    return (
        board["board"],
        f"{features['values'] + head['values']:,} ({features['outputs']} + {head['outputs']})",
        features["mismatched_values"] + head["mismatched_values"],
        Verdict(c["within_tolerance"], f"{c['max_abs_diff_lsb']} LSB"),
        said,
        Verdict(c["emissions_identical"], "identical" if c["emissions_identical"] else "DIFFERENT"),
        board["top_matches_project"],
    )


def _divergences(firmware: FirmwareSummary) -> str:
    """Where the op-by-op comparison found the first difference, per board that ran it."""
    found = []
    for name, board in firmware["boards"].items():
        if "divergence" in board:
            d = board["divergence"]
            found.append(
                f"{name}, stream frame {d['stream_frame']}: frame model {d['frame_model']}; head {d['head']}"
            )
    return "Op by op: " + "; ".join(found) if found else ""


# --- blessing --------------------------------------------------------------------------------------


def blessing_table(decision: BlessDecision) -> Table:
    """Every blessing check: value, threshold, verdict and why."""
    return Table(
        ("check", "value", "threshold", "verdict", "detail"),
        [
            (c["name"], c["value"], c["threshold"], Verdict(c["passed"]), c["detail"])
            for c in decision.get("checks", [])
        ],
        title=f"{'Blessed' if decision['blessed'] else 'Not blessed'}: version {decision['version']}",
        note=outcome_text(decision),
    )


def outcome_text(decision: BlessDecision) -> str:
    """What happened to the model: pushed where, unchanged, kept local, or refused."""
    outcome = decision.get("outcome", "")
    if outcome == "pushed":
        return f"pushed to {decision['model_uri']}"
    if outcome == "unchanged":
        return f"identical to champion {(decision.get('champion') or {}).get('version')}: nothing pushed"
    if outcome == "kept_local":
        return "no destination given: nothing pushed"
    return "not blessed: nothing pushed"


def decision_line(decision: BlessDecision) -> str:
    """One line: verdict, INT8/float accuracy, and where the model went or which checks failed."""
    accuracy = (
        f"INT8 test accuracy {decision.get('int8_accuracy')} (float32 {decision.get('float_accuracy')})"
    )
    if decision["blessed"]:
        return f"BLESSED, {accuracy}; {outcome_text(decision)}"
    failed = "; ".join(f"{c['name']}: {c['detail']}" for c in failed_checks(decision))
    return f"NOT BLESSED, {accuracy}; failed: {failed}"
