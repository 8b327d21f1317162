"""The typed summary each stage writes as its ``metrics.json``: the schema of every stage in one place.

Summaries are ``TypedDict``s: plain JSON on disk and in KFP ``Metrics``, typed in code. Views (the CLI
lines, the KFP Markdown, the HTML report, ``local_run``) render these structures; nothing parses prose
back or guesses keys by prefix. :func:`write_summary` / :func:`read_summary` are the only readers and
writers of ``metrics.json``.

Beside it each stage leaves a :class:`Stamp` (``stamp.json``, written by the :func:`stamped` decorator
of its ``run_<stage>`` function): the config keys it read, the code version, when and how long — so a
report made later says what produced a run, not today's defaults.

Longer than our ~400-line guideline on purpose: every stage's schema in one file is the data contract a
newcomer reads in one go; splitting it by stage would scatter what belongs together.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict, TypeVar

import numpy as np

from tinysign import __version__
from tinysign.artifacts import BLESS_FILE, METRICS_FILE, STAMP_FILE
from tinysign.config import STAGE_KEYS, Config
from tinysign.data import storage
from tinysign.errors import TinysignError

StageFunction = TypeVar("StageFunction", bound=Callable[..., Any])

# --- ingest ------------------------------------------------------------------------------------------


class Leaks(TypedDict):
    source_videos_in_several_splits: int
    signers_in_several_splits: int


class IngestSummary(TypedDict):
    found: int
    kept: int
    dropped: int
    drop_reasons: dict[str, int]
    num_classes: int
    labels: list[str]
    split_mode: str
    split_counts: dict[str, int]
    split_signers: dict[str, int]
    signers: dict[str, list[str]]
    class_counts: dict[str, dict[str, int]]
    leaks: Leaks
    vocabulary: list[str]  # the signs said (data/vocabulary.py)
    unknown_signs: list[str]  # signs learned as the `unknown` class
    outside_vocabulary: list[str]  # signs left out (drop rows outside_vocabulary)
    signer_independent: bool  # known signers, none in two splits: test people never seen in training
    data_fingerprint: str  # of the sources (file names, sizes, times): storage.fingerprint
    nature: str  # "synthetic" (tinysign data demo), "real video", or "mixed: N of M synthetic"


# --- extract -----------------------------------------------------------------------------------------


class ExtractSummary(TypedDict):
    clips_in_manifest: int
    clips_extracted: int
    clips_failed: int
    failure_reasons: dict[str, int]
    records: dict[str, int]
    clips: dict[str, int]
    num_shards: int
    beam_counters: dict[str, int]
    seconds: float


# --- train / evaluate: one classifier on one split ---------------------------------------------------


class Classification(TypedDict):
    """Headline numbers of one model on one split (``reporting.metrics.classification_outputs``)."""

    accuracy: float
    top5_accuracy: float | None
    top_k: int
    macro_f1: float
    weighted_f1: float
    macro_precision: float
    macro_recall: float
    num_examples: int
    classification_report_csv: str
    confusion_matrix_npy: str
    confusion_matrix_png: str


class TrainSummary(TypedDict, total=False):
    model: str
    strategy: str
    worker: str
    num_replicas: int
    num_classes: int
    params: int
    macs: int
    epochs_run: int
    epochs_requested: int
    resumed_from_epoch: int | None
    monitor: str
    best_epoch: int
    best_monitor_value: float
    best_val_accuracy: float | None  # the accuracy on val of the weights kept (None: trained without val)
    seconds_per_epoch: float
    train_seconds_this_run: float
    examples: dict[str, int]
    model_path: str
    top_k: int
    front_end: str  # diff | raw: what the model takes (data/frontend.py)
    binning: int
    test_accuracy: float | None
    test_top5_accuracy: float | None
    test_macro_f1: float
    classification_report_csv: str
    confusion_matrix_npy: str


# --- quantize ----------------------------------------------------------------------------------------


class QuantizeSummary(TypedDict, total=False):
    model: str
    method: str
    num_classes: int
    num_frames: int
    img_size: int
    front_end: str  # diff | raw (data/frontend.py)
    binning: int
    contrast: float  # the diff front end's contrast reference, grey levels (0: no contrast gain)
    batch_size: int
    stream_fps: int  # frames a second the model sees (the records' stream_fps)
    files: dict[str, dict[str, str]]  # part -> precision -> file name
    sizes_bytes: dict[str, int]
    int8_io: dict[str, dict[str, list[float] | None]]
    calibration: dict[str, Any]
    seconds: float
    feature_dim: int
    ring_buffer_identity: bool
    qat: dict[str, Any]
    bias_correction: dict[str, Any]  # streaming: applied, max_abs_feature_bias, mean_abs_feature_error


# --- evaluate ----------------------------------------------------------------------------------------


# majority: {"accuracy", "class"}; 1-NN baselines: {"accuracy", "features"}
Baseline = TypedDict("Baseline", {"accuracy": float, "features": str, "class": int}, total=False)


class EvaluatedPrecision(Classification, total=False):
    softmax_sanity: dict[str, float]
    seconds_per_clip: float


class CurvePoint(TypedDict):
    threshold: float
    precision: float | None
    recall: float
    unknown_trigger_rate: float | None


class SpottingSummary(TypedDict):
    """Live spotting on the test split's streams (runtime/spotting.py), at the configured recognizer."""

    protocol: str
    stream_fps: int
    window: int
    threshold: float
    suppression: int
    vocabulary_clips: int
    recalled: int
    recall: float
    emissions: int
    wrong_emissions: int
    precision: float | None
    latency_median_s: float | None
    latency_p90_s: float | None
    rest_minutes: float
    rest_false_emissions: int
    false_per_minute: float | None  # on the rest stream
    unknown_clips: int
    unknown_triggered: int
    unknown_trigger_rate: float | None
    curve: list[CurvePoint]
    curve_png: str
    timeline_png: str


