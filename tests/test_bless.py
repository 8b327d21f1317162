"""Blessing: thresholds, trivial baselines, MCU budgets, champion/challenger, push (local and gs://).

Stage folders are written in the format the real evaluate / mcu / quantize stages write
(``metrics.json`` keys, ``*.tflite`` files, ``labels.txt``); the model bytes are stand-ins because
blessing only copies and hashes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.loopback import RecordingServer, storage_emulator, vertex_routes
from tinysign import bless
from tinysign.bless import CHAMPION_FILE, run_bless
from tinysign.config import Config
from tinysign.errors import TinysignError

LABELS = ["hello", "thanks", "yes"]
CONFIG = Config(
    min_int8_accuracy=0.6, max_int8_drop=0.05, arena_budget_bytes=20_000, flash_budget_bytes=100_000
)


def stage_dirs(
    root: Path,
    int8: float = 0.9,
    float32: float = 0.92,
    arena: int = 15_000,
    flash: int = 60_000,
    majority: float = 0.34,
    nn1: float = 0.5,
    motion: float = 0.6,
    model_bytes: bytes = b"int8-model",
) -> dict[str, Path]:
    """quantize/evaluate/mcu folders as the stages write them."""
    quant, evaluation, mcu = root / "quantize", root / "evaluate", root / "mcu"
    for folder in (quant, evaluation, mcu):
        folder.mkdir(parents=True, exist_ok=True)
    (quant / "s3d_conv1d_int8_3.tflite").write_bytes(model_bytes)
    (quant / "s3d_conv1d_float32_3.tflite").write_bytes(b"float-model")
    (quant / "labels.txt").write_text("".join(f"{label}\n" for label in LABELS))
    (quant / "metrics.json").write_text(json.dumps({"method": "ptq"}))
    (evaluation / "metrics.json").write_text(
        json.dumps(
            {
                "int8_accuracy": int8,
                "float32_accuracy": float32,
                "accuracy_delta": int8 - float32,
                "labels": LABELS,
                "int8": {"accuracy": int8},
                "float32": {"accuracy": float32},
                "baselines": {
                    "majority": {"accuracy": majority, "class": 0},
                    "nearest_neighbour": {"accuracy": nn1},
                    "motion_nn": {"accuracy": motion},
                },
            }
        )
    )
    (evaluation / "int8_confusion_matrix.png").write_bytes(b"png")
    (mcu / "metrics.json").write_text(json.dumps({"arena_bytes": arena, "flash_bytes": flash}))
    (mcu / "model_data.cc").write_text("alignas(16) const unsigned char g_model_data[] = {0x00};\n")
    return {"quant_dir": quant, "eval_dir": evaluation, "mcu_dir": mcu}


def bless_run(
    tmp_path: Path,
    n: int,
    destination: str,
    version: str = "",
    registry: str = "",
    vertex: dict | None = None,
    lineage: dict | None = None,
    **metrics: object,
) -> dict:
    """:func:`run_bless` on fresh stage folders ``r<n>`` (``metrics``: see :func:`stage_dirs`),
    writing ``b<n>``."""
    return run_bless(
        **stage_dirs(tmp_path / f"r{n}", **metrics),
        out_dir=tmp_path / f"b{n}",
        config=CONFIG,
        destination=destination,
        version=version,
        registry=registry,
        vertex=vertex,
        lineage=lineage,
    )


def checks_by_name(decision: dict) -> dict[str, dict]:
    return {c["name"]: c for c in decision["checks"]}


def test_blessed_model_is_pushed_with_its_record(tmp_path):
    dest = tmp_path / "dest"
    decision = run_bless(
        **stage_dirs(tmp_path / "run"),
        out_dir=tmp_path / "bless",
        config=CONFIG,
        destination=str(dest),
        version="v1",
    )
    assert decision["blessed"] and decision["pushed"]
    assert set(checks_by_name(decision)) == {
        "min INT8 accuracy",
        "max INT8 drop (float - INT8)",
        "beats the strongest trivial baseline",
        "tensor arena within budget",
        "flash within budget",
    }
    pushed = dest / "models" / "v1"
    assert (pushed / "s3d_conv1d_int8_3.tflite").read_bytes() == b"int8-model"
    assert (pushed / "labels.txt").read_text().split() == LABELS
    assert (pushed / "mcu" / "model_data.cc").is_file() and (pushed / "evaluation" / "metrics.json").is_file()
    record = json.loads((tmp_path / "bless" / "bless.json").read_text())
    assert record["blessed"] and record["model_uri"] == str(pushed)
    assert json.loads((pushed / "bless.json").read_text())["version"] == "v1"
    champion = json.loads((dest / "models" / CHAMPION_FILE).read_text())
    assert champion["version"] == "v1" and champion["int8_accuracy"] == 0.9 and champion["labels"] == LABELS
    assert json.loads((tmp_path / "bless" / "metrics.json").read_text()) == {
        "blessed": True,
        "pushed": True,
        "checks_failed": 0,
    }


def test_the_pipeline_decides_then_pushes_in_its_own_step(tmp_path):
    """bless (push_model=False) decides and records; the push step (behind a dsl.If on the outcome) copies
    the model, moves the champion and records the decision as pushed."""
    dest, dirs = tmp_path / "dest", stage_dirs(tmp_path / "run")
    decision = run_bless(
        **dirs, out_dir=tmp_path / "bless", config=CONFIG, destination=str(dest), push_model=False
    )
    assert decision["outcome"] == "pushed" and not (dest / "models").exists()  # decided, not yet done
    with pytest.raises(TinysignError, match="no decision to push"):
        bless.run_push(tmp_path / "nowhere", *dirs.values(), tmp_path / "pushed", CONFIG)
    pushed = bless.run_push(tmp_path / "bless", *dirs.values(), tmp_path / "pushed", CONFIG)
    model = Path(pushed["model_uri"])
    assert (model / "s3d_conv1d_int8_3.tflite").read_bytes() == b"int8-model"
    assert json.loads((dest / "models" / CHAMPION_FILE).read_text())["version"] == decision["version"]
    assert json.loads((tmp_path / "pushed" / "bless.json").read_text())["model_uri"] == str(model)
    # the whole config is recorded: what produced the model (tinysign runs --compare)
    assert decision["config"] == CONFIG.to_dict()


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"int8": 0.5, "float32": 0.52, "nn1": 0.4, "motion": 0.4}, "min INT8 accuracy"),
        ({"int8": 0.8, "float32": 0.9}, "max INT8 drop (float - INT8)"),
        ({"int8": 0.7, "float32": 0.7, "nn1": 0.75}, "beats the strongest trivial baseline"),
        ({"int8": 0.7, "float32": 0.7, "motion": 0.7}, "beats the strongest trivial baseline"),
        ({"arena": 20_001}, "tensor arena within budget"),
        ({"flash": 150_000}, "flash within budget"),
    ],
)
def test_each_threshold_can_refuse_the_blessing(tmp_path, change, failed):
    dest = tmp_path / "dest"
    decision = run_bless(
        **stage_dirs(tmp_path / "run", **change),
        out_dir=tmp_path / "bless",
        config=CONFIG,
        destination=str(dest),
    )
    assert not decision["blessed"] and not decision["pushed"]
    assert [name for name, c in checks_by_name(decision).items() if not c["passed"]] == [failed]
    assert any(r.startswith(f"FAIL: {failed}") for r in decision["reasons"])
    assert decision["reasons"][-1] == "not blessed: nothing pushed"
    assert not (dest / "models").exists()
    assert json.loads((tmp_path / "bless" / "bless.json").read_text())["blessed"] is False


def test_missing_metrics_fail_closed(tmp_path):
    dirs = stage_dirs(tmp_path / "run")
    (dirs["mcu_dir"] / "metrics.json").unlink()
    decision = run_bless(**dirs, out_dir=tmp_path / "bless", config=CONFIG, destination=str(tmp_path / "d"))
    arena = checks_by_name(decision)["tensor arena within budget"]
    assert not decision["blessed"] and arena["value"] is None and "cannot bless without it" in arena["detail"]
    with pytest.raises(TinysignError, match="no .tflite files"):
        run_bless(tmp_path / "empty", dirs["eval_dir"], dirs["mcu_dir"], tmp_path / "b2", CONFIG)


def test_champion_challenger(tmp_path):
    dest = str(tmp_path / "dest")
    first = bless_run(tmp_path, 1, dest, "v1", int8=0.9, float32=0.9, model_bytes=b"m1")
    assert first["pushed"] and first["champion"] is None

    worse = bless_run(tmp_path, 2, dest, "v2", int8=0.85, float32=0.86, model_bytes=b"m2")
    champion_check = checks_by_name(worse)["not worse than champion"]
    assert not worse["blessed"] and not champion_check["passed"] and champion_check["threshold"] == 0.9
    assert worse["champion"]["version"] == "v1"
    assert not (tmp_path / "dest" / "models" / "v2").exists()

    same = bless_run(tmp_path, 3, dest, "v3", int8=0.9, float32=0.9, model_bytes=b"m1")
    assert same["blessed"] and not same["pushed"] and "identical to champion v1" in same["reasons"][-1]

    better = bless_run(tmp_path, 4, dest, "v4", int8=0.95, float32=0.95, model_bytes=b"m4")
    assert better["blessed"] and better["pushed"]
    assert json.loads((tmp_path / "dest" / "models" / CHAMPION_FILE).read_text())["version"] == "v4"
    assert sorted(p.name for p in (tmp_path / "dest" / "models").iterdir()) == [CHAMPION_FILE, "v1", "v4"]


def test_champion_with_other_labels_is_not_compared(tmp_path):
    dest = tmp_path / "dest" / "models"
    dest.mkdir(parents=True)
    (dest / CHAMPION_FILE).write_text(
        json.dumps({"version": "old", "int8_accuracy": 0.99, "labels": ["a", "b"]})
    )
    decision = run_bless(
        **stage_dirs(tmp_path / "run"),
        out_dir=tmp_path / "b",
        config=CONFIG,
        destination=str(tmp_path / "dest"),
    )
    check = checks_by_name(decision)["not worse than champion"]
    assert decision["pushed"] and check["passed"] and "comparison skipped" in check["detail"]


def test_decide_without_destination_and_markdown(tmp_path):
    decision = run_bless(**stage_dirs(tmp_path / "run"), out_dir=tmp_path / "b", config=CONFIG)
    assert decision["blessed"] and not decision["pushed"] and decision["model_uri"] == ""
    text = bless.decision_markdown(decision, tmp_path / "decision.md").read_text()
    assert text.startswith("**Blessed: version") and "| min INT8 accuracy | 0.9000 | 0.6000 | pass |" in text
    assert text.rstrip().endswith("no destination given: nothing pushed")


def test_push_to_gcs(tmp_path, monkeypatch):
    from google.cloud import storage

    with storage_emulator(monkeypatch, bucket="models") as emulator:
        dest = "gs://models/tinysign"
        first = bless_run(tmp_path, 1, dest, "v1", model_bytes=b"m1")
        assert first["pushed"] and first["model_uri"] == "gs://models/tinysign/models/v1"
        client = storage.Client(project="test", client_options={"api_endpoint": emulator})
        names = sorted(b.name for b in client.list_blobs("models", prefix="tinysign/"))
        assert "tinysign/models/v1/s3d_conv1d_int8_3.tflite" in names
        assert "tinysign/models/v1/mcu/model_data.cc" in names and "tinysign/models/champion.json" in names
        blob = client.bucket("models").blob("tinysign/models/v1/s3d_conv1d_int8_3.tflite")
        assert blob.download_as_bytes() == b"m1"
        # the champion is read back from GCS: a worse challenger is refused
        worse = bless_run(tmp_path, 2, dest, "v2", int8=0.8, float32=0.8, model_bytes=b"m2")
        assert not worse["blessed"] and worse["champion"]["version"] == "v1"


def test_blessed_gcs_model_is_registered_in_vertex(tmp_path, monkeypatch):
    from google.auth.credentials import AnonymousCredentials

    registry = "projects/proj/locations/europe-west4"
    from google.cloud import storage

    with storage_emulator(monkeypatch, bucket="models") as emulator, RecordingServer(vertex_routes) as server:
        cloud = {
            "registry": registry,
            "vertex": {"credentials": AnonymousCredentials(), "api_endpoint": server.url},
        }
        lineage = {"pipeline_job": "tinysign-training-20261201", "data_version": "ab12cd34ef56ab78"}
        first = bless_run(tmp_path, 1, "gs://models/t", "v1", model_bytes=b"m1", lineage=lineage, **cloud)
        second = bless_run(
            tmp_path, 2, "gs://models/t", "v2", int8=0.95, float32=0.95, model_bytes=b"m2", **cloud
        )
        client = storage.Client(project="p", client_options={"api_endpoint": emulator})
        champion = json.loads(client.bucket("models").blob("t/models/champion.json").download_as_text())
    uploads = server.find("POST", r"/v1/projects/proj/locations/europe-west4/models:upload$")
    assert len(uploads) == 2
    model = uploads[0].body["model"]
    assert model["artifactUri"] == "gs://models/t/models/v1" and model["displayName"] == "tinysign"
    assert model["labels"]["version"] == "v1" and model["containerSpec"]["imageUri"] == CONFIG.image
    assert model["labels"]["pipeline_job"] == "tinysign-training-20261201"
    assert model["labels"]["data_version"] == "ab12cd34ef56ab78"
    assert all(u.body["model"]["versionAliases"] == ["default"] for u in uploads)  # the champion is default
    assert champion["version"] == "v2" and champion["data_version"] == ""
    assert "parentModel" not in uploads[0].body  # first upload creates the model ...
    assert uploads[1].body["parentModel"] == first["registered_model"]  # ... later ones add versions
    assert second["registered_model"] == first["registered_model"]
    assert (
        json.loads((tmp_path / "b2" / "bless.json").read_text())["registered_model"]
        == first["registered_model"]
    )
    with pytest.raises(TinysignError, match="not on GCS"):
        bless_run(tmp_path, 3, str(tmp_path / "local"), int8=0.99, float32=0.99, model_bytes=b"m3", **cloud)


def test_strongest_baseline_must_be_beaten_unless_both_are_perfect(tmp_path):
    check = checks_by_name(bless_run(tmp_path, 1, "", int8=0.6, float32=0.6, nn1=0.2, motion=0.6))
    assert not check["beats the strongest trivial baseline"]["passed"]
    assert "motion 1-NN 0.6000" in check["beats the strongest trivial baseline"]["detail"]
    perfect = checks_by_name(bless_run(tmp_path, 2, "", int8=1.0, float32=1.0, nn1=1.0))
    assert perfect["beats the strongest trivial baseline"]["passed"]
