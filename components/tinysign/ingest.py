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
    if any(_is_video(p) for p in storage.glob(storage.join(root, "*", "*"))):
        return "folder"
    if not storage.exists(root):
        raise TinysignError(f"{root} does not exist: pass a dataset folder (see `tinysign ingest --help`)")
    raise TinysignError(
        f"{root}: cannot tell the dataset layout; expected WLASL_v0.3.json, metadata.csv or "
        "<label>/<clip>.mp4 folders (force one with wlasl:PATH, kimpinde:PATH, folder:PATH)"
    )


def _is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def _video_index(root: str) -> dict[str, str]:
    """Video file stem -> path, for every video file below ``root``."""
    index: dict[str, str] = {}
    for path in storage.glob(storage.join(root, "**", "*")):
        if _is_video(path):
            index.setdefault(os.path.splitext(os.path.basename(path))[0], path)
    return index


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
    videos = _video_index(root)
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
    videos: dict[str, str],
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
    path = videos.get(video_id, "")
    try:
        start = _as_int(instance.get("frame_start"), 1)
        end = _as_int(instance.get("frame_end"), -1)
    except ValueError as exc:
        return Drop(clip_id, gloss, path, "bad_metadata", f"frame_start/frame_end: {exc}")
    if start < 1 or (end != -1 and end < start):
        return Drop(clip_id, gloss, path, "bad_metadata", f"frame range {start}..{end} is empty")
    if subset is not None and video_id not in subset:
        return Drop(clip_id, gloss, path, "not_in_subset", "not listed in the selected nslt_<N>.json")
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
        official_split={"val": "val", "train": "train", "test": "test"}.get(str(split), ""),
    )


def read_kimpinde(root: str, tag: str, config: Config) -> Found:
    """Clips of an ASL-Kimpinde folder (``metadata.csv`` with ``filename,label,...``)."""
    csv_path = storage.join(root, "metadata.csv")
    try:
        reader = csv.DictReader(io.StringIO(storage.read_text(csv_path)))
        rows = list(reader)
        columns = set(reader.fieldnames or [])
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TinysignError(f"{csv_path} is not a readable CSV ({exc}); fix or re-download it") from None
    if not {"filename", "label"} <= columns:
        raise TinysignError(
            f"{csv_path} needs the columns 'filename' and 'label' (found: "
            f"{', '.join(sorted(columns)) or 'none'})"
        )
    videos = _video_index(root)
    clips: list[Clip] = []
    drops: list[Drop] = []
    for number, row in enumerate(rows, start=2):
        name, label = (row.get("filename") or "").strip(), (row.get("label") or "").strip()
        clip_id = f"{tag}:{name or f'row{number}'}"
        if not name or not label:
            drops.append(
                Drop(clip_id, label, csv_path, "bad_metadata", f"row {number}: empty filename or label")
            )
            continue
        path = videos.get(os.path.splitext(os.path.basename(name))[0], "")
        if not path:
            drops.append(Drop(clip_id, label, "", "missing_file", f"{name} not found below {root}"))
            continue
        signer = (row.get("signer") or row.get("signer_id") or "").strip()
        clips.append(Clip(clip_id, label, path, source_video=name, signer=signer, dataset=tag))
    return clips, drops


def read_folder(root: str, tag: str, config: Config) -> Found:
    """Clips of a ``<root>/<label>/<clip>`` tree; other files there are reported, not skipped."""
    clips: list[Clip] = []
    drops: list[Drop] = []
    for path in storage.glob(storage.join(root, "*", "*")):
        label = os.path.basename(os.path.dirname(path))
        relative = f"{label}/{os.path.basename(path)}"
        clip_id = f"{tag}:{relative}"
        if not storage.is_remote(path) and os.path.isdir(path):
            drops.append(Drop(clip_id, label, path, "not_a_video", "a folder inside a label folder"))
        elif not _is_video(path):
            drops.append(
                Drop(clip_id, label, path, "not_a_video", f"extension not in {', '.join(VIDEO_EXTENSIONS)}")
            )
        else:
            clips.append(Clip(clip_id, label.strip(), path, source_video=relative, dataset=tag))
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
    seen: set[str] = set()
    kept: list[Clip] = []
    drops: list[Drop] = []
    for clip in clips:
        if clip.clip_id in seen:
            drops.append(
                Drop(clip.clip_id, clip.label, clip.path, "duplicate_id", "the same id appears earlier")
            )
        else:
            seen.add(clip.clip_id)
            kept.append(clip)
    return kept, drops


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