class EvaluateSummary(TypedDict):
    model: str
    method: str
    num_test_clips: int
    accuracy_interval: dict[str, list[float]]  # precision -> 95 % Wilson interval [low, high] of accuracy
    num_classes: int
    labels: list[str]
    int8_accuracy: float
    float32_accuracy: float
    int8_top5_accuracy: float | None
    float32_top5_accuracy: float | None
    accuracy_delta: float  # INT8 - float32
    prediction_agreement: float
    int8_vs_float32_latency_ratio: float
    baselines: dict[str, Baseline]  # majority, nearest_neighbour (raw pixels), motion_nn -> same test split
    strongest_baseline: dict[str, Any]  # {"name", "accuracy"}: what a model must beat
    deployment_path: str
    int8: EvaluatedPrecision
    float32: EvaluatedPrecision
    spotting: NotRequired[SpottingSummary]  # streaming models: the live-spotting protocol on the test streams


# --- mcu ---------------------------------------------------------------------------------------------


class McuPart(TypedDict, total=False):
    file: str
    flash_bytes: int
    arena_bytes: int
    runs_at_arena: bool
    fails_below_arena: bool
    macs: int
    ops: dict[str, int]
    op_sequence: list[str]
    vela: dict[str, Any]


class Budget(TypedDict):
    limit_bytes: int
    value_bytes: int
    passed: bool
    what: str


class TargetFit(TypedDict):
    target: str
    note: str
    sram_needed: int
    flash_needed: int
    sram_bytes: int
    flash_bytes: int
    source: str
    fits: bool


class McuSummary(TypedDict, total=False):
    model: str
    method: str
    num_classes: int
    parts: dict[str, McuPart]
    flash_bytes: int  # all INT8 parts
    arena_bytes: int  # the largest single invocation
    total_sram_bytes: int
    ring_buffer_bytes: int
    feature_dim: int
    macs_per_frame: int
    macs_per_clip: int
    macs_per_second: int
    head_ops: list[str]
    budgets: dict[str, Budget]  # arena, flash
    targets: list[TargetFit]
    tflm_vs_litert: dict[str, Any]
    c_arrays: dict[str, Any]


# --- enroll ------------------------------------------------------------------------------------------


class EnrollSummary(TypedDict, total=False):
    """A quantize summary (so predict / mcu / evaluate read the folder) plus what was enrolled."""

    model: str
    method: str  # prototypes
    num_classes: int
    num_frames: int
    img_size: int
    front_end: str
    binning: int
    contrast: float
    files: dict[str, dict[str, str]]
    labels: list[str]
    enrolled: list[str]  # the new signs (the rest: trained classes kept with --keep-trained)
    kept_trained: bool
    dropped: int
    head_flash_bytes: int
    bytes_per_sign: int  # one row of int8 numbers per sign
    prototype_offset: list[float]  # m: the head's rows are (prototype - m), see model/prototypes.py
    head_mcu: dict[str, Any]  # flash_bytes, arena_bytes, max_abs_diff_lsb, windows_compared
    accuracy_vs_k: dict[str, dict[str, Any]]  # --evaluate: {k: {mean, std, draws, float32_mean, test_clips}}
    skipped: bool  # the pipeline's enroll step without enroll_data


# --- bless -------------------------------------------------------------------------------------------


class Check(TypedDict):
    name: str
    passed: bool
    value: float | None
    threshold: float | None
    detail: str


