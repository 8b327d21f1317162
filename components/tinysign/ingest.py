"""Ingest: find clips in one or more datasets, probe them, balance classes and split leak-free.

Layouts are read by :mod:`tinysign.data.datasets` (WLASL, ``metadata.csv``, ``<label>/<clip>``
folders); splits are made by :mod:`tinysign.data.splits`. Commits ``manifest.jsonl`` (kept clips,
with split), ``drop_report.csv`` (every clip not kept, with a reason) and ``metrics.json`` as one set;
found = kept + dropped always holds and is printed.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter, defaultdict
from functools import partial
from pathlib import Path

from tinysign.artifacts import DROP_REPORT_FILE, MANIFEST_FILE, METRICS_FILE
from tinysign.config import SPLITS, Config
from tinysign.data import commit, storage
from tinysign.data.datasets import find_clips, parse_source
from tinysign.data.hashing import stable_hash
from tinysign.data.manifest import SYNTHETIC_SOURCE, Clip, Drop, Found, write_drop_report, write_manifest
from tinysign.data.probing import probe_clips
from tinysign.data.splits import leak_counts, split_clips, splittable
from tinysign.data.vocabulary import Vocabulary, assign_classes, choose_vocabulary
from tinysign.errors import TinysignError
from tinysign.summaries import IngestSummary, stamped, write_summary


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


# --- the stage --------------------------------------------------------------------------------------


@stamped("ingest")
def run_ingest(
    sources: list[str], out_dir: str | Path, config: Config, progress: bool = True
) -> IngestSummary:
    """Find, probe, de-duplicate, balance and split; commit manifest, drop report and metrics as one
    set (:mod:`tinysign.data.commit`)."""
    out = Path(out_dir)
    with commit.writing(out) as staging:
        write = partial(_write_outputs, Path(staging), out, sources)
        found, drops = find_clips(sources, config)
        unique, dupes = drop_duplicates(found)
        unique, unsplittable = splittable(unique, config)
        if unsplittable and not unique:
            write([], drops + dupes + unsplittable, {}, config)
            raise TinysignError(
                f"split_mode={config.split_mode}: none of the {len(unsplittable)} clips can be placed: "
                f"{unsplittable[0].detail}; use split_mode=grouped or video"
            )
        usable, bad = probe_clips(unique, config, progress)
        kept, unbalanced = balance(usable, config)
        drops += dupes + unsplittable + bad + unbalanced
        classes = {c.label for c in kept}
        if len(classes) < 2:
            metrics = write([], drops + [_single_class_drop(c) for c in kept], {}, config)
            what = f"only the class {next(iter(classes))!r} is" if classes else "no class is"
            raise TinysignError(
                f"{what} left with >= min_per_class={config.min_per_class} usable clips "
                f"(found {metrics['found']}: {metrics['drop_reasons'] or 'nothing'}); a classifier needs "
                f">= 2 classes; see {out / DROP_REPORT_FILE} or lower --set min_per_class=N"
            )
        vocabulary = choose_vocabulary(sorted(classes), config)
        kept, outside = assign_classes(kept, vocabulary)
        drops += outside
        try:
            splits = split_clips(kept, config)
        except TinysignError:
            write([], drops + [_unsplit_drop(c) for c in kept], {}, config)
            raise
        return write(kept, drops, splits, config, vocabulary)


def _unsplit_drop(clip: Clip) -> Drop:
    return Drop(clip.clip_id, clip.label, clip.path, "no_split", "no leak-free split exists (see the error)")


def _single_class_drop(clip: Clip) -> Drop:
    return Drop(
        clip.clip_id, clip.label, clip.path, "single_class", "the only class left: nothing to tell apart"
    )


def data_fingerprint(sources: list[str]) -> str:
    """The sources' fingerprint (file names, sizes, times): one source's is the pipeline's data-version."""
    prints = [storage.fingerprint(parse_source(source)[1]) for source in sources]
    return prints[0] if len(prints) == 1 else f"{stable_hash(*prints):016x}"


def data_nature(clips: list[Clip]) -> str:
    """``synthetic`` (every clip generated by ``tinysign data demo``), ``real video``, or how mixed."""
    synthetic = sum(c.source_video.startswith(SYNTHETIC_SOURCE) for c in clips)
    if clips and synthetic == len(clips):
        return "synthetic"
    return f"mixed: {synthetic} of {len(clips)} clips synthetic" if synthetic else "real video"


def _write_outputs(
    staging: Path,
    out: Path,
    sources: list[str],
    kept: list[Clip],
    drops: list[Drop],
    splits: dict[str, str],
    config: Config,
    vocabulary: Vocabulary | None = None,
) -> IngestSummary:
    labels = vocabulary.classes(rest=False) if vocabulary else sorted({c.label for c in kept})
    write_manifest(staging / MANIFEST_FILE, kept, splits, labels)
    write_drop_report(staging / DROP_REPORT_FILE, drops)
    per_split = {s: [c for c in kept if splits.get(c.clip_id) == s] for s in SPLITS}
    leaks = leak_counts(per_split)
    summary: IngestSummary = {
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
        "vocabulary": list(vocabulary.signs) if vocabulary else [],
        "unknown_signs": list(vocabulary.unknown) if vocabulary else [],
        "outside_vocabulary": list(vocabulary.outside) if vocabulary else [],
        "signer_independent": any(c.signer for c in kept) and leaks["signers_in_several_splits"] == 0,
        "data_fingerprint": data_fingerprint(sources),
        "nature": data_nature(kept),
    }
    write_summary(staging, summary)
    commit.commit(str(staging), out, [MANIFEST_FILE, DROP_REPORT_FILE, METRICS_FILE])
    return summary


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
    covered = ", ".join(f"{s} {len(metrics['class_counts'][s])}" for s in SPLITS)
    print(f"classes covered per split (of {metrics['num_classes']}): {covered}")
    if not metrics["split_counts"]["val"]:
        print("no val clips: `tinysign train` will train without validation")
    if metrics["unknown_signs"]:
        print(
            f"vocabulary {len(metrics['vocabulary'])} signs; learned as unknown: "
            f"{', '.join(metrics['unknown_signs'])}"
            + (
                f"; left out: {', '.join(metrics['outside_vocabulary'])}"
                if metrics["outside_vocabulary"]
                else ""
            )
        )
    print(f"wrote {Path(args.out) / MANIFEST_FILE} and {Path(args.out) / DROP_REPORT_FILE}")
    return 0
