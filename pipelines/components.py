"""Thin KFP components: each imports ``tinysign`` inside its body and calls one stage function.

The functions below are plain Python; :func:`build_components` turns them into lightweight
``@dsl.component``\\ s on our one image (``base_image=image, install_kfp_package=False`` — the image
already holds kfp and the package), so the image is chosen when the pipeline is compiled, never at
import time. :func:`resolve_config` validates the pipeline parameters once and outputs one config
dict per stage with only the keys that stage reads (``Config.for_stage``; the report gets the full
dict), so a changed parameter re-runs only the steps that depend on it. Every other component takes
its stage's dict and passes ``Config.from_dict(config)`` (defaults fill the rest) to the stage
function; no logic lives here.

Stage folders are the artifacts' ``.path`` (a local folder, ``/gcs/...`` on Vertex); the extract
step passes the ``gs://`` URI instead when Beam runs on Dataflow, whose workers cannot see the mount.

Longer than our ~400-line guideline on purpose: one short wrapper per stage, each self-contained (KFP
ships a lightweight component's source alone, so imports and argument plumbing repeat inside bodies).
"""

# No `from __future__ import annotations`: KFP reads the real annotation objects.
from dataclasses import dataclass
from typing import Any, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output


def resolve_config(
    config_overrides: dict,
    img_size: int,
    num_frames: int,
    fps_targets: list[int],
    min_per_class: int,
    max_per_class: int,
    train_ratio: float,
    val_ratio: float,
    test_ratio: float,
    model: str,
    epochs: int,
    batch_size: int,
    quantization: str,
    arena_budget_bytes: int,
    flash_budget_bytes: int,
    min_int8_accuracy: float,
    max_int8_drop: float,
) -> NamedTuple(  # noqa: UP014 - KFP needs the outputs spelled out in the signature
    "StageConfigs",
    [
        ("ingest", dict),
        ("extract", dict),
        ("train", dict),
        ("quantize", dict),
        ("evaluate", dict),
        ("mcu", dict),
        ("bless", dict),
        ("full", dict),
    ],
):
    """Validate the pipeline parameters once; hand each step only the config keys it reads, so a
    changed parameter re-runs only the steps that depend on it (the others come from the cache).

    This signature is the one declaration of the pipeline's typed parameters: the pipeline function
    derives its own signature from it (defaults from ``Config``) and its parameter descriptions from
    the Args below (KFP shows them in the run form); ``config_overrides`` carries any other config key.
    The outputs are in ``STAGE_KEYS`` order (a test checks it).

    Args:
        config_overrides: Any other config key of tinysign.config.Config, e.g. {"augment_copies": 2}.
        img_size: Side of the grey square frames extracted from the videos, in pixels.
        num_frames: Frames per clip: the ring buffer the model sees.
        fps_targets: Frame rates simulated for the training clips (one record per rate).
        min_per_class: A sign with fewer usable clips is dropped (drop report: class_below_min).
        max_per_class: Clips kept per sign at most (a seeded draw).
        train_ratio: Share of the clips for training (whole signers / source videos per split).
        val_ratio: Share of the clips for validation.
        test_ratio: Share of the clips for the test.
        model: streaming (the microcontroller model, default) or s3dconv1d (the faithful seed model).
        epochs: Training epochs (warm-up, then cosine decay of the learning rate).
        batch_size: Clips per training step.
        quantization: ptq (post-training, calibrated on train clips) or qat (quantization-aware fine-tuning).
        arena_budget_bytes: Largest tensor arena the blessed model may need (one invocation), in bytes.
        flash_budget_bytes: Largest flash the blessed INT8 models may need, in bytes.
        min_int8_accuracy: Least INT8 test accuracy to bless a model.
        max_int8_drop: Largest float32 - INT8 test accuracy loss to bless a model.
    """
    typed = dict(locals())  # first statement: exactly the parameters
    from tinysign.config import STAGE_KEYS, Config
    from tinysign.ops.kfp_io import resolve_config as resolve

    config = Config.from_dict(resolve(typed, typed.pop("config_overrides")))
    return (*(config.for_stage(stage) for stage in STAGE_KEYS), config.to_dict())


def data_version(data: str) -> str:
    """Fingerprint of the data folder now (names, sizes, update times): never cached, so a new video
    under the same path changes what ingest and everything after it are cached on.

    Args:
        data: The videos: a folder or gs:// URI.
    """
    from tinysign.data.storage import fingerprint

    return fingerprint(data)


def ingest(data: str, data_version: str, config: dict, dataset: Output[Dataset], metrics: Output[Metrics]):
    """Find, probe, balance and split clips -> manifest.jsonl, drop_report.csv, metrics.json.

    Args:
        data: The videos: a folder or gs:// URI.
        data_version: Fingerprint of the data (the data-version step): what this step is cached on.
        config: The config keys ingest reads.
    """
    from tinysign.config import Config
    from tinysign.ingest import run_ingest
    from tinysign.ops.kfp_io import log_metrics

    log_metrics(metrics, run_ingest([data], dataset.path, Config.from_dict(config)))
    dataset.metadata["data"] = data
    dataset.metadata["data_version"] = data_version


