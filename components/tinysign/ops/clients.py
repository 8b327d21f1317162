"""Client construction for Kubeflow Pipelines and Vertex AI (imported lazily: both are slow)."""

from __future__ import annotations

from typing import Any

from tinysign.ops.env import CloudEnv


def kfp_client(env: CloudEnv) -> Any:
    """A ``kfp.Client`` for ``KFP_HOST`` (namespace from ``KFP_NAMESPACE`` when set)."""
    import warnings

    import kfp

    env.require("kfp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP >= 2.0.0-beta.2"
        return kfp.Client(host=env.kfp_host, namespace=env.kfp_namespace or "kubeflow")


def init_aiplatform(
    project: str, location: str, credentials: Any = None, api_endpoint: str | None = None, **settings: Any
) -> Any:
    """``aiplatform.init`` for one project and region; returns the ``aiplatform`` module.

    Args:
        project: Google Cloud project id.
        location: region, e.g. ``europe-west4``.
        credentials: explicit credentials (default: Application Default Credentials).
        api_endpoint: e.g. a regional or private endpoint, used over the REST transport (tests
            point it at a loopback server).
        **settings: further ``aiplatform.init`` arguments (``staging_bucket``, ``service_account``).
    """
    from google.cloud import aiplatform

    kwargs: dict[str, Any] = {"project": project, "location": location, **settings}
    if credentials is not None:
        kwargs["credentials"] = credentials
    if api_endpoint:
        kwargs.update(api_endpoint=api_endpoint, api_transport="rest")
    aiplatform.init(**kwargs)
    return aiplatform


def vertex_init(env: CloudEnv, credentials: Any = None, api_endpoint: str | None = None) -> Any:
    """:func:`init_aiplatform` for ``PROJECT_ID``/``REGION``, ``BUCKET`` and ``SERVICE_ACCOUNT``."""
    env.require("vertex")
    settings: dict[str, Any] = {"staging_bucket": f"gs://{env.bucket}" if env.bucket else None}
    if env.service_account:
        settings["service_account"] = env.service_account
    return init_aiplatform(env.project_id, env.region, credentials, api_endpoint, **settings)
