"""The tinysign training pipeline (KFP v2): ingest -> extract -> train -> quantize -> evaluate -> MCU
check -> (enroll) -> bless -> (push) -> HTML report.

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

Two steps run only when they have something to do (``dsl.If``, shown as skipped in the UI): enroll,
when ``enroll_data`` is given (else a "no enrollment" step hands the report an empty summary), and push
(copy to ``destination``, Model Registry upload, champion pointer), when bless decides to push.

There is no data version to pass: the never-cached ``data-version`` step fingerprints ``data`` at run
time (object names, sizes, update times) and ingest is cached on it, so a schedule re-trains exactly
when videos were added or changed and is served from the cache when nothing changed.

Training is single-node inside the pipeline (``strategy=mirrored`` uses every local GPU); for
multi-worker training see docs/distributed.md ("Multi-worker training: what runs where").

Every parameter has a description in the compiled YAML (KFP takes them from the pipeline function's
docstring ``Args:``): :data:`RUN_PARAMETERS` for the run's own, ``resolve_config``'s docstring for the
typed config keys.
"""

import functools
import inspect
from typing import Any, NamedTuple

import docstring_parser  # what KFP itself reads docstrings with
from kfp import dsl
from kfp.dsl import HTML, Artifact, Model

from pipelines.components import build_components, resolve_config
from tinysign.config import Config

PIPELINE_NAME = "tinysign-training"
DESCRIPTION = (
    "Sign-language videos -> TFRecords -> a streaming CNN (default) or S3DConv1D -> INT8 TFLite -> "
    "microcontroller check -> blessed, pushed, reported."
)
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
    "no-enrollment": ("No new signs to enroll", "1", "1G"),
    "bless": ("Bless: thresholds, budgets, champion", "1", "2G"),
    "push": ("Push the new champion", "1", "2G"),
    "report": ("HTML report", "1", "2G"),
}
RETRIED = ("extract", "train")
# data-version looks at the data as it is now, enroll at the enroll_data folder as it is now; bless reads
# the champion from the destination, push writes there: none is a pure function of its inputs. Ingest
# and everything after it are cached on the data fingerprint.
NOT_CACHED = ("data-version", "enroll", "bless", "push")
# Parameters of the pipeline that are not config keys: (name, type, default; inspect.Parameter.empty =
# required, description). The typed config keys follow: those of resolve_config's signature, defaulted
# from Config, described by its docstring.
RUN_PARAMETERS: tuple[tuple[str, Any, Any, str], ...] = (
    ("data", str, inspect.Parameter.empty, "The videos to train on: a folder or gs:// URI, any layout."),
    (
        "destination",
        str,
        "",
        "Where blessed models go (<destination>/models/<version>/, champion.json); empty = push nothing.",
    ),
    (
        "model_registry",
        str,
        "",
        "projects/P/locations/R: also upload blessed gs:// models to Vertex AI Model Registry; empty = no.",
    ),
    (
        "enroll_data",
        str,
        "",
        "Clips of new signs to enroll after training from a few clips each; empty = the step is skipped.",
    ),
    ("beam_args", list[str], [], 'Beam options for extraction, e.g. ["--runner=DataflowRunner", ...].'),
    ("config_overrides", dict, {}, 'Any other config key of tinysign.config.Config, e.g. {"seed": 7}.'),
)


class Outputs(NamedTuple):
    report: HTML
    blessing: Artifact
    model: Model  # the trained model: its TensorBoard events under tensorboard/
    quantized: Model  # the INT8 and float32 .tflite models (blessed or not)


def typed_config_keys() -> list[str]:
    """The config keys that are typed pipeline parameters: :func:`resolve_config`'s signature."""
    return [name for name in inspect.signature(resolve_config).parameters if name != "config_overrides"]


def pipeline_signature() -> inspect.Signature:
    """The pipeline function's signature: :data:`RUN_PARAMETERS`, then the typed config keys of
    :func:`resolve_config` with their types, defaulted from :class:`Config`."""
    typed = inspect.signature(resolve_config).parameters
    defaults = Config().to_dict()
    params = [(name, kind, default) for name, kind, default, _ in RUN_PARAMETERS]
    params += [(key, typed[key].annotation, defaults[key]) for key in typed_config_keys()]
    return inspect.Signature(
        [
            inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=t, default=d)
            for n, t, d in params
        ],
        return_annotation=Outputs,
    )


def pipeline_docstring() -> str:
    """The pipeline's description and an ``Args:`` line per parameter (KFP copies them into the YAML)."""
    typed = {p.arg_name: p.description for p in docstring_parser.parse(resolve_config.__doc__ or "").params}
    described = [(name, text) for name, _, _, text in RUN_PARAMETERS]
    described += [(key, typed[key]) for key in typed_config_keys()]
    args = "".join(f"\n    {name}: {text}" for name, text in described)
    return f"{DESCRIPTION}\n\nArgs:{args}\n"


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
        with dsl.If(p["enroll_data"] != "", name="new signs given"):
            enrolled = step(
                ops.enroll(
                    quantized=quantized.outputs["quantized"],
                    enroll_data=p["enroll_data"],
                    config=config["full"],
                ),
                "enroll",
            )
        with dsl.Else(name="no new signs"):
            not_enrolled = step(ops.no_enrollment(), "no-enrollment")
        blessed = step(
            ops.bless(
                quantized=quantized.outputs["quantized"],
                evaluation=evaluated.outputs["evaluation"],
                mcu=mcu.outputs["mcu"],
                config=config["full"],  # bless.json records the whole config (tinysign runs --compare)
                destination=p["destination"],
                model_registry=p["model_registry"],
                data_version=version.output,
                pipeline_job=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            ),
            "bless",
        )
        with dsl.If(blessed.outputs["Output"] == "pushed", name="a new champion"):
            step(
                ops.push(
                    quantized=quantized.outputs["quantized"],
                    evaluation=evaluated.outputs["evaluation"],
                    mcu=mcu.outputs["mcu"],
                    blessing=blessed.outputs["blessing"],
                    config=config["bless"],
                    model_registry=p["model_registry"],
                ),
                "push",
            )
        reported = step(
            ops.report(
                ingest_out=ingested.outputs["dataset"],
                records=records.outputs["records"],
                model=trained.outputs["model"],
                quantized=quantized.outputs["quantized"],
                evaluation=evaluated.outputs["evaluation"],
                mcu=mcu.outputs["mcu"],
                enrollment=dsl.OneOf(enrolled.outputs["Output"], not_enrolled.output),
                blessing=blessed.outputs["blessing"],
                config=config["full"],
                run_id=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                data_version=version.output,
            ),
            "report",
        )
        return Outputs(
            report=reported.outputs["report"],
            blessing=blessed.outputs["blessing"],
            model=trained.outputs["model"],
            quantized=quantized.outputs["quantized"],
        )

    training_pipeline.__signature__ = signature  # type: ignore[attr-defined]
    training_pipeline.__doc__ = pipeline_docstring()
    return dsl.pipeline(name=PIPELINE_NAME, description=DESCRIPTION)(training_pipeline)


def parameter_names(pipeline: Any) -> list[str]:
    """The input parameter names of a built pipeline (for :func:`tinysign.ops.kfp_io.pipeline_arguments`)."""
    return list(pipeline.pipeline_spec.root.input_definitions.parameters.keys())