def extract(
    manifest: Input[Dataset],
    config: dict,
    beam_args: list[str],
    records: Output[Dataset],
    metrics: Output[Metrics],
):
    """Beam: decode, FPS-simulate, sample, augment -> TFRecord shards + schema.json + stats.json.

    Args:
        manifest: The ingest step's manifest.
        config: The config keys extraction reads.
        beam_args: Beam pipeline options, e.g. ["--runner=DataflowRunner", "--project=P", ...].
    """
    import os

    from tinysign.artifacts import MANIFEST_FILE
    from tinysign.config import Config
    from tinysign.data.runners import runs_elsewhere
    from tinysign.extract import run_extract
    from tinysign.ops.kfp_io import log_metrics

    # Dataflow, Flink/Spark or Dask workers write the shards: to the artifact's gs:// URI, not this pod's path
    out_dir = records.uri if runs_elsewhere(list(beam_args)) else records.path
    log_metrics(
        metrics,
        run_extract(
            os.path.join(manifest.path, MANIFEST_FILE),
            out_dir,
            Config.from_dict(config),
            beam_args=list(beam_args),
        ),
    )


def train(records: Input[Dataset], config: dict, model: Output[Model], metrics: Output[Metrics]):
    """Train the streaming model (or s3dconv1d) -> model.keras, history.json, TensorBoard, plots.

    Args:
        records: The extracted TFRecords.
        config: The config keys training reads.
    """
    from tinysign.config import Config
    from tinysign.ops.kfp_io import log_metrics
    from tinysign.train import run_train

    log_metrics(metrics, run_train(records.path, model.path, Config.from_dict(config)))


def quantize(model: Input[Model], records: Input[Dataset], config: dict, quantized: Output[Model]):
    """INT8 (PTQ or QAT) + float32 TFLite export.

    Args:
        model: The trained model.
        records: The TFRecords (calibration on the train split only).
        config: The config keys quantization reads.
    """
    from tinysign.config import Config
    from tinysign.quantize import run_quantize

    run_quantize(model.path, records.path, quantized.path, Config.from_dict(config))


def evaluate(
    quantized: Input[Model],
    records: Input[Dataset],
    config: dict,
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
    confusion: Output[ClassificationMetrics],
):
    """INT8 vs float32 TFLite on the test split (and live spotting); Metrics + confusion matrix for the UI.

    Args:
        quantized: The INT8 and float32 .tflite models.
        records: The TFRecords (the test split and its streams).
        config: The config keys evaluation reads (the recognizer).
    """
    from tinysign.config import Config
    from tinysign.evaluate import run_evaluate
    from tinysign.ops.kfp_io import log_evaluation

    result = run_evaluate(quantized.path, records.path, evaluation.path, Config.from_dict(config))
    log_evaluation(metrics, confusion, result, evaluation.path)


def mcu_check(
    quantized: Input[Model],
    records: Input[Dataset],
    config: dict,
    mcu: Output[Artifact],
    metrics: Output[Metrics],
):
    """Run the INT8 model in tflite-micro: arena, flash, ops, C array, agreement with LiteRT.

    Args:
        quantized: The INT8 .tflite models.
        records: The TFRecords (real test clips for the comparison).
        config: The config keys the MCU check reads (budgets).
    """
    from tinysign.config import Config
    from tinysign.mcu import run_mcu_check
    from tinysign.ops.kfp_io import log_metrics

    log_metrics(metrics, run_mcu_check(quantized.path, records.path, mcu.path, Config.from_dict(config)))


def enroll(
    quantized: Input[Model], enroll_data: str, config: dict, enrolled: Output[Model], metrics: Output[Metrics]
) -> dict:
    """Few-shot enrollment of the signs in ``enroll_data`` + accuracy against k (the pipeline runs it only
    when enroll_data is given); returns the summary the report shows.

    Args:
        quantized: The INT8 streaming pair whose frame model embeds the new signs.
        enroll_data: Clips of the new signs, any layout ingest reads.
        config: The full config.
    """
    from tinysign.config import Config
    from tinysign.enroll import run_pipeline_enroll
    from tinysign.ops.kfp_io import log_metrics, plain

    summary = run_pipeline_enroll(quantized.path, enroll_data, enrolled.path, Config.from_dict(config))
    log_metrics(metrics, summary)
    return plain(summary)


def no_enrollment() -> dict:
    """What the report shows when the pipeline's enroll_data is empty (the enroll step is skipped)."""
    from tinysign.enroll import skipped_summary

    return dict(skipped_summary())


