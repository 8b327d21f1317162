"""The tinysign training pipeline (KFP v2): ingest -> extract -> train -> quantize -> evaluate -> MCU
check -> (enroll) -> bless/push -> HTML report.

``build_pipeline(image)`` returns the ``@dsl.pipeline`` function for one component image; compile
it with ``python -m pipelines.compile`` and run it locally with ``python -m pipelines.local_run``.

Parameters:

* ``data`` — the ingest source: a folder or ``gs://`` URI;
* ``destination`` — where blessed models go (``<destination>/models/<version>/``); empty = decide
  but push nothing;
* ``model_registry`` — ``projects/P/locations/R``: also upload blessed ``gs://`` models to Vertex
  AI Model Registry;
* ``enroll_data`` — clips of new signs (any layout ingest reads) to enroll after training from a few
  clips each (streaming model): the report shows accuracy against k and the prototype head's MCU
  numbers; empty = no enrollment;
* ``beam_args`` — extraction pipeline options, e.g. ``--runner=DataflowRunner --project=P
  --region=R --temp_location=gs://B/tmp``;
* the seed's main knobs as typed parameters with the defaults of :class:`tinysign.config.Config`,
  and ``config_overrides`` for any other config key.

There is no data version to pass: the never-cached ``data-version`` step fingerprints ``data`` at run
time (object names, sizes, update times) and ingest is cached on it, so a schedule re-trains exactly
when videos were added or changed and is served from the cache when nothing changed.

Training is single-node inside the pipeline (``strategy=mirrored`` uses every local GPU); for
multi-worker training see the README ("Multi-worker training").
"""

import functools
import inspect
from typing import Any, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact

from pipelines.components import build_components, resolve_config
from tinysign.config import Config

PIPELINE_NAME = "tinysign-training"
# task name -> (display name, CPU limit, memory limit)
TASKS = {
    "resolve-config": ("Resolve config", "1", "1G"),
    "data-version": ("Fingerprint the data", "1", "1G"),
    "ingest": ("Ingest, validate, balance, split", "2", "4G"),
    "extract": ("Extract frames to TFRecords (Beam)", "4", "8G"),
    "train": ("Train", "8", "16G"),
    "quantize": ("Quantize to INT8 + float32 TFLite", "4", "8G"),
    "evaluate": ("Evaluate INT8 vs float32", "2", "8G"),
    "mcu-check": ("MCU check (tflite-micro)", "2", "4G"),
    "enroll": ("Enroll new signs (few-shot)", "2", "4G"),
    "bless": ("Bless and push", "1", "2G"),
    "report": ("HTML report", "1", "2G"),
}
RETRIED = ("extract", "train")
# data-version looks at the data as it is now, enroll at the enroll_data folder as it is now; bless reads
# the champion from the destination: none is a pure function of its inputs. Ingest and everything after
# it are cached on the data fingerprint.
NOT_CACHED = ("data-version", "enroll", "bless")
# Parameters of the pipeline that are not config keys: (name, type, default; inspect.Parameter.empty =
# required). The typed config keys follow: those of resolve_config's signature, defaulted from Config.
RUN_PARAMETERS: tuple[tuple[str, Any, Any], ...] = (
    ("data", str, inspect.Parameter.empty),
    ("destination", str, ""),
    ("model_registry", str, ""),
    ("enroll_data", str, ""),
    ("beam_args", list[str], []),
    ("config_overrides", dict, {}),
)


class Outputs(NamedTuple):
    report: HTML
    blessing: Artifact


def typed_config_keys() -> list[str]:
    """The config keys that are typed pipeline parameters: :func:`resolve_config`'s signature."""
    return [name for name in inspect.signature(resolve_config).parameters if name != "config_overrides"]


def pipeline_signature() -> inspect.Signature:
    """The pipeline function's signature: :data:`RUN_PARAMETERS`, then the typed config keys of
    :func:`resolve_config` with their types, defaulted from :class:`Config`."""
    typed = inspect.signature(resolve_config).parameters
    defaults = Config().to_dict()
    params = [(name, kind, default) for name, kind, default in RUN_PARAMETERS]
    params += [(key, typed[key].annotation, defaults[key]) for key in typed_config_keys()]
    return inspect.Signature(
        [
            inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=t, default=d)
            for n, t, d in params
        ],
        return_annotation=Outputs,
    )


