"""Ingest: find clips in one or more datasets, probe them, balance classes and split leak-free.

Accepted layouts (auto-detected, or forced with ``layout:path``):

* ``wlasl``    WLASL-processed / WLASL2000-resized: ``WLASL_v0.3.json`` + ``<video_id>.mp4`` anywhere
  below the root (``videos/`` usually); honours ``frame_start``/``frame_end``, ``missing.txt`` and
  the optional ``nslt_<N>.json`` subset (``config.subset``).
* ``kimpinde`` ASL-Kimpinde: ``metadata.csv`` with ``filename,label[,signer]`` columns.
* ``folder``   any ``<root>/<label>/<clip>.<video ext>`` tree.

Writes ``manifest.jsonl`` (kept clips, with split), ``drop_report.csv`` (every clip not kept, with a
reason) and ``metrics.json``; found = kept + dropped always holds and is printed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import posixpath
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinysign import storage
from tinysign.config import SPLITS, Config
from tinysign.errors import TinysignError
from tinysign.video import VIDEO_EXTENSIONS, VideoError, probe, segment_length

MANIFEST_FILE = "manifest.jsonl"
DROP_REPORT_FILE = "drop_report.csv"
METRICS_FILE = "metrics.json"
LAYOUTS = ("wlasl", "kimpinde", "folder")
DROP_FIELDS = ("clip_id", "label", "path", "reason", "detail")
MAX_LABEL_LENGTH = 100
# How datasets name their own splits (metadata `split` column, WLASL `split`, top-level folders).
OFFICIAL_SPLITS = {"train": "train", "val": "val", "validation": "val", "dev": "val", "test": "test"}


@dataclass(frozen=True)
class Clip:
    """One clip found in a dataset (before and after probing)."""

    clip_id: str
    label: str
    path: str
    source_video: str
    signer: str = ""
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


def stable_hash(*parts: object) -> int:
    """A process-independent hash (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


# --- readers ----------------------------------------------------------------------------------------


def detect_layout(root: str) -> str:
    if storage.exists(storage.join(root, "WLASL_v0.3.json")) or storage.glob(
        storage.join(root, "*", "WLASL_v0.3.json")
    ):
        return "wlasl"
    if storage.exists(storage.join(root, "metadata.csv")):
        return "kimpinde"
    for top in split_folders(root) or [root]:
        if any(_is_video(p) for p in storage.glob(storage.join(top, "*", "*"))):
            return "folder"
    if not storage.exists(root):
        raise TinysignError(f"{root} does not exist: pass a dataset folder (see `tinysign ingest --help`)")
    raise TinysignError(
        f"{root}: cannot tell the dataset layout; expected WLASL_v0.3.json, metadata.csv or "
        "<label>/<clip>.mp4 folders (force one with wlasl:PATH, kimpinde:PATH, folder:PATH)"
    )


def _is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


class VideoFiles:
    """Every video file below a dataset root, looked up by relative path, name or stem.

    A metadata ``filename`` is a path relative to the metadata file's folder (``\\`` separators
    accepted); only when no file is at that path does a search by base name stand in, and only
    when exactly one file has that name. Clip files of real sets often repeat base names across
    label folders (``bijelo/0000.mp4``, ``crn/0000.mp4``), so a name search alone would silently
    map several clips onto one file.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.by_relative: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        self.by_stem: dict[str, list[str]] = defaultdict(list)
        prefix = storage.join(root, "")
        for path in storage.glob(storage.join(root, "**", "*")):
            if _is_video(path):
                name = os.path.basename(path)
                self.by_relative[path[len(prefix) :].replace(os.sep, "/")] = path
                self.by_name[name.lower()].append(path)
                self.by_stem[os.path.splitext(name)[0].lower()].append(path)

    def resolve(self, name: str) -> tuple[str, str, str]:
        """``(path, "", "")`` for the file a metadata ``filename`` names, else ``("", reason, detail)``."""
        relative = posixpath.normpath(name.strip().replace("\\", "/")).lstrip("/")
        if relative in self.by_relative:
            return self.by_relative[relative], "", ""
        base = posixpath.basename(relative)
        index = self.by_name if os.path.splitext(base)[1] else self.by_stem
        return self._unique(index.get(base.lower(), []), name, f"named {base}")

    def resolve_stem(self, stem: str) -> tuple[str, str, str]:
        """Like :meth:`resolve` for a file known by its stem only (WLASL: ``<video_id>.mp4``)."""
        return self._unique(self.by_stem.get(stem.lower(), []), stem, f"called {stem}.*")

    def _unique(self, matches: list[str], name: str, what: str) -> tuple[str, str, str]:
        if len(matches) == 1:
            return matches[0], "", ""
        if not matches:
            return "", "missing_file", f"{name} not found below {self.root}"
        shown = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
        return (
            "",
            "ambiguous_file",
            (
                f"{name}: {len(matches)} files {what} below {self.root} ({shown}); "
                "name the file by its path relative to the metadata file"
            ),
        )


def _load_json(path: str) -> Any:
    try:
        return json.loads(storage.read_text(path))
    except json.JSONDecodeError as exc:
        raise TinysignError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); re-download the metadata file"
        ) from None
    except UnicodeDecodeError:
        raise TinysignError(f"{path} is not UTF-8 text; re-download the metadata file") from None


def _as_int(value: object, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def read_wlasl(root: str, tag: str, config: Config) -> Found:
    """Clips of a WLASL-processed / WLASL2000-resized folder."""
    candidates = [storage.join(root, "WLASL_v0.3.json")] + storage.glob(
        storage.join(root, "*", "WLASL_v0.3.json")
    )
    json_path = next(p for p in candidates if storage.exists(p))
    data = _load_json(json_path)
    if not isinstance(data, list):
        raise TinysignError(
            f"{json_path}: expected a JSON list of {{gloss, instances}} objects, got {type(data).__name__}"
        )
    meta_root = os.path.dirname(json_path)
    missing_path = storage.join(meta_root, "missing.txt")
    missing = set(storage.read_text(missing_path).split()) if storage.exists(missing_path) else set()
    subset = _nslt_subset(meta_root, config.subset)
    videos = VideoFiles(root)
    clips: list[Clip] = []
    drops: list[Drop] = []
    for number, entry in enumerate(data):
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
    csv_path = storage.join(root, "metadata.csv")
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
    videos = VideoFiles(root)
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
        return {p[len(prefix) :].split("/")[0] for p in storage.glob(pattern) if _is_video(p)}

    nested = tops(3)
    if not nested or not {n.lower() for n in nested} <= set(OFFICIAL_SPLITS) or nested & tops(2):
        return []
    return [storage.join(root, name) for name in sorted(nested)]


def read_folder(root: str, tag: str, config: Config) -> Found:
    """Clips of a ``<root>/<label>/<clip>`` tree, or ``<root>/{train,val,test}/<label>/<clip>``.

    Other files there are reported, not skipped.
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
            if not storage.is_remote(path) and os.path.isdir(path):
                drops.append(Drop(clip_id, label, path, "not_a_video", "a folder inside a label folder"))
            elif not _is_video(path):
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


def valid_label(label: str) -> bool:
    """A gloss that can go into labels.txt, CSVs and plots: 1..100 printable characters, one line."""
    return 0 < len(label) <= MAX_LABEL_LENGTH and label == label.strip() and label.isprintable()


def _bad_label(clip: Clip) -> Drop:
    return Drop(
        clip.clip_id,
        clip.label,
        clip.path,
        "bad_label",
        f"label {clip.label[:40]!r} must be 1-{MAX_LABEL_LENGTH} printable characters on one line",
    )


# --- validate, balance, split ---------------------------------------------------------------------


def _probe_clip(clip: Clip, min_frames: int) -> Clip | Drop:
    try:
        with storage.local_copy(clip.path) as local:
            info = probe(local)
    except VideoError as exc:
        return Drop(clip.clip_id, clip.label, clip.path, exc.reason, exc.detail)
    except OSError as exc:
        return Drop(clip.clip_id, clip.label, clip.path, "unreadable", f"{clip.path}: {exc.strerror or exc}")
    if clip.frame_start > info.frame_count:
        return Drop(
            clip.clip_id,
            clip.label,
            clip.path,
            "segment_out_of_range",
            f"frame_start {clip.frame_start} > {info.frame_count} frames in the video",
        )
    length = segment_length(clip.frame_start, clip.frame_end, info.frame_count)
    if length < min_frames:
        return Drop(
            clip.clip_id,
            clip.label,
            clip.path,
            "too_few_frames",
            f"{length} frames in the segment, need >= {min_frames} (min_clip_frames)",
        )
    return replace(clip, fps=info.fps, frame_count=info.frame_count, width=info.width, height=info.height)


def probe_clips(clips: list[Clip], config: Config, progress: bool = True) -> Found:
    """Probe every clip in parallel threads (OpenCV releases the GIL)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            tqdm(
                pool.map(lambda c: _probe_clip(c, config.min_clip_frames), clips),
                total=len(clips),
                desc="probe",
                unit="clip",
                disable=not progress,
            )
        )
    return [r for r in results if isinstance(r, Clip)], [r for r in results if isinstance(r, Drop)]


def drop_duplicates(clips: list[Clip]) -> Found:
    """Keep the first clip of each id and of each file (segment): one clip id <-> one file.

    Two rows that reach the same file (the same segment of it, for WLASL-style frame ranges) are
    never both kept: the later ones are ``duplicate_id`` / ``duplicate_file`` drop rows.
    """
    seen_ids: set[str] = set()
    seen_files: dict[tuple[str, int, int], str] = {}
    kept: list[Clip] = []
    drops: list[Drop] = []
    for clip in clips:
        key = (_canonical(clip.path), clip.frame_start, clip.frame_end)
        if clip.clip_id in seen_ids:
            drops.append(
                Drop(clip.clip_id, clip.label, clip.path, "duplicate_id", "the same id appears earlier")
            )
        elif key in seen_files:
            drops.append(
                Drop(
                    clip.clip_id,
                    clip.label,
                    clip.path,
                    "duplicate_file",
                    f"the same file (and segment) as {seen_files[key]}",
                )
            )
        else:
            seen_ids.add(clip.clip_id)
            seen_files[key] = clip.clip_id
            kept.append(clip)
    return kept, drops


def _canonical(path: str) -> str:
    """One name per file: symlinks and ``..`` resolved for local paths."""
    return path if storage.is_remote(path) else os.path.realpath(path)


def balance(clips: list[Clip], config: Config) -> Found:
    """Keep classes with >= min_per_class clips; cap at max_per_class, chosen deterministically by seed."""
    by_label: dict[str, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_label[clip.label].append(clip)
    kept: list[Clip] = []
    drops: list[Drop] = []
    for label, members in sorted(by_label.items()):
        if len(members) < config.min_per_class:
            drops += [
                Drop(
                    c.clip_id,
                    label,
                    c.path,
                    "class_below_min",
                    f"{len(members)} usable clips < min_per_class {config.min_per_class}",
                )
                for c in members
            ]
            continue
        ordered = sorted(members, key=lambda c: stable_hash(config.seed, c.clip_id))
        kept += ordered[: config.max_per_class]
        drops += [
            Drop(
                c.clip_id,
                label,
                c.path,
                "over_class_cap",
                f"class has {len(members)} clips > max_per_class {config.max_per_class}",
            )
            for c in ordered[config.max_per_class :]
        ]
    return kept, drops


def leakage_groups(clips: list[Clip], by_signer: bool = True) -> dict[str, list[Clip]]:
    """Groups of clips that must share a split: the same source video, or (``by_signer``) the
    same known signer, transitively. Keys are stable (the first clip id of the group)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for clip in clips:
        keys = [f"clip:{clip.clip_id}", f"video:{clip.dataset}:{clip.source_video}"]
        if by_signer and clip.signer:
            keys.append(f"signer:{clip.dataset}:{clip.signer}")
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    groups: dict[str, list[Clip]] = defaultdict(list)
    for clip in sorted(clips, key=lambda c: c.clip_id):
        groups[find(f"clip:{clip.clip_id}")].append(clip)
    return {members[0].clip_id: members for members in groups.values()}


def assign_groups(groups: dict[str, list[Clip]], ratios: dict[str, float], seed: int) -> dict[str, str]:
    """clip_id -> split, whole groups at a time, near ``ratios``; every split with a share > 0
    gets at least one group (the caller checks there are enough groups).

    Largest groups first, each to the split furthest below its target (ties by a seeded hash);
    then a split left empty takes the smallest group of the split holding the most groups.
    """
    total = sum(len(g) for g in groups.values())
    targets = {s: r * total for s, r in ratios.items()}
    members: dict[str, list[str]] = {s: [] for s in ratios}
    counts = dict.fromkeys(ratios, 0)
    order = sorted(groups, key=lambda g: (-len(groups[g]), stable_hash(seed, g)))
    for group in order:
        split = max(ratios, key=lambda s: (targets[s] - counts[s], -SPLITS.index(s)))
        members[split].append(group)
        counts[split] += len(groups[group])
    for split in (s for s in SPLITS if ratios.get(s, 0) > 0):
        if not members[split]:
            donor = max(members, key=lambda s: (len(members[s]), -SPLITS.index(s)))
            smallest = min(members[donor], key=lambda g: (len(groups[g]), stable_hash(seed, g)))
            members[donor].remove(smallest)
            members[split].append(smallest)
    return {c.clip_id: split for split, names in members.items() for g in names for c in groups[g]}


def _needed(ratios: dict[str, float]) -> list[str]:
    return [s for s in SPLITS if ratios.get(s, 0) > 0]


def _too_few_groups(clips: list[Clip], groups: int, needed: list[str], mode: str) -> TinysignError:
    signers = sorted({c.signer for c in clips if c.signer})
    splits = "/".join(needed)
    if mode == "grouped" and signers and len(signers) < len(needed):
        what = f"only {len(signers)} signer{'s' if len(signers) > 1 else ''} ({', '.join(signers)})"
        why = f"a signer-independent {splits} split needs >= {len(needed)} signers"
    else:
        unit = "groups of clips sharing a source video or signer" if mode == "grouped" else "source videos"
        what, why = f"only {groups} {unit}", f"a leak-free {splits} split needs >= {len(needed)}"
    return TinysignError(
        f"{what}: {why}; use --set split_mode=video (signer-dependent: the same people in train and "
        "test), split_mode=official (the dataset's own split column or train/val/test folders), or "
        "split_mode=signer test_signers=... to choose who is held out"
    )


def split_clips(clips: list[Clip], config: Config) -> dict[str, str]:
    """clip_id -> split, by ``config.split_mode``; raises a one-line error when a split that
    should have clips (ratio > 0, or official) would be empty.

    * ``grouped``: whole groups of (source video ∪ signer) near the ratios — signer-independent;
    * ``video``: whole source videos near the ratios — signer-dependent when signers repeat;
    * ``signer``: ``test_signers`` (and ``val_signers``) held out by name, the rest grouped;
    * ``official``: the dataset's own split; a missing val split is carved out of train (grouped).
    """
    ratios = config.split_ratios
    if config.split_mode == "official":
        return _official_split(clips, config)
    if config.split_mode == "signer":
        return _signer_split(clips, config)
    groups = leakage_groups(clips, by_signer=config.split_mode == "grouped")
    if len(groups) < len(_needed(ratios)):
        raise _too_few_groups(clips, len(groups), _needed(ratios), config.split_mode)
    return assign_groups(groups, ratios, config.seed)


def _official_split(clips: list[Clip], config: Config) -> dict[str, str]:
    assignment = {c.clip_id: c.official_split for c in clips}
    present = set(assignment.values())
    for split in ("train", "test"):
        if split not in present:
            raise TinysignError(
                f"split_mode=official: the dataset's own split has no {split} clips (it has "
                f"{', '.join(sorted(present))}); use split_mode=grouped, video or signer"
            )
    if "val" not in present and config.val_ratio > 0:
        train = [c for c in clips if assignment[c.clip_id] == "train"]
        groups = leakage_groups(train)
        share = config.val_ratio / (config.train_ratio + config.val_ratio)
        if len(groups) < 2:
            raise TinysignError(
                "split_mode=official: the dataset has no val split and its train split is one group "
                "(one signer/video) that cannot be divided; set --set val_ratio=0 or use another split_mode"
            )
        assignment.update(assign_groups(groups, {"train": 1 - share, "val": share}, config.seed))
    return assignment


def _signer_split(clips: list[Clip], config: Config) -> dict[str, str]:
    signers = sorted({c.signer for c in clips if c.signer})
    chosen = {"test": set(config.test_signers), "val": set(config.val_signers)}
    if not chosen["test"]:
        raise TinysignError(
            "split_mode=signer needs test_signers=NAME[,NAME] "
            f"(signers: {', '.join(signers) or 'none known'})"
        )
    unknown = sorted((chosen["test"] | chosen["val"]) - set(signers))
    if unknown:
        raise TinysignError(
            f"test_signers/val_signers: {', '.join(unknown)} not among the kept clips' signers "
            f"({', '.join(signers) or 'none'})"
        )
    if chosen["test"] & chosen["val"]:
        raise TinysignError(
            f"{', '.join(sorted(chosen['test'] & chosen['val']))} is in test_signers and val_signers"
        )
    assignment = {c.clip_id: s for c in clips for s in ("test", "val") if c.signer in chosen[s]}
    rest = [c for c in clips if c.clip_id not in assignment]
    ratios = {"train": config.train_ratio, "val": 0.0 if chosen["val"] else config.val_ratio}
    groups = leakage_groups(rest)
    if len(groups) < len(_needed(ratios)):
        raise TinysignError(
            f"split_mode=signer: after holding out {', '.join(sorted(chosen['test'] | chosen['val']))}, "
            f"{len(groups)} signer group(s) remain for {'/'.join(_needed(ratios))}; name val_signers=... "
            "or set val_ratio=0"
        )
    assignment.update(assign_groups(groups, ratios, config.seed))
    return assignment


# --- the stage --------------------------------------------------------------------------------------


def run_ingest(
    sources: list[str], out_dir: str | Path, config: Config, progress: bool = True
) -> dict[str, Any]:
    """Find, probe, de-duplicate, balance and split; write manifest, drop report and metrics."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ".write-test").touch()
        (out / ".write-test").unlink()
    except OSError as exc:
        raise TinysignError(f"cannot write to {out}: {exc.strerror}; choose a writable --out") from None
    found, drops = find_clips(sources, config)
    unique, dupes = drop_duplicates(found)
    unique, unsplittable = splittable(unique, config)
    if unsplittable and not unique:
        _write_outputs(out, [], drops + dupes + unsplittable, {}, config)
        raise TinysignError(
            f"split_mode={config.split_mode}: none of the {len(unsplittable)} clips can be placed: "
            f"{unsplittable[0].detail}; use split_mode=grouped or video"
        )
    usable, bad = probe_clips(unique, config, progress)
    kept, unbalanced = balance(usable, config)
    drops += dupes + unsplittable + bad + unbalanced
    classes = {c.label for c in kept}
    if len(classes) < 2:
        metrics = _write_outputs(out, [], drops + [_single_class_drop(c) for c in kept], {}, config)
        what = f"only the class {next(iter(classes))!r} is" if classes else "no class is"
        raise TinysignError(
            f"{what} left with >= min_per_class={config.min_per_class} usable clips "
            f"(found {metrics['found']}: {metrics['drop_reasons'] or 'nothing'}); a classifier needs >= 2 "
            f"classes; see {out / DROP_REPORT_FILE} or lower --set min_per_class=N"
        )
    try:
        splits = split_clips(kept, config)
    except TinysignError:
        _write_outputs(out, [], drops + [_unsplit_drop(c) for c in kept], {}, config)
        raise
    return _write_outputs(out, kept, drops, splits, config)


def splittable(clips: list[Clip], config: Config) -> Found:
    """Clips the split mode can place: ``official`` needs the dataset's split, ``signer`` a signer."""
    if config.split_mode == "official":
        need, reason = "official_split", "no_official_split"
        detail = "the dataset gives it no split (a split column, WLASL's split, or train/val/test folders)"
    elif config.split_mode == "signer":
        need, reason, detail = "signer", "no_signer", "the metadata gives it no signer"
    else:
        return clips, []
    return (
        [c for c in clips if getattr(c, need)],
        [Drop(c.clip_id, c.label, c.path, reason, detail) for c in clips if not getattr(c, need)],
    )


def _unsplit_drop(clip: Clip) -> Drop:
    return Drop(clip.clip_id, clip.label, clip.path, "no_split", "no leak-free split exists (see the error)")


def _single_class_drop(clip: Clip) -> Drop:
    return Drop(
        clip.clip_id, clip.label, clip.path, "single_class", "the only class left: nothing to tell apart"
    )


def _write_outputs(
    out: Path, kept: list[Clip], drops: list[Drop], splits: dict[str, str], config: Config
) -> dict[str, Any]:
    labels = sorted({c.label for c in kept})
    index = {label: i for i, label in enumerate(labels)}
    with open(out / MANIFEST_FILE, "w", encoding="utf-8") as stream:
        for clip in sorted(kept, key=lambda c: c.clip_id):
            row = {**asdict(clip), "label_index": index[clip.label], "split": splits[clip.clip_id]}
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(out / DROP_REPORT_FILE, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=DROP_FIELDS)
        writer.writeheader()
        writer.writerows(asdict(d) for d in sorted(drops, key=lambda d: (d.reason, d.clip_id)))
    per_split = {s: [c for c in kept if splits.get(c.clip_id) == s] for s in SPLITS}
    leaks = _leaks(per_split)
    metrics = {
        "found": len(kept) + len(drops),
        "kept": len(kept),
        "dropped": len(drops),
        "drop_reasons": dict(sorted(Counter(d.reason for d in drops).items())),
        "num_classes": len(labels),
        "labels": labels,
        "split_mode": config.split_mode,
        "split_counts": {s: len(v) for s, v in per_split.items()},
        "split_signers": {s: len({c.signer for c in v if c.signer}) for s, v in per_split.items()},
        "signers": {s: sorted({c.signer for c in v if c.signer}) for s, v in per_split.items()},
        "class_counts": {s: dict(sorted(Counter(c.label for c in v).items())) for s, v in per_split.items()},
        "leaks": leaks,
        # test clips come from people never seen in training: known signers, none in two splits
        "signer_independent": bool(any(c.signer for c in kept)) and leaks["signers_in_several_splits"] == 0,
    }
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return metrics


def _leaks(per_split: dict[str, list[Clip]]) -> dict[str, int]:
    """How many source videos / signers appear in more than one split (0 for a grouped split)."""

    def shared(key: str) -> int:
        seen: dict[str, set[str]] = defaultdict(set)
        for split, clips in per_split.items():
            for clip in clips:
                value = getattr(clip, key)
                if value:
                    seen[f"{clip.dataset}:{value}"].add(split)
        return sum(1 for splits in seen.values() if len(splits) > 1)

    return {
        "source_videos_in_several_splits": shared("source_video"),
        "signers_in_several_splits": shared("signer"),
    }


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a manifest.jsonl, validated enough to fail with one clear line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise TinysignError(f"{path} not found: run `tinysign ingest` first") from None
    rows = []
    required = {"clip_id", "label", "label_index", "path", "split", "frame_start", "frame_end"}
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise TinysignError(f"{path}:{number} is not JSON: re-run `tinysign ingest`") from None
        missing = required - set(row) if isinstance(row, dict) else required
        if missing:
            raise TinysignError(
                f"{path}:{number} lacks {', '.join(sorted(missing))}: re-run `tinysign ingest`"
            )
        rows.append(row)
    if not rows:
        raise TinysignError(f"{path} is empty: nothing to extract")
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="DATASET",
        help="dataset folder(s), local or gs://; prefix wlasl:, kimpinde: or folder: to force a layout",
    )
    parser.add_argument(
        "--out", required=True, help="output folder for manifest.jsonl, drop_report.csv, metrics.json"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, config: Config) -> int:
    metrics = run_ingest(args.sources, args.out, config, progress=not args.quiet)
    reasons = ", ".join(f"{k} {v}" for k, v in metrics["drop_reasons"].items()) or "none"
    print(f"found {metrics['found']} = kept {metrics['kept']} + dropped {metrics['dropped']} ({reasons})")
    dependence = "signer-independent" if metrics["signer_independent"] else "NOT signer-independent"
    print(
        f"classes {metrics['num_classes']}; split ({metrics['split_mode']}, {dependence}) "
        + ", ".join(f"{s} {n}" for s, n in metrics["split_counts"].items())
        + f"; leaks {metrics['leaks']}"
    )
    print(f"wrote {Path(args.out) / MANIFEST_FILE} and {Path(args.out) / DROP_REPORT_FILE}")
    return 0