class BlessDecision(TypedDict, total=False):
    blessed: bool
    pushed: bool
    outcome: str  # pushed | unchanged (= champion) | kept_local (no destination) | refused
    version: str
    model_uri: str
    destination: str
    model_sha256: str
    decided_at: str
    checks: list[Check]
    reasons: list[str]
    champion: dict[str, Any] | None
    int8_accuracy: float | None
    float_accuracy: float | None
    labels: list[str] | None
    config: dict[str, Any]
    measured: dict[str, Any]  # model, agreement, baselines, arena/flash: what it was decided on
    pipeline_job: str  # the pipeline run that made the model ("" outside a pipeline)
    data_version: str  # fingerprint of the data it was trained on
    registered_model: str


class BlessSummary(TypedDict):
    blessed: bool
    pushed: bool
    checks_failed: int


# --- cross-validation -------------------------------------------------------------------------------


class CvFold(TypedDict):
    """One fold, seed and model; accuracies on the sign windows (not ``rest`` / ``unknown``)."""

    fold: int
    seed: int
    name: str
    test: list[str]
    val: list[str]
    model: str
    val_accuracy: float  # INT8, validation signer
    val_float32_accuracy: float
    float32_accuracy: float
    int8_accuracy: float
    int8_minus_float32: float
    agreement: float
    baselines: dict[str, float]  # majority, nearest_neighbour (raw pixels), motion_nn -> test accuracy
    test_clips: int
    per_sign: dict[str, dict[str, int]]  # sign -> {clips, int8, float32} test hits
    epochs_run: int
    best_epoch: int
    seconds: float


class CvSummary(TypedDict):
    protocol: str
    num_folds: int
    seeds: list[int]
    models: list[str]
    folds: list[CvFold]
    mean: dict[str, dict[str, float]]  # model -> metric -> mean over folds of each fold's mean over seeds
    std: dict[str, dict[str, float]]  # ... standard deviation over folds of those means
    seed_std: dict[str, dict[str, float]]  # ... mean over folds of the standard deviation over seeds
    config: dict[str, Any]


# --- stamps: what produced a stage's output --------------------------------------------------------


class Stamp(TypedDict):
    stage: str
    config: dict[str, Any]  # the keys the stage read (Config.for_stage), the whole config otherwise
    seconds: float
    finished_at: str  # UTC, ISO 8601
    version: str  # tinysign's
    commit: str  # the code's git commit ("-dirty": with uncommitted changes); "" when unknown


