"""GCS end to end without a cloud: gcp-storage-emulator on 127.0.0.1, videos in and records out of gs://."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bad_inputs import wlasl
from tests.loopback import storage_emulator
from tinysign.config import Config
from tinysign.data import storage
from tinysign.extract import run_extract
from tinysign.ingest import run_ingest

BUCKET = "tinysign-e2e"
TINY = Config(
    min_per_class=2, num_frames=8, img_size=16, augment_copies=1, fps_targets=(15, 30), num_shards=2
)


def upload_tree(local: Path, remote: str) -> None:
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        with storage.open_write(storage.join(remote, path.relative_to(local).as_posix())) as stream:
            stream.write(path.read_bytes())


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch):
    with storage_emulator(monkeypatch, bucket=BUCKET) as url:
        yield url


def test_ingest_and_extract_through_gcs(gcs: str, tmp_path: Path) -> None:
    local_data = Path(wlasl(tmp_path / "src")[0])
    upload_tree(local_data, f"gs://{BUCKET}/data")

    metrics = run_ingest([f"gs://{BUCKET}/data"], tmp_path / "ingest", TINY, progress=False)
    assert metrics["found"] == metrics["kept"] == 4
    rows = [json.loads(line) for line in (tmp_path / "ingest" / "manifest.jsonl").read_text().splitlines()]
    assert all(row["path"].startswith(f"gs://{BUCKET}/data/videos/") for row in rows)

    remote_records = f"gs://{BUCKET}/records"
    extracted = run_extract(tmp_path / "ingest" / "manifest.jsonl", remote_records, TINY)
    assert extracted["clips_extracted"] == 4 and extracted["clips_failed"] == 0

    local_records = tmp_path / "local-records"
    run_extract(tmp_path / "ingest" / "manifest.jsonl", local_records, TINY)
    local_files = sorted(p.name for p in local_records.iterdir() if p.is_file())
    remote_files = sorted(p.rsplit("/", 1)[1] for p in storage.glob(f"{remote_records}/*"))
    shards = [f for f in remote_files if f.endswith(".tfrecord")]
    assert remote_files == local_files and len(shards) == 10  # 3 splits + 2 of streams, 2 shards each
    for name in local_files:
        if name.endswith(".tfrecord"):  # identical bytes whichever storage the shards went to
            with storage.open_read(f"{remote_records}/{name}") as stream:
                assert stream.read() == (local_records / name).read_bytes(), name
    assert not storage.glob(f"{remote_records}/.tmp-*")
