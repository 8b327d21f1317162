"""Cloud settings from the environment (``env.sh``), read once by :func:`read_env`.

Nothing is read at import time, so compiling the pipeline needs no cloud variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from tinysign.config import Config
from tinysign.errors import TinysignError

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


@dataclass(frozen=True)
class CloudEnv:
    """The cloud settings of ``env.sh`` (empty string = not set)."""

    project_id: str = ""
    region: str = ""
    bucket: str = ""
    ar_repo: str = ""
    image_uri: str = ""
    service_account: str = ""
    kfp_host: str = ""
    kfp_namespace: str = ""
    kfp_experiment: str = "tinysign"
    experiment: str = ""  # Vertex AI Experiments: runs are associated with it (params, metrics)
    pipeline_root: str = ""
    model_destination: str = ""
    # None: every task keeps the caching option it was compiled with (data-version and bless never
    # cached). True/False overrides every task's option — the KFP and Vertex clients both do that.
    enable_caching: bool | None = None
    register_model: bool = False

    def require(self, target: str) -> None:
        """Raise one clear error naming every variable ``target`` needs but is not set."""
        needed = {"kfp": ("kfp_host",), "vertex": ("project_id", "region", "pipeline_root")}[target]
        missing = [name.upper() for name in needed if not getattr(self, name)]
        if missing:
            raise TinysignError(
                f"env.sh: {', '.join(missing)} not set for --target {target}; copy "
                "env.sh.example to env.sh, fill it in and `source env.sh` (make does it)"
            )


def parse_bool(name: str, value: str) -> bool:
    """Strict boolean: 1/true/yes/on or 0/false/no/off (any case); anything else is an error."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise TinysignError(
        f"env.sh: {name}={value!r} is not a boolean; use one of "
        f"{'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}"
    )


def read_env(environ: Mapping[str, str] | None = None) -> CloudEnv:
    """The one place that reads cloud settings from the environment.

    Variables: ``PROJECT_ID REGION BUCKET AR_REPO IMAGE_URI SERVICE_ACCOUNT KFP_HOST PIPELINE_ROOT``
    and optionally ``KFP_NAMESPACE KFP_EXPERIMENT EXPERIMENT MODEL_DESTINATION ENABLE_CACHING REGISTER_MODEL``
    (booleans: 1/true/yes/on or 0/false/no/off, anything else is an error). Derived when unset:
    ``PIPELINE_ROOT=gs://$BUCKET/pipeline-root``, ``MODEL_DESTINATION=gs://$BUCKET``.

    Args:
        environ: the variables (default: ``os.environ`` at call time).
    """
    env = os.environ if environ is None else environ

    def get(name: str, default: str = "") -> str:
        return env.get(name, "").strip() or default

    bucket = get("BUCKET").removeprefix("gs://").rstrip("/")
    caching = get("ENABLE_CACHING")
    return CloudEnv(
        project_id=get("PROJECT_ID"),
        region=get("REGION"),
        bucket=bucket,
        ar_repo=get("AR_REPO"),
        image_uri=get("IMAGE_URI"),
        service_account=get("SERVICE_ACCOUNT"),
        kfp_host=get("KFP_HOST"),
        kfp_namespace=get("KFP_NAMESPACE"),
        kfp_experiment=get("KFP_EXPERIMENT", "tinysign"),
        experiment=get("EXPERIMENT"),
        pipeline_root=get("PIPELINE_ROOT", f"gs://{bucket}/pipeline-root" if bucket else ""),
        model_destination=get("MODEL_DESTINATION", f"gs://{bucket}" if bucket else ""),
        enable_caching=parse_bool("ENABLE_CACHING", caching) if caching else None,
        register_model=parse_bool("REGISTER_MODEL", get("REGISTER_MODEL", "false")),
    )


def pipeline_image(environ: Mapping[str, str] | None = None) -> str:
    """The component image: ``IMAGE_URI`` when set, else ``Config().image`` (used at compile time)."""
    return read_env(environ).image_uri or Config().image
