"""Dataset readers: find the clips of a WLASL, ``metadata.csv`` or ``<label>/<clip>`` folder.

Accepted layouts (auto-detected, or forced with ``layout:path``):

* ``wlasl``    WLASL-processed / WLASL2000-resized: ``WLASL_v0.3.json`` + ``<video_id>.mp4`` anywhere
  below the root (``videos/`` usually); honours ``frame_start``/``frame_end``, ``missing.txt`` and
  the optional ``nslt_<N>.json`` subset (``config.subset``).
* ``kimpinde`` ``metadata.csv`` with ``filename,label[,signer][,split]``; ``filename`` is a path
  relative to the csv's folder.
* ``folder``   any ``<root>/<label>/<clip>.<video ext>`` or ``<root>/{train,val,test}/<label>/<clip>`` tree.

Each reader returns ``(clips, drops)``: what it found and what it could not use, with a reason.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tinysign.artifacts import CSV_METADATA, WLASL_METADATA, WLASL_MISSING
from tinysign.config import Config
from tinysign.data import storage
from tinysign.data.dataset_files import VideoFiles, boundary_problem, is_video
from tinysign.data.manifest import MAX_LABEL_LENGTH, Clip, Drop, Found, valid_label
from tinysign.data.video import VIDEO_EXTENSIONS
from tinysign.errors import TinysignError

LAYOUTS = ("wlasl", "kimpinde", "folder")
# How datasets name their own splits (metadata `split` column, WLASL `split`, top-level folders).
OFFICIAL_SPLITS = {"train": "train", "val": "val", "validation": "val", "dev": "val", "test": "test"}


def detect_layout(root: str) -> str:
    if storage.exists(storage.join(root, WLASL_METADATA)) or storage.glob(
        storage.join(root, "*", WLASL_METADATA)
    ):
        return "wlasl"
    if storage.exists(storage.join(root, CSV_METADATA)):
        return "kimpinde"
    for top in split_folders(root) or [root]:
        if any(is_video(p) for p in storage.glob(storage.join(top, "*", "*"))):
            return "folder"
    if not storage.exists(root):
        raise TinysignError(f"{root} does not exist: pass a dataset folder (see `tinysign ingest --help`)")
    raise TinysignError(
        f"{root}: cannot tell the dataset layout; expected WLASL_v0.3.json, metadata.csv or "
        "<label>/<clip>.mp4 folders (force one with wlasl:PATH, kimpinde:PATH, folder:PATH)"
    )


@dataclass(frozen=True)
class BadEntry:
    """A top-level element of a metadata JSON list that could not be parsed on its own."""

    detail: str


def _load_json(path: str) -> Any:
    """A metadata JSON file; one line when it is not JSON. A list whose elements nest deeper than the
    parser goes (or hold numbers too long to read) keeps its other elements: each bad one becomes a
    :class:`BadEntry`. ``NaN``/``Infinity`` parse as floats; readers refuse them where numbers matter."""
    try:
        text = storage.read_text(path)
    except UnicodeDecodeError:
        raise TinysignError(f"{path} is not UTF-8 text; re-download the metadata file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TinysignError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); re-download the metadata file"
        ) from None
    except (RecursionError, ValueError):  # absurd nesting, or an integer of thousands of digits
        items = _top_level_items(text)
        if items is None:
            raise TinysignError(f"{path}: nested too deeply or holds a number too long to read") from None
        return [_parse_item(item) for item in items]


def _parse_item(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        return BadEntry("nested deeper than a metadata entry can be")
    except ValueError as exc:
        return BadEntry(f"not readable JSON ({str(exc)[:80]})")


def _top_level_items(text: str) -> list[str] | None:
    """The raw text of each element of the JSON list ``text`` (``None`` when it is not one list),
    found by a scan that tracks strings and brackets without recursion."""
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        return None
    items, depth, in_string, escaped, begin = [], 0, False, False, start + 1
    for index in range(start + 1, len(text)):
        char = text[index]
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}" and depth:
            depth -= 1
        elif char == "]" or (char == "," and not depth):
            if text[begin:index].strip():
                items.append(text[begin:index])
            if char == "]":
                return items
            begin = index + 1
    return None


def _as_int(value: object, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return int(value)


def read_wlasl(root: str, tag: str, config: Config) -> Found:
    """Clips of a WLASL-processed / WLASL2000-resized folder."""
    candidates = [storage.join(root, WLASL_METADATA)] + storage.glob(storage.join(root, "*", WLASL_METADATA))
    json_path = next(p for p in candidates if storage.exists(p))
    data = _load_json(json_path)
    if not isinstance(data, list):
        raise TinysignError(
            f"{json_path}: expected a JSON list of {{gloss, instances}} objects, got {type(data).__name__}"
        )
    meta_root = os.path.dirname(json_path)
    missing_path = storage.join(meta_root, WLASL_MISSING)
    missing = set(storage.read_text(missing_path).split()) if storage.exists(missing_path) else set()
    subset = _nslt_subset(meta_root, config.subset)
    videos = VideoFiles(root, config.follow_outside_symlinks)
    clips: list[Clip] = []
    drops: list[Drop] = []
    for number, entry in enumerate(data):
        if isinstance(entry, BadEntry):
            drops.append(
                Drop(f"{tag}:entry{number}", "", json_path, "bad_metadata", f"entry {number}: {entry.detail}")
            )
            continue
        gloss = entry.get("gloss") if isinstance(entry, dict) else None
        instances = entry.get("instances") if isinstance(entry, dict) else None
        if not isinstance(gloss, str) or not gloss.strip() or not isinstance(instances, list):
            drops.append(
                Drop(
                    f"{tag}:entry{number}",
                    str(gloss or ""),
                    json_path,
                    "bad_metadata",
                    f"entry {number} needs a non-empty 'gloss' string and an 'instances' list",
                )
            )
            continue
        for instance in instances:
            clip_or_drop = _wlasl_clip(instance, gloss.strip(), tag, videos, missing, subset, json_path)
            (clips if isinstance(clip_or_drop, Clip) else drops).append(clip_or_drop)  # type: ignore[arg-type]
    return clips, drops


def _nslt_subset(meta_root: str, subset: int) -> set[str] | None:
    if not subset:
        return None
    path = storage.join(meta_root, f"nslt_{subset}.json")
    if not storage.exists(path):
        raise TinysignError(
            f"subset={subset} needs {path}; it is missing (WLASL ships nslt_100/300/1000/2000)"
        )
    data = _load_json(path)
    if not isinstance(data, dict):
        raise TinysignError(f"{path}: expected a JSON object keyed by video_id")
    return set(data)


def _wlasl_clip(
    instance: object,
    gloss: str,
    tag: str,
    videos: VideoFiles,
    missing: set[str],
    subset: set[str] | None,
    json_path: str,
) -> Clip | Drop:
    if not isinstance(instance, dict):
        return Drop(
            f"{tag}:?", gloss, json_path, "bad_metadata", f"instance is not an object: {instance!r:.80}"
        )
    video_id = instance.get("video_id")
    if not isinstance(video_id, str | int) or not str(video_id).strip():
        return Drop(
            f"{tag}:?", gloss, json_path, "bad_metadata", f"instance without a video_id: {instance!r:.80}"
        )
    video_id = str(video_id).strip()
    clip_id = f"{tag}:{video_id}"
    path, problem, problem_detail = videos.resolve_stem(video_id)
    try:
        start = _as_int(instance.get("frame_start"), 1)
        end = _as_int(instance.get("frame_end"), -1)
    except ValueError as exc:
        return Drop(clip_id, gloss, path, "bad_metadata", f"frame_start/frame_end: {exc}")
    if start < 1 or (end != -1 and end < start):
        return Drop(clip_id, gloss, path, "bad_metadata", f"frame range {start}..{end} is empty")
    if subset is not None and video_id not in subset:
        return Drop(clip_id, gloss, path, "not_in_subset", "not listed in the selected nslt_<N>.json")
    if problem == "ambiguous_file":
        return Drop(clip_id, gloss, "", problem, problem_detail)
    if not path:
        detail = (
            "listed in missing.txt" if video_id in missing else f"no {video_id}.mp4 below the dataset root"
        )
        return Drop(clip_id, gloss, "", "missing_file", detail)
    signer = instance.get("signer_id")
    split = instance.get("split")
    return Clip(
        clip_id=clip_id,
        label=gloss,
        path=path,
        source_video=str(instance.get("url") or video_id),
        signer="" if signer is None else str(signer),
        dataset=tag,
        frame_start=start,
        frame_end=end,
        official_split=OFFICIAL_SPLITS.get(str(split).lower(), ""),
    )


def read_kimpinde(root: str, tag: str, config: Config) -> Found:
    """Clips of a ``metadata.csv`` folder (ASL-Kimpinde style: ``filename,label[,signer][,split]``).

    ``filename`` is a path relative to the folder of ``metadata.csv`` (``/`` or ``\\``).
    """
    csv_path = storage.join(root, CSV_METADATA)
    try:
        reader = csv.DictReader(io.StringIO(storage.read_text(csv_path), newline=""))
        rows = list(reader)
        columns = set(reader.fieldnames or [])
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TinysignError(f"{csv_path} is not a readable CSV ({exc}); fix or re-download it") from None
    if not {"filename", "label"} <= columns:
        raise TinysignError(
            f"{csv_path} needs the columns 'filename' and 'label' (found: "
            f"{', '.join(sorted(columns)) or 'none'})"
        )
    videos = VideoFiles(root, config.follow_outside_symlinks)
    clips: list[Clip] = []
    drops: list[Drop] = []
    for number, row in enumerate(rows, start=2):
        name, label = (row.get("filename") or "").strip(), (row.get("label") or "").strip()
        clip_id = f"{tag}:{name.replace(chr(92), '/') or f'row{number}'}"
        if not name or not label:
            drops.append(
                Drop(clip_id, label, csv_path, "bad_metadata", f"row {number}: empty filename or label")
            )
            continue
        path, problem, detail = videos.resolve(name)
        if problem:
            drops.append(Drop(clip_id, label, path, problem, f"row {number}: {detail}"))
            continue
        signer = (row.get("signer") or row.get("signer_id") or "").strip()
        split = OFFICIAL_SPLITS.get((row.get("split") or "").strip().lower(), "")
        clips.append(
            Clip(clip_id, label, path, source_video=name, signer=signer, dataset=tag, official_split=split)
        )
    return clips, drops


def split_folders(root: str) -> list[str]:
    """The ``train/ val/ test/`` top folders of a generic layout that has them (else ``[]``).

    A top folder is a split folder when every video two levels below the root sits in one named
    like a split and none of those folders holds videos directly (that would be a label ``test``).
    """

    def tops(depth: int) -> set[str]:
        pattern = storage.join(root, *["*"] * depth)
        prefix = storage.join(root, "")
        return {p[len(prefix) :].split("/")[0] for p in storage.glob(pattern) if is_video(p)}

    nested = tops(3)
    if not nested or not {n.lower() for n in nested} <= set(OFFICIAL_SPLITS) or nested & tops(2):
        return []
    return [storage.join(root, name) for name in sorted(nested)]


def read_folder(root: str, tag: str, config: Config) -> Found:
    """Clips of a ``<root>/<label>/<clip>`` tree, or ``<root>/{train,val,test}/<label>/<clip>``.

    Other files there are reported, not skipped; so are symlinks out of the root or back into a folder
    they are in (:func:`boundary_problem`).
    """
    clips: list[Clip] = []
    drops: list[Drop] = []
    tops = split_folders(root)
    for top in tops or [root]:
        split = OFFICIAL_SPLITS[os.path.basename(top.rstrip("/")).lower()] if tops else ""
        prefix = f"{os.path.basename(top.rstrip('/'))}/" if tops else ""
        for path in storage.glob(storage.join(top, "*", "*")):
            label = os.path.basename(os.path.dirname(path))
            relative = f"{prefix}{label}/{os.path.basename(path)}"
            clip_id = f"{tag}:{relative}"
            problem = boundary_problem(path, root, config.follow_outside_symlinks)
            if problem:
                drops.append(Drop(clip_id, label, path, *problem))
            elif not storage.is_remote(path) and os.path.isdir(path):
                drops.append(Drop(clip_id, label, path, "not_a_video", "a folder inside a label folder"))
            elif not is_video(path):
                drops.append(
                    Drop(
                        clip_id, label, path, "not_a_video", f"extension not in {', '.join(VIDEO_EXTENSIONS)}"
                    )
                )
            else:
                clips.append(
                    Clip(
                        clip_id, label.strip(), path, source_video=relative, dataset=tag, official_split=split
                    )
                )
    return clips, drops


READERS = {"wlasl": read_wlasl, "kimpinde": read_kimpinde, "folder": read_folder}


def parse_source(spec: str) -> tuple[str, str]:
    """``"layout:path"`` or ``"path"`` -> (layout, path); ``gs://`` paths keep their scheme."""
    layout, sep, rest = spec.partition(":")
    if sep and layout in LAYOUTS:
        return layout, rest
    return detect_layout(spec), spec


def find_clips(sources: list[str], config: Config) -> Found:
    """Read every source; ids are prefixed by a per-source tag so sources can be combined."""
    if not sources:
        raise TinysignError("no dataset given: pass one or more dataset folders")
    clips: list[Clip] = []
    drops: list[Drop] = []
    used: Counter[str] = Counter()
    for spec in sources:
        layout, root = parse_source(spec)
        if not storage.exists(root):
            raise TinysignError(f"{root} does not exist: pass a dataset folder")
        used[layout] += 1
        tag = layout if used[layout] == 1 else f"{layout}{used[layout]}"
        found, dropped = READERS[layout](root, tag, config)
        clips += [c for c in found if valid_label(c.label)]
        drops += dropped + [_bad_label(c) for c in found if not valid_label(c.label)]
    return clips, drops


def _bad_label(clip: Clip) -> Drop:
    return Drop(
        clip.clip_id,
        clip.label,
        clip.path,
        "bad_label",
        f"label {clip.label[:40]!r} must be 1-{MAX_LABEL_LENGTH} printable characters on one line",
    )
