"""Loopback stand-ins for the cloud: HTTP servers on 127.0.0.1 that record every request.

* :class:`RecordingServer` — answers like the Kubeflow Pipelines v2beta1 REST API
  (:func:`kfp_routes`) or the Vertex AI REST API (:func:`vertex_routes`) with just enough state for
  the real ``kfp.Client`` / ``aiplatform`` SDKs to complete, and keeps each request's method, path,
  query and JSON body for the tests to assert on.
* :func:`storage_emulator` — gcp-storage-emulator in a thread, ``STORAGE_EMULATOR_HOST`` set.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

Route = Callable[["Recorded", dict[str, Any]], tuple[int, Any]]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class RecordingServer:
    """A threaded HTTP server on 127.0.0.1 whose ``handler(request, state)`` returns (status, json)."""

    def __init__(self, handler: Route) -> None:
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
        self.state: dict[str, Any] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw.decode("utf-8", "replace")
                path, query = unquote(url.path), parse_qs(url.query)
                request = Recorded(self.command, path, query, body, dict(self.headers))
                outer.requests.append(request)
                try:
                    status, payload = handler(request, outer.state)
                except Exception as exc:  # a bug in a route: answer 400 (not retried) and remember it
                    outer.errors.append(f"{request.method} {request.path}: {exc!r}")
                    status, payload = 400, {"error": {"code": 400, "message": repr(exc)}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def find(self, method: str, pattern: str) -> list[Recorded]:
        """Recorded requests with this method whose path matches the regex ``pattern``."""
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]


# --- Kubeflow Pipelines v2beta1 -------------------------------------------------------------------


def kfp_routes(request: Recorded, state: dict[str, Any]) -> tuple[int, Any]:
    """Enough of the KFP v2beta1 API for runs, experiments and recurring runs."""
    experiments = state.setdefault("experiments", {})
    recurring = state.setdefault("recurring", {})
    method, path, body = request.method, request.path, request.body or {}
    if path.endswith("/healthz"):
        return 200, {"multi_user": False}
    if path == "/apis/v2beta1/experiments":
        if method == "POST":
            experiment = {**body, "experiment_id": f"exp-{len(experiments) + 1}"}
            experiments[experiment["experiment_id"]] = experiment
            return 200, experiment
        wanted = (
            json.loads(request.query.get("filter", ["{}"])[0]).get("predicates", [{}])[0].get("stringValue")
        )
        found = [e for e in experiments.values() if wanted in (None, e.get("display_name"))]
        return 200, {"experiments": found, "total_size": len(found)}
    if path == "/apis/v2beta1/runs" and method == "POST":
        return 200, {**body, "run_id": "run-1", "state": "PENDING"}
    if path == "/apis/v2beta1/recurringruns":
        if method == "POST":
            item = {**body, "recurring_run_id": f"rr-{len(recurring) + 1}", "status": "ENABLED"}
            recurring[item["recurring_run_id"]] = item
            return 200, item
        return 200, {"recurringRuns": list(recurring.values()), "total_size": len(recurring)}
    match = re.fullmatch(r"/apis/v2beta1/recurringruns/([^/:]+)(?::(enable|disable))?", path)
    if match:
        item = recurring.get(match[1])
        if item is None:
            return 404, {"error": "not found", "code": 5}
        if method == "DELETE":
            del recurring[match[1]]
        elif match[2]:
            item["mode"] = "ENABLE" if match[2] == "enable" else "DISABLE"
        return 200, {} if method != "GET" else item
    return 404, {"error": f"no route for {method} {path}", "code": 5}


# --- Vertex AI ------------------------------------------------------------------------------------


def vertex_routes(request: Recorded, state: dict[str, Any]) -> tuple[int, Any]:
    """Enough of the Vertex AI REST API for pipeline jobs, schedules and Model Registry uploads."""
    schedules = state.setdefault("schedules", {})
    method, path, body = request.method, request.path, request.body or {}
    parent = re.match(r"/v1(?:beta1)?/(projects/[^/]+/locations/[^/]+)", path)
    if parent is None:
        return 404, {"error": {"code": 404, "message": f"no route for {path}"}}
    stem = path[parent.end() :]
    now = "2026-01-01T00:00:00Z"
    jobs = state.setdefault("jobs", {})
    if stem == "/pipelineJobs" and method == "POST":
        job_id = request.query.get("pipelineJobId", ["job-1"])[0]
        name = f"{parent[1]}/pipelineJobs/{job_id}"
        context = f"{parent[1]}/metadataStores/default/contexts/{job_id}"
        jobs[name] = {
            **body,
            "name": name,
            "state": "PIPELINE_STATE_PENDING",
            "createTime": now,
            "jobDetail": {"pipelineRunContext": {"name": context, "schemaTitle": "system.PipelineRun"}},
        }
        return 200, jobs[name]
    if stem == "/pipelineJobs" and method == "GET":
        return 200, {"pipelineJobs": list(jobs.values())}
    match = re.fullmatch(r"/pipelineJobs/([^/:]+)", stem)
    if match and method == "GET":
        return 200, jobs[f"{parent[1]}/pipelineJobs/{match[1]}"]
    if stem.startswith("/metadataStores"):
        return _metadata_routes(request, state, parent[1], stem)
    if stem == "/schedules":
        if method == "POST":
            name = f"{parent[1]}/schedules/{100 + len(schedules)}"
            schedules[name] = {**body, "name": name, "state": "ACTIVE", "createTime": now}
            return 200, schedules[name]
        return 200, {"schedules": list(schedules.values())}
    models = state.setdefault("models", {})
    if stem == "/models:upload" and method == "POST":
        model = dict(body["model"])
        parent_model = body.get("parentModel")
        if parent_model:
            name, version = parent_model, str(int(models[parent_model]["versionId"]) + 1)
        else:
            name, version = f"{parent[1]}/models/{200 + len(models)}", "1"
        models[name] = {**model, "name": name, "versionId": version}
        return 200, {
            "name": f"{name}/operations/1",
            "done": True,
            "response": {
                "@type": "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse",
                "model": name,
                "modelVersionId": version,
            },
        }
    if stem == "/models" and method == "GET":
        return 200, {"models": list(models.values())}
    match = re.fullmatch(r"/models/([^/:@]+)(?:@.*)?", stem)
    if match and method == "GET":
        return 200, models[f"{parent[1]}/models/{match[1]}"]
    match = re.fullmatch(r"/schedules/([^/:]+)(?::(pause|resume))?", stem)
    if match:
        name = f"{parent[1]}/schedules/{match[1]}"
        if name not in schedules:
            return 404, {"error": {"code": 404, "message": f"{name} not found", "status": "NOT_FOUND"}}
        if method == "DELETE":
            del schedules[name]
            return 200, {
                "name": f"{name}/operations/1",
                "done": True,
                "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
            }
        if match[2]:
            schedules[name]["state"] = "PAUSED" if match[2] == "pause" else "ACTIVE"
            return 200, {}
        return 200, schedules[name]
    return 404, {"error": {"code": 404, "message": f"no route for {method} {path}"}}


def _metadata_routes(request: Recorded, state: dict[str, Any], parent: str, stem: str) -> tuple[int, Any]:
    """Vertex ML Metadata, enough for Vertex AI Experiments: the default store, experiment contexts,
    and adding a pipeline run's context as a child of an experiment."""
    contexts = state.setdefault("contexts", {})
    store = f"{parent}/metadataStores/default"
    if stem == "/metadataStores/default" and request.method == "GET":
        return 200, {"name": store}
    if stem == "/metadataStores/default/contexts" and request.method == "POST":
        context_id = request.query.get("contextId", ["context"])[0]
        name = f"{store}/contexts/{context_id}"
        contexts[name] = {**(request.body or {}), "name": name, "createTime": "2026-01-01T00:00:00Z"}
        return 200, contexts[name]
    match = re.fullmatch(r"/metadataStores/default/contexts/([^/:]+)(?::(\w+))?", stem)
    if match:
        name = f"{store}/contexts/{match[1]}"
        if match[2] == "addContextChildren":
            contexts.setdefault(name, {"name": name}).setdefault("childContexts", []).extend(
                request.body.get("childContexts", [])
            )
            return 200, {}
        if name in contexts:
            return 200, contexts[name]
        return 404, {"error": {"code": 404, "message": f"{name} not found", "status": "NOT_FOUND"}}
    return 404, {"error": {"code": 404, "message": f"no metadata route for {request.method} {stem}"}}


