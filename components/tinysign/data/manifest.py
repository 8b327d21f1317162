"""The manifest contract between ingest and extraction: one row per kept clip, one per dropped clip.

``manifest.jsonl`` holds one JSON object per kept :class:`Clip` (plus ``label_index`` and
``split``); ``drop_report.csv`` one :class:`Drop` per clip not kept, with a reason code.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tinysign.data.commit import check_committed
from tinysign.errors import TinysignError

DROP_FIELDS = ("clip_id", "label", "path", "reason", "detail")
MAX_LABEL_LENGTH = 100
REQUIRED_FIELDS = {"clip_id", "label", "label_index", "path", "split", "frame_start", "frame_end"}


def valid_label(label: str) -> bool:
    """A gloss that can go into labels.txt, CSVs and plots: 1..100 printable characters, one line."""
    return 0 < len(label) <= MAX_LABEL_LENGTH and label == label.strip() and label.isprintable()


SYNTHETIC_SOURCE = "synthetic://"  # the source_video of a generated clip (tinysign data demo)


@dataclass(frozen=True)
class Clip:
    """One clip found in a dataset (before and after probing)."""

    clip_id: str
    label: str  # the class: a sign of the vocabulary, or `unknown` (data/vocabulary.py)
    path: str
    source_video: str
    signer: str = ""
    sign: str = ""  # the gloss as the dataset names it (differs from `label` for unknown signs)
    dataset: str = ""
    frame_start: int = 1
    frame_end: int = -1
    official_split: str = ""
    fps: float = 0.0
    frame_count: int = 0
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Drop:
    """A clip not kept, with a drop-report reason code."""

    clip_id: str
    label: str
    path: str
    reason: str
    detail: str = ""


Found = tuple[list[Clip], list[Drop]]


def write_manifest(path: Path, clips: list[Clip], splits: dict[str, str], labels: list[str]) -> None:
    """One JSON line per clip (sorted by id) with its ``label_index`` into ``labels`` and its split."""
    index = {label: i for i, label in enumerate(labels)}
    with open(path, "w", encoding="utf-8") as stream:
        for clip in sorted(clips, key=lambda c: c.clip_id):
            row = {**asdict(clip), "label_index": index[clip.label], "split": splits[clip.clip_id]}
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")


def clip_of(row: dict[str, Any]) -> Clip:
    """The :class:`Clip` a manifest row holds (rows written before a field existed get its default)."""
    names = {field.name for field in fields(Clip)}
    return Clip(**{"source_video": "", **{key: value for key, value in row.items() if key in names}})


def write_drop_report(path: Path, drops: list[Drop]) -> None:
    """``drop_report.csv``: one row per clip not kept, sorted by reason and id."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=DROP_FIELDS)
        writer.writeheader()
        writer.writerows(asdict(d) for d in sorted(drops, key=lambda d: (d.reason, d.clip_id)))


def read_drop_report(path: Path) -> list[dict[str, str]]:
    """The rows of a ``drop_report.csv`` (``[]`` when the file is absent)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a manifest.jsonl (of an ingest that committed whole), validated enough to fail with one
    clear line."""
    check_committed(Path(path).parent, "ingest")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise TinysignError(f"{path} not found: run `tinysign ingest` first") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise TinysignError(f"{path}:{number} is not JSON: re-run `tinysign ingest`") from None
        missing = REQUIRED_FIELDS - set(row) if isinstance(row, dict) else REQUIRED_FIELDS
        if missing:
            raise TinysignError(
                f"{path}:{number} lacks {', '.join(sorted(missing))}: re-run `tinysign ingest`"
            )
        rows.append(row)
    if not rows:
        raise TinysignError(f"{path} is empty: nothing to extract")
    return rows
