"""Vertex AI Model Registry: a blessed model becomes a new version of one registry model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tinysign.errors import TinysignError
from tinysign.ops.clients import init_aiplatform

REGISTRY_MODEL_NAME = "tinysign"


def _labels(**values: object) -> dict[str, str]:
    """Vertex labels: lowercase letters, digits, ``_`` and ``-``, <= 63 characters; empty ones left out."""
    clean = {k: re.sub(r"[^a-z0-9_-]", "-", str(v).lower())[:63] for k, v in values.items()}
    return {k: v for k, v in clean.items() if v}


def register_model(decision: Mapping[str, Any], registry: str, image: str, **vertex: Any) -> str:
    """Upload a pushed model folder to Vertex AI Model Registry; return the model resource name.

    The model is one registry model (``tinysign``) with a version per blessed model; a blessed model is
    the new champion, so its version becomes the registry's default version (alias ``default``), as the
    Vertex end-to-end samples do. Labels record the lineage: tinysign version, model sha256, the
    pipeline job and the data fingerprint it was trained on. The artifacts are INT8 ``.tflite`` files
    for microcontrollers: ``image`` (our pipeline image) is recorded as the container, but the model
    is not meant for a Vertex endpoint.

    Args:
        decision: :func:`run_bless`'s decision (``model_uri`` must be ``gs://``).
        registry: ``projects/<project>/locations/<region>``.
        image: container image recorded with the model.
        **vertex: ``credentials`` / ``api_endpoint`` for :func:`tinysign.ops.clients.init_aiplatform`.
    """
    match = re.fullmatch(r"projects/([^/]+)/locations/([^/]+)", registry.strip())
    if match is None:
        raise TinysignError(f"model registry {registry!r}: expected projects/<project>/locations/<region>")
    uri = str(decision["model_uri"])
    if not uri.startswith("gs://"):
        raise TinysignError(
            f"model registry: {uri} is not on GCS; use a gs:// destination to register models"
        )
    aiplatform = init_aiplatform(match[1], match[2], **vertex)
    existing = aiplatform.Model.list(filter=f'display_name="{REGISTRY_MODEL_NAME}"')
    model = aiplatform.Model.upload(
        display_name=REGISTRY_MODEL_NAME,
        artifact_uri=uri,
        serving_container_image_uri=image,
        parent_model=existing[0].resource_name if existing else None,
        description=f"tinysign {decision['version']}: INT8 test accuracy {decision['int8_accuracy']}",
        labels=_labels(
            version=decision["version"],
            sha256=str(decision["model_sha256"])[:16],
            pipeline_job=decision.get("pipeline_job", ""),
            data_version=decision.get("data_version", ""),
        ),
        is_default_version=True,
        sync=True,
    )
    return str(model.resource_name)