def leakage_groups(clips: list[Clip]) -> dict[str, str]:
    """clip_id -> group id: clips sharing a source video or a (known) signer end up in one group."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for clip in clips:
        keys = [f"clip:{clip.clip_id}", f"video:{clip.dataset}:{clip.source_video}"]
        if clip.signer:
            keys.append(f"signer:{clip.dataset}:{clip.signer}")
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    return {clip.clip_id: find(f"clip:{clip.clip_id}") for clip in clips}


def split_clips(clips: list[Clip], config: Config) -> dict[str, str]:
    """clip_id -> split. ``grouped``: whole leakage groups go to the split furthest below its target
    share (largest groups first, ties broken by a seeded hash). ``official``: the metadata's split."""
    if config.split_mode == "official":
        return {c.clip_id: c.official_split for c in clips}
    groups: dict[str, list[Clip]] = defaultdict(list)
    by_id = {c.clip_id: c for c in clips}
    for clip_id, group in leakage_groups(clips).items():
        groups[group].append(by_id[clip_id])
    targets = {s: r * len(clips) for s, r in config.split_ratios.items()}
    counts = dict.fromkeys(SPLITS, 0)
    assignment: dict[str, str] = {}
    order = sorted(groups, key=lambda g: (-len(groups[g]), stable_hash(config.seed, g)))
    for group in order:
        split = max(SPLITS, key=lambda s: (targets[s] - counts[s], -SPLITS.index(s)))
        counts[split] += len(groups[group])
        assignment.update({c.clip_id: split for c in groups[group]})
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
    if config.split_mode == "official":
        no_split = [c for c in unique if not c.official_split]
        unique = [c for c in unique if c.official_split]
        dupes += [
            Drop(
                c.clip_id,
                c.label,
                c.path,
                "no_official_split",
                "split_mode=official but no split in the metadata",
            )
            for c in no_split
        ]
    usable, bad = probe_clips(unique, config, progress)
    kept, unbalanced = balance(usable, config)
    drops += dupes + bad + unbalanced
    classes = {c.label for c in kept}
    if len(classes) < 2:
        metrics = _write_outputs(out, [], drops + [_single_class_drop(c) for c in kept], {})
        what = f"only the class {next(iter(classes))!r} is" if classes else "no class is"
        raise TinysignError(
            f"{what} left with >= min_per_class={config.min_per_class} usable clips "
            f"(found {metrics['found']}: {metrics['drop_reasons'] or 'nothing'}); a classifier needs >= 2 "
            f"classes; see {out / DROP_REPORT_FILE} or lower --set min_per_class=N"
        )
    return _write_outputs(out, kept, drops, split_clips(kept, config))


def _single_class_drop(clip: Clip) -> Drop:
    return Drop(
        clip.clip_id, clip.label, clip.path, "single_class", "the only class left: nothing to tell apart"
    )


def _write_outputs(out: Path, kept: list[Clip], drops: list[Drop], splits: dict[str, str]) -> dict[str, Any]:
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
    metrics = {
        "found": len(kept) + len(drops),
        "kept": len(kept),
        "dropped": len(drops),
        "drop_reasons": dict(sorted(Counter(d.reason for d in drops).items())),
        "num_classes": len(labels),
        "labels": labels,
        "split_counts": {s: len(v) for s, v in per_split.items()},
        "split_signers": {s: len({c.signer for c in v if c.signer}) for s, v in per_split.items()},
        "class_counts": {s: dict(sorted(Counter(c.label for c in v).items())) for s, v in per_split.items()},
        "leaks": _leaks(per_split),
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
    print(
        f"classes {metrics['num_classes']}; split "
        + ", ".join(f"{s} {n}" for s, n in metrics["split_counts"].items())
        + f"; leaks {metrics['leaks']}"
    )
    print(f"wrote {Path(args.out) / MANIFEST_FILE} and {Path(args.out) / DROP_REPORT_FILE}")
    return 0