# --- GCS ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def storage_emulator(monkeypatch: Any, bucket: str = "tinysign-test") -> Iterator[str]:
    """gcp-storage-emulator (in memory) on 127.0.0.1 with ``bucket``; yields its URL.

    Beam's GCS filesystem (used by :mod:`tinysign.data.storage`) first looks for Google credentials —
    five tries over ~24 s, pinging the GCE metadata server — before it falls back to an anonymous
    client; against the emulator it goes straight to the anonymous client.
    """
    from apache_beam.internal.gcp import auth
    from gcp_storage_emulator.server import create_server

    monkeypatch.setattr(auth._Credentials, "_credentials_init", True)
    monkeypatch.setattr(auth._Credentials, "_credentials", None)

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    try:
        yield url
    finally:
        server.stop()


@contextmanager
def with_generation_preconditions(emulator: str) -> Iterator[str]:
    """A loopback proxy in front of gcp-storage-emulator that enforces GCS's generation preconditions;
    yields its URL (use it as ``STORAGE_EMULATOR_HOST``).

    The emulator (checked: gcp-storage-emulator 2026.7.19) ignores ``ifGenerationMatch``; GCS refuses
    an upload or delete whose object generation differs with HTTP 412 (0 = the object must not exist).
    The proxy does that check and the forwarded request under one lock, so a conditional write is
    atomic as on GCS; every other request passes through unchanged.
    """
    import http.client

    upstream = urlparse(emulator)
    guard = threading.Lock()

    def forward(method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        try:
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def generation(bucket: str, name: str) -> str:
        status, _, payload = forward("GET", f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}", {}, b"")
        return json.loads(payload)["generation"] if status == 200 else "0"

    def target_object(path: str, query: dict[str, list[str]], body: bytes) -> tuple[str, str]:
        match = re.fullmatch(r"(?:/upload)?/storage/v1/b/([^/]+)/o(?:/(.+))?", path)
        if match is None:
            return "", ""
        if match[2]:
            return match[1], match[2]
        if "name" in query:
            return match[1], query["name"][0]
        part = re.search(rb"\r\n\r\n(\{.*?\})\r\n--", body, re.DOTALL)  # multipart: metadata first
        return match[1], json.loads(part[1])["name"] if part else ""

    class Proxy(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlparse(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            query = parse_qs(url.query)
            wanted = query.get("ifGenerationMatch", [None])[0]
            bucket, name = target_object(unquote(url.path), query, body) if wanted else ("", "")
            if bucket and name:
                with guard:
                    if generation(bucket, name) != wanted:
                        payload = {"error": {"code": 412, "message": "conditionNotMet"}}
                        status, reply, data = (
                            412,
                            [("Content-Type", "application/json")],
                            json.dumps(payload).encode(),
                        )
                    else:
                        status, reply, data = forward(self.command, self.path, headers, body)
            else:
                status, reply, data = forward(self.command, self.path, headers, body)
            self.send_response(status)
            for key, value in reply:
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
