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
    derives its own signature from it (defaults from ``Config``); ``config_overrides`` carries any
    other config key. The outputs are in ``STAGE_KEYS`` order (a test checks it).
    """
    typed = dict(locals())  # first statement: exactly the parameters
    from tinysign.config import STAGE_KEYS, Config
    from tinysign.ops.kfp_io import resolve_config as resolve

    config = Config.from_dict(resolve(typed, typed.pop("config_overrides")))
    return (*(config.for_stage(stage) for stage in STAGE_KEYS), config.to_dict())


def data_version(data: str) -> str:
    """Fingerprint of the data folder now (names, sizes, update times): never cached, so a new video
    under the same path changes what ingest and everything after it are cached on."""
    from tinysign.data.storage import fingerprint

    return fingerprint(data)


def ingest(data: str, data_version: str, config: dict, dataset: Output[Dataset], metrics: Output[Metrics]):
    """Find, probe, balance and split clips -> manifest.jsonl, drop_report.csv, metrics.json."""
    from tinysign.config import Config
    from tinysign.ingest import run_ingest
    from tinysign.ops.kfp_io import log_metrics

    log_metrics(metrics, run_ingest([data], dataset.path, Config.from_dict(config), progress=False))
    dataset.metadata["data"] = data
    dataset.metadata["data_version"] = data_version


def extract(
    manifest: Input[Dataset],
    config: dict,
    beam_args: list[str],
    records: Output[Dataset],
    metrics: Output[Metrics],
):
    """Beam: decode, FPS-simulate, sample, augment -> TFRecord shards + schema.json + stats.json."""
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
    """Train s3dconv1d / streaming -> model.keras, history.json, plots, metrics.json."""
    from tinysign.config import Config
    from tinysign.ops.kfp_io import log_metrics
    from tinysign.train import run_train

    log_metrics(metrics, run_train(records.path, model.path, Config.from_dict(config)))


def quantize(model: Input[Model], records: Input[Dataset], config: dict, quantized: Output[Model]):
    """INT8 (PTQ or QAT) + float32 TFLite export."""
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
    """INT8 vs float32 TFLite on the test split; KFP Metrics + confusion matrix for the UI."""
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
    """Run the INT8 model in tflite-micro: arena, flash, ops, C array, agreement with LiteRT."""
    from tinysign.config import Config
    from tinysign.mcu import run_mcu_check
    from tinysign.ops.kfp_io import log_metrics

    log_metrics(metrics, run_mcu_check(quantized.path, records.path, mcu.path, Config.from_dict(config)))


def enroll(
    quantized: Input[Model], enroll_data: str, config: dict, enrolled: Output[Model], metrics: Output[Metrics]
):
    """Few-shot enrollment of the signs in ``enroll_data`` (a no-op when empty) + accuracy against k."""
    from tinysign.config import Config
    from tinysign.enroll import run_pipeline_enroll
    from tinysign.ops.kfp_io import log_metrics

    log_metrics(
        metrics, run_pipeline_enroll(quantized.path, enroll_data, enrolled.path, Config.from_dict(config))
    )


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
) -> bool:
    """Thresholds + champion/challenger; push to <destination>/models/<version>/ only if blessed."""
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
    )
    decision_markdown(result, decision.path)
    blessing.metadata.update({k: result[k] for k in ("blessed", "pushed", "version", "model_uri")})
    return bool(result["blessed"])


def report(
    ingest_out: Input[Dataset],
    records: Input[Dataset],
    model: Input[Model],
    quantized: Input[Model],
    evaluation: Input[Artifact],
    mcu: Input[Artifact],
    enrolled: Input[Model],
    blessing: Input[Artifact],
    config: dict,
    report: Output[HTML],
):
    """One self-contained HTML report (curves, distributions, confusion, float vs INT8, MCU, blessing)."""
    from tinysign.config import Config
    from tinysign.report import build_report

    build_report(
        {
            "ingest": ingest_out.path,
            "records": records.path,
            "train": model.path,
            "quantize": quantized.path,
            "evaluate": evaluation.path,
            "mcu": mcu.path,
            "enroll": enrolled.path,
            "bless": blessing.path,
        },
        report.path,
        Config.from_dict(config),
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
    bless: Any
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
        bless=make(bless),
        report=make(report),
    )