def bless(
    quantized: Input[Model],
    evaluation: Input[Artifact],
    mcu: Input[Artifact],
    config: dict,
    destination: str,
    model_registry: str,
    data_version: str,
    pipeline_job: str,
    blessing: Output[Artifact],
    decision: Output[Markdown],
) -> str:
    """Thresholds + champion/challenger: the decision, recorded; the push step (behind a dsl.If on the
    outcome returned here: pushed | unchanged | kept_local | refused) copies a new champion.

    Args:
        quantized: The challenger's .tflite models.
        evaluation: The evaluation (accuracy, baselines, spotting).
        mcu: The MCU check (arena, flash).
        config: The full config: the thresholds, and the record of what produced the model.
        destination: Where blessed models go (<destination>/models/<version>/); empty = push nothing.
        model_registry: projects/P/locations/R: also register a blessed gs:// model in Vertex AI.
        data_version: The data fingerprint, recorded with the decision.
        pipeline_job: The pipeline run, recorded with the decision.
    """
    from tinysign.bless import decision_markdown, run_bless
    from tinysign.config import Config

    result = run_bless(
        quantized.path,
        evaluation.path,
        mcu.path,
        blessing.path,
        Config.from_dict(config),
        destination,
        registry=model_registry,
        lineage={"pipeline_job": pipeline_job, "data_version": data_version},
        push_model=False,
    )
    decision_markdown(result, decision.path)
    blessing.metadata.update({k: result[k] for k in ("blessed", "pushed", "version", "model_uri")})
    return result["outcome"]


def push(
    quantized: Input[Model],
    evaluation: Input[Artifact],
    mcu: Input[Artifact],
    blessing: Input[Artifact],
    config: dict,
    model_registry: str,
    pushed: Output[Artifact],
):
    """Copy the blessed challenger to <destination>/models/<version>/ (+ a Model Registry version), then
    point champion.json at it.

    Args:
        quantized: The blessed .tflite models.
        evaluation: Its evaluation (copied beside it).
        mcu: Its MCU check (C arrays; copied beside it).
        blessing: The bless step's decision (version, destination).
        config: The config keys bless reads (the image recorded in the registry).
        model_registry: projects/P/locations/R: also upload a gs:// model to Vertex AI Model Registry.
    """
    from tinysign.bless import run_push
    from tinysign.config import Config

    run_push(
        blessing.path,
        quantized.path,
        evaluation.path,
        mcu.path,
        pushed.path,
        Config.from_dict(config),
        registry=model_registry,
    )


def report(
    ingest_out: Input[Dataset],
    records: Input[Dataset],
    model: Input[Model],
    quantized: Input[Model],
    evaluation: Input[Artifact],
    mcu: Input[Artifact],
    enrollment: dict,
    blessing: Input[Artifact],
    config: dict,
    run_id: str,
    data_version: str,
    report: Output[HTML],
):
    """One self-contained HTML report, stamped with what produced it (config, run, version, data).

    Args:
        ingest_out: The ingest step's manifest and drop report.
        records: The extracted TFRecords (their counts).
        model: The trained model (curves).
        quantized: The .tflite models.
        evaluation: The evaluation (accuracy, confusion matrices, spotting).
        mcu: The MCU check (budgets).
        enrollment: The enroll step's summary ({"skipped": true} without enroll_data).
        blessing: The blessing decision.
        config: The full config of the run.
        run_id: The pipeline run.
        data_version: The data fingerprint.
    """
    from tinysign.config import Config
    from tinysign.report import RunStamp, build_report

    build_report(
        {
            "ingest": ingest_out.path,
            "records": records.path,
            "train": model.path,
            "quantize": quantized.path,
            "evaluate": evaluation.path,
            "mcu": mcu.path,
            "bless": blessing.path,
        },
        report.path,
        RunStamp(run_id, Config.from_dict(config), data_version),
        summaries={"enroll": enrollment},
    )


@dataclass(frozen=True)
class Components:
    """The pipeline's components, built for one image."""

    resolve_config: Any
    data_version: Any
    ingest: Any
    extract: Any
    train: Any
    quantize: Any
    evaluate: Any
    mcu_check: Any
    enroll: Any
    no_enrollment: Any
    bless: Any
    push: Any
    report: Any


def build_components(image: str, train_image: str = "") -> Components:
    """Lightweight Python components on ``image`` (which must hold tinysign, kfp and their deps).

    Args:
        image: the image of every component.
        train_image: another image for the train step only (e.g. the ``pipeline-gpu`` target with
            TensorFlow's CUDA libraries); empty = ``image``.
    """

    def make(func: Any, base_image: str = image) -> Any:
        return dsl.component(func, base_image=base_image, install_kfp_package=False)

    return Components(
        resolve_config=make(resolve_config),
        data_version=make(data_version),
        ingest=make(ingest),
        extract=make(extract),
        train=make(train, train_image or image),
        quantize=make(quantize),
        evaluate=make(evaluate),
        mcu_check=make(mcu_check),
        enroll=make(enroll),
        no_enrollment=make(no_enrollment),
        bless=make(bless),
        push=make(push),
        report=make(report),
    )