def stamped(stage: str) -> Callable[[StageFunction], StageFunction]:
    """Decorate ``run_<stage>(..., out_dir, config, ...)``: when it returns, write its :class:`Stamp` to
    ``<out_dir>/stamp.json`` (local or ``gs://``)."""

    def decorate(function: StageFunction) -> StageFunction:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            result = function(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            config: Config = bound.arguments["config"]
            version, commit = code_version()
            stamp: Stamp = {
                "stage": stage,
                "config": config.for_stage(stage) if stage in STAGE_KEYS else config.to_dict(),
                "seconds": round(time.monotonic() - started, 1),
                "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "version": version,
                "commit": commit,
            }
            text = json.dumps(stamp, indent=2, ensure_ascii=False) + "\n"
            storage.write_text(storage.join(str(bound.arguments["out_dir"]), STAMP_FILE), text)
            return result

        return run  # type: ignore[return-value]

    return decorate


@functools.cache
def code_version() -> tuple[str, str]:
    """``(tinysign version, git commit)``: the commit from ``TINYSIGN_COMMIT`` (the image sets it), else
    ``git describe`` of the package's checkout (``-dirty`` with uncommitted changes), else ``""``."""
    commit = os.environ.get("TINYSIGN_COMMIT", "")
    if not commit:
        try:
            described = subprocess.run(
                ["git", "describe", "--always", "--dirty", "--abbrev=12"],
                cwd=Path(__file__).parent,
                capture_output=True,
                text=True,
                timeout=10,
            )
            commit = described.stdout.strip() if described.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            commit = ""
    return __version__, commit


def read_stamp(stage_dir: str | Path | None) -> Stamp | None:
    """A stage folder's :class:`Stamp` (``None`` when absent: a stage from before stamps)."""
    path = Path(stage_dir) / STAMP_FILE if stage_dir else None
    return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None


# --- read / write ------------------------------------------------------------------------------------


def write_summary(out_dir: str | Path, summary: Mapping[str, Any]) -> None:
    """Write ``summary`` as ``<out_dir>/metrics.json`` (local folder or ``gs://``)."""
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n"
    storage.write_text(storage.join(str(out_dir), METRICS_FILE), text)


def read_summary(stage_dir: str | Path | None) -> dict[str, Any]:
    """A stage folder's summary (``{}`` when the folder or its ``metrics.json`` is absent)."""
    if stage_dir is None:
        return {}
    path = Path(stage_dir) / METRICS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise TinysignError(f"{path} is not valid JSON: re-run the stage that wrote it") from None
    if not isinstance(data, dict):
        raise TinysignError(f"{path} must hold a JSON object: re-run the stage that wrote it")
    return data


def read_decision(bless_dir: str | Path | None) -> BlessDecision | None:
    """The ``bless.json`` of a bless output folder (``None`` when absent)."""
    path = Path(bless_dir) / BLESS_FILE if bless_dir else None
    return json.loads(path.read_text()) if path is not None and path.is_file() else None


def failed_checks(decision: Mapping[str, Any]) -> list[Check]:
    """The blessing checks that did not pass."""
    return [c for c in decision.get("checks", []) if not c["passed"]]


def scalar_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten nested numeric values to ``{"a.b": number}``: counts stay ``int`` (bools become 0/1),
    the rest ``float``; non-numbers are skipped."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(scalar_metrics(value, f"{name}."))
        elif isinstance(value, bool | int | np.integer):
            flat[name] = int(value)
        elif isinstance(value, float | np.floating) and math.isfinite(float(value)):
            flat[name] = float(value)
    return flat


# --- firmware (tinysign firmware, off the pipeline: build/firmware/metrics.json) ---------------------


class FirmwareSizes(TypedDict):
    """An ELF's sections (``size -A``) grouped; the models, arena and ring buffer from its symbols."""

    text: int
    rodata: int
    data: int
    bss: int
    heap: int
    stack: int
    testdata: int  # the test stream, linked outside flash (a camera provides frames on a device)
    scratch: int  # the op-dump build's arena, outside RAM
    sections: dict[str, int]
    flash: int  # text + rodata + data
    flash_models: int
    flash_runtime: int
    static_ram: int  # data + bss + heap + stack
    ram_arena: int
    ram_ring_buffer: int


class FirmwareTiming(TypedDict):
    """Instructions counted under QEMU (``-icount``); ms and fps assume one instruction per cycle."""

    instructions_per_tick: float
    frame_model_instructions_mean: float  # front end + frame model
    head_instructions_mean: float | None  # ring buffer -> input + head
    instructions_per_frame_mean: float
    instructions_per_frame_max: float  # the worst steady-state frame: what the estimate uses
    clock_hz: float
    ms_per_frame: float
    fps: float


class FirmwareOutputs(TypedDict):
    """One model's int8 outputs on the target against Python tflite-micro."""

    outputs: int
    values: int
    mismatched_values: int
    max_abs_diff_lsb: int | None
    worst_stream_frame: int | None
    missing_frames: list[int]


class FirmwareEmission(TypedDict):
    frame: int  # stream frame
    label: int
    score_units: int  # the class's window sum of (q - zero_point)


class FirmwareComparison(TypedDict):
    features: FirmwareOutputs
    head: FirmwareOutputs
    max_abs_diff_lsb: int
    within_tolerance: bool
    emissions: list[FirmwareEmission]  # the firmware's recognizer
    python_emissions: list[FirmwareEmission]  # runtime/recognizer.py on Python tflite-micro's head outputs
    emissions_identical: bool


class FirmwareCheck(TypedDict):
    name: str
    value: float
    limit: float
    passed: bool


class FirmwareBoard(TypedDict, total=False):
    board: str
    core: str
    part: str
    machine: str  # QEMU
    elf: str
    sizes: FirmwareSizes
    arena: dict[str, int]  # size, used, frame_used (printed by the firmware)
    memory: dict[str, int]  # heap_used, heap_size, stack_used, stack_size
    timing: FirmwareTiming
    comparison: FirmwareComparison
    budgets: list[FirmwareCheck]
    clip_end_top: list[int | None]  # the head's top class at each clip's last frame
    top_matches_project: bool  # ... equals StreamingClassifier.classify per clip (Python tflite-micro)
    clip_outputs_equal_project: bool  # the head output itself too (exact with reset_per_clip or raw)
    divergence: dict[str, Any]  # op-by-op at one frame, on a mismatch or --dump-frame
    seconds: dict[str, float]


class FirmwareSummary(TypedDict):
    model: str
    num_classes: int
    labels: list[str]
    stream: dict[str, Any]  # frames, clip_ids, starts, labels
    constants: dict[str, int]  # of the generated model_data.h
    op_resolver: list[str]
    front_end: dict[str, Any]  # kind, binning, contrast
    recognizer: dict[str, Any]  # window, threshold (units), suppression, silent, scale
    reset_per_clip: bool
    project_top_classes: list[int | None]
    tolerance_lsb: int
    budgets: dict[str, int]  # the config's flash_budget_bytes, arena_budget_bytes
    seconds: dict[str, float]
    boards: dict[str, FirmwareBoard]