def _configure(task: Any, name: str, retries: int) -> Any:
    display, cpu, memory = TASKS[name]
    task.set_display_name(display).set_cpu_limit(cpu).set_memory_limit(memory)
    task.set_caching_options(name not in NOT_CACHED)
    if name in RETRIED and retries > 0:
        task.set_retry(num_retries=retries, backoff_duration="60s", backoff_factor=2.0)
    return task


def build_pipeline(
    image: str, retries: int = 2, train_accelerator: str = "", train_gpus: int = 1, train_image: str = ""
) -> Any:
    """The pipeline function for component ``image``.

    Args:
        image: the component image (``IMAGE_URI`` or ``Config().image``; see ``pipelines.compile``).
        retries: retries of the extract and train tasks (0 = none).
        train_accelerator: e.g. ``NVIDIA_TESLA_T4`` (Vertex) or ``nvidia.com/gpu`` (KFP); empty = CPU.
        train_gpus: number of accelerators for the train task when ``train_accelerator`` is set.
        train_image: image of the train step only (the GPU image with CUDA libraries); empty = ``image``.
    """
    ops = build_components(image, train_image)
    step = functools.partial(_configure, retries=retries)
    signature = pipeline_signature()

    def training_pipeline(*values: Any) -> Outputs:
        # KFP calls the pipeline function with one channel per parameter, in signature order.
        p = dict(zip(signature.parameters, values, strict=True))
        resolved = step(
            ops.resolve_config(
                config_overrides=p["config_overrides"], **{key: p[key] for key in typed_config_keys()}
            ),
            "resolve-config",
        )
        config = resolved.outputs  # one config slice per step: see Config.for_stage
        version = step(ops.data_version(data=p["data"]), "data-version")
        ingested = step(
            ops.ingest(data=p["data"], data_version=version.output, config=config["ingest"]), "ingest"
        )
        records = step(
            ops.extract(
                manifest=ingested.outputs["dataset"], config=config["extract"], beam_args=p["beam_args"]
            ),
            "extract",
        )
        trained = step(ops.train(records=records.outputs["records"], config=config["train"]), "train")
        if train_accelerator:
            trained.set_accelerator_type(train_accelerator).set_accelerator_limit(train_gpus)
        quantized = step(
            ops.quantize(
                model=trained.outputs["model"], records=records.outputs["records"], config=config["quantize"]
            ),
            "quantize",
        )
        # evaluate and the MCU check read the same model and records
        evaluated, mcu = (
            step(
                op(
                    quantized=quantized.outputs["quantized"],
                    records=records.outputs["records"],
                    config=config[key],
                ),
                name,
            )
            for op, key, name in ((ops.evaluate, "evaluate", "evaluate"), (ops.mcu_check, "mcu", "mcu-check"))
        )
        enrolled = step(
            ops.enroll(
                quantized=quantized.outputs["quantized"], enroll_data=p["enroll_data"], config=config["full"]
            ),
            "enroll",
        )
        blessed = step(
            ops.bless(
                quantized=quantized.outputs["quantized"],
                evaluation=evaluated.outputs["evaluation"],
                mcu=mcu.outputs["mcu"],
                config=config["bless"],
                destination=p["destination"],
                model_registry=p["model_registry"],
                data_version=version.output,
                pipeline_job=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            ),
            "bless",
        )
        reported = step(
            ops.report(
                ingest_out=ingested.outputs["dataset"],
                records=records.outputs["records"],
                model=trained.outputs["model"],
                quantized=quantized.outputs["quantized"],
                evaluation=evaluated.outputs["evaluation"],
                mcu=mcu.outputs["mcu"],
                enrolled=enrolled.outputs["enrolled"],
                blessing=blessed.outputs["blessing"],
                config=config["full"],
            ),
            "report",
        )
        return Outputs(report=reported.outputs["report"], blessing=blessed.outputs["blessing"])

    training_pipeline.__signature__ = signature  # type: ignore[attr-defined]
    return dsl.pipeline(
        name=PIPELINE_NAME,
        description="Sign-language videos -> TFRecords -> S3DConv1D -> INT8 TFLite -> MCU, blessed",
    )(training_pipeline)


def parameter_names(pipeline: Any) -> list[str]:
    """The input parameter names of a built pipeline (for :func:`tinysign.ops.kfp_io.pipeline_arguments`)."""
    return list(pipeline.pipeline_spec.root.input_definitions.parameters.keys())
