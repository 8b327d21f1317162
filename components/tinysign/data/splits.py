"""Leak-free splits: whole groups of clips (same source video, same signer) per split.

:func:`split_clips` places clips by ``config.split_mode`` and raises one clear line when a split that
should have clips would be empty; :func:`leak_counts` checks a finished split.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from tinysign.config import SPLITS, Config
from tinysign.data.hashing import stable_hash
from tinysign.data.manifest import Clip, Drop, Found
from tinysign.errors import TinysignError


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
    * ``official``: the dataset's own split; a missing val split is carved out of train (grouped,
      never taking a sign's last training clips: see :func:`carve_val`).
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
        share = config.val_ratio / (config.train_ratio + config.val_ratio)
        assignment.update(carve_val(train, share, config.seed))
    return assignment


def carve_val(train: list[Clip], share: float, seed: int) -> dict[str, str]:
    """clip_id -> ``val`` for about ``share`` of ``train``, whole leakage groups at a time (in a seeded
    order), taking a group only if every sign in it keeps a training clip: a validation split must
    never take a class out of training. May carve nothing (one training clip per sign): then training
    runs without validation, and ingest says so."""
    groups = leakage_groups(train)
    left = Counter(c.label for c in train)
    carved: dict[str, str] = {}
    for key in sorted(groups, key=lambda g: stable_hash(seed, "val", g)):
        if len(carved) >= share * len(train):
            break
        taken = Counter(c.label for c in groups[key])
        if all(left[label] > count for label, count in taken.items()):
            left -= taken
            carved.update({c.clip_id: "val" for c in groups[key]})
    return carved


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


def leak_counts(per_split: dict[str, list[Clip]]) -> dict[str, int]:
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


# --- cross-validation -------------------------------------------------------------------------------

DEFAULT_VIDEO_FOLDS = 5


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: who is tested, who validates, and every clip's split."""

    name: str
    test: tuple[str, ...]  # the held-out signers (or source-video groups)
    val: tuple[str, ...]
    splits: dict[str, str]  # clip_id -> train | val | test


def cv_folds(clips: list[Clip], folds: int, seed: int) -> list[Fold]:
    """Group-wise folds: leave-one-signer-out when every clip has a signer, else ``folds`` folds of
    whole source-video groups (default 5). In fold k, group k is the test set and group k+1 the val
    set — never the test one — and the rest trains.

    Args:
        clips: the kept clips (their manifest split is ignored).
        folds: the number of folds; 0 = one per signer (LOSO), or 5 without signers.
        seed: orders the groups (by a seeded hash) when several fall into one fold.
    """
    by_signer = bool(clips) and all(c.signer for c in clips)
    groups = leakage_groups(clips, by_signer=by_signer)
    names = {key: _group_name(members, by_signer) for key, members in groups.items()}
    count = folds or (len(groups) if by_signer else DEFAULT_VIDEO_FOLDS)
    what = "signer groups" if by_signer else "source-video groups"
    if count < 3:
        raise TinysignError(
            f"cross-validation needs >= 3 folds (test, val and train each a group); got {count}"
        )
    if len(groups) < count:
        raise TinysignError(
            f"{count} folds need >= {count} {what}, the data has {len(groups)}; lower --set folds=N"
        )
    ordered = sorted(
        groups, key=lambda g: (names[g], stable_hash(seed, g)) if by_signer else stable_hash(seed, g)
    )
    buckets = [ordered[k::count] for k in range(count)]
    result = []
    for k in range(count):
        test, val = buckets[k], buckets[(k + 1) % count]
        role = {g: "test" for g in test} | {g: "val" for g in val}
        splits = {c.clip_id: role.get(key, "train") for key, members in groups.items() for c in members}
        label = ", ".join(names[g] for g in test) if by_signer else f"{k + 1}/{count}"
        result.append(
            Fold(
                name=f"test {label}",
                test=tuple(names[g] for g in test),
                val=tuple(names[g] for g in val),
                splits=splits,
            )
        )
    return result


def _group_name(members: list[Clip], by_signer: bool) -> str:
    if by_signer:
        return "+".join(sorted({c.signer for c in members}))
    return members[0].source_video
