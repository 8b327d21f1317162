"""Every artifact file name and folder name the stages write or read: one place, no literals elsewhere.

A stage's output folder holds its own files plus ``metrics.json`` (its typed summary,
:mod:`tinysign.summaries`). The stage folders of a run are named after :data:`STAGES`.
"""

from __future__ import annotations

# The stages of a run, in pipeline order; a run folder holds one sub-folder per stage.
STAGES = ("ingest", "records", "train", "quantize", "evaluate", "mcu", "enroll", "bless")
# Older or shorter folder names ``tinysign report --run`` also accepts.
STAGE_ALIASES = {
    "records": ("extract",),
    "quantize": ("quant",),
    "evaluate": ("eval", "evaluation"),
    "bless": ("blessing",),
}

METRICS_FILE = "metrics.json"  # every stage: its summary
COMMIT_FILE = "commit.json"  # ingest, extract: the files of the run committed together (data/commit.py)
LOCK_FILE = ".lock"  # held by the run writing an output folder
TMP_PREFIX = ".tmp-"  # a run's staging folder inside its output folder
STAMP_FILE = "stamp.json"  # every stage: what produced its output (config, code version, duration)

# ingest
MANIFEST_FILE = "manifest.jsonl"
DROP_REPORT_FILE = "drop_report.csv"
# dataset inputs
WLASL_METADATA = "WLASL_v0.3.json"
CSV_METADATA = "metadata.csv"
WLASL_MISSING = "missing.txt"

# extract
SCHEMA_FILE = "schema.json"
STATS_FILE = "stats.json"
FAILURES_FILE = "extract_failures.csv"

# train
MODEL_FILE = "model.keras"
BEST_CHECKPOINT = "best.keras"
LABELS_FILE = "labels.txt"
HISTORY_FILE = "history.json"
EPOCH_LOG = "epochs.jsonl"
RESUME_FILE = "resume.json"
BACKUP_DIR = "backup"
TRAINING_CURVES = "training_curves.png"
TENSORBOARD_DIR = "tensorboard"  # event files: loss, accuracy, learning rate per epoch
DISTRIBUTION_PLOT = "distribution.png"

# evaluate / train: per-precision files are f"{prefix}_{suffix}"
CLASSIFICATION_REPORT = "classification_report.csv"
CONFUSION_MATRIX = "confusion_matrix"  # .npy and .png
SPOTTING_CURVE = "spotting_precision_recall.png"  # live spotting on the test streams
SPOTTING_TIMELINE = "spotting_timeline.png"

# mcu
MCU_REPORT_JSON = "mcu_report.json"
MCU_REPORT_MD = "mcu_report.md"
C_ARRAYS_STEM = "model_data"  # model_data.cc / model_data.h
VELA_DIR = "vela"

# bless
BLESS_FILE = "bless.json"
MODELS_DIR = "models"
CHAMPION_FILE = "champion.json"

# report
REPORT_FILE = "report.html"

# cross-validation
CV_REPORT_MD = "cv_report.md"
