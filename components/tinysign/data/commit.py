"""Output folders committed whole or not at all, by one writer at a time (local or ``gs://``).

A stage that writes a folder of files that belong together (ingest's manifest, drop report and metrics;
extraction's shards, ``stats.json`` and ``schema.json``) writes its run into a staging folder inside its
output folder (:func:`writing`), then :func:`commit` moves the files into place under a commit record,
``commit.json``: first marked ``committing``, rewritten ``complete`` with every file's size once the last
file is in place. Readers call :func:`check_committed`: a folder whose commit was interrupted, or whose
files are not the ones its record names, is refused with one line, so a reader sees the previous run's
complete set, the new one's, or nothing — never a mix. A second writer into a folder being written
fails at once with one line (:func:`tinysign.data.storage.exclusive`); it never touches the first
writer's staging folder.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tinysign.artifacts import COMMIT_FILE, LOCK_FILE, TMP_PREFIX
from tinysign.data import storage
from tinysign.errors import TinysignError

COMMITTING, COMPLETE = "committing", "complete"


@contextmanager
def writing(out: str | Path) -> Iterator[str]:
    """Lock the output folder ``out`` for this run, clear what crashed runs left, and yield a fresh
    staging folder inside it (removed however the block ends; :func:`commit` moves its files out)."""
    out = str(out)
    with ExitStack() as held:
        try:
            if not storage.is_remote(out):
                Path(out).mkdir(parents=True, exist_ok=True)
            held.enter_context(storage.exclusive(storage.join(out, LOCK_FILE), out))
        except OSError as exc:
            raise TinysignError(
                f"cannot write to {out}: {exc.strerror or exc}; choose a writable --out"
            ) from None
        storage.delete(storage.glob(storage.join(out, TMP_PREFIX + "*")))  # crashed runs' staging
        staging = storage.join(out, TMP_PREFIX + uuid.uuid4().hex[:12])
        try:
            if not storage.is_remote(staging):
                Path(staging).mkdir()
            yield staging
        finally:
            storage.delete([staging])


def commit(staging: str, out: str | Path, names: Sequence[str], replaces: Sequence[str] = ()) -> None:
    """Move the files ``names`` from ``staging`` into ``out`` as one set.

    Args:
        staging: the folder :func:`writing` gave, holding every file of ``names``.
        out: the output folder.
        names: the files of this run (they replace files of the same names).
        replaces: glob patterns of older files that must not outlive the commit (e.g. shards of a run
            with another shard count).
    """
    out = str(out)
    sizes = {name: storage.size(storage.join(staging, name)) for name in names}
    record = storage.join(out, COMMIT_FILE)
    storage.write_text(record, _record(COMMITTING, sizes))
    stale = [p for pattern in replaces for p in storage.glob(storage.join(out, pattern))]
    stale = [p for p in stale if posixpath.basename(p) not in sizes]
    if stale:
        storage.delete(stale)
    for name in names:
        storage.rename(storage.join(staging, name), storage.join(out, name))
    storage.write_text(record, _record(COMPLETE, sizes))


def _record(state: str, sizes: dict[str, int]) -> str:
    return json.dumps({"state": state, "files": {name: {"bytes": n} for name, n in sizes.items()}}, indent=1)


def check_committed(folder: str | Path, stage: str, patterns: Sequence[str] = ()) -> None:
    """Refuse, with one line, a folder whose ``stage`` run did not finish committing or whose files are
    not those its ``commit.json`` names (a folder without one, written before commits existed, passes).

    Args:
        folder: the output folder to read.
        stage: the ``tinysign`` command that writes it (named in the error).
        patterns: globs of files that must all be named in the record (e.g. ``*.tfrecord``).
    """
    folder = str(folder)
    path = storage.join(folder, COMMIT_FILE)
    if not storage.exists(path):
        return
    redo = f"re-run `tinysign {stage}`"
    try:
        record = json.loads(storage.read_text(path))
        files = {name: int(info["bytes"]) for name, info in record["files"].items()}
        state = record["state"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TinysignError(f"{path} is not a commit record: {redo}") from None
    if state != COMPLETE:
        raise TinysignError(
            f"{folder}: the `tinysign {stage}` run writing it stopped while committing its files "
            f"(crash, kill or full disk): {redo}"
        )
    for name, expected in files.items():
        found = storage.size(storage.join(folder, name)) if storage.exists(storage.join(folder, name)) else -1
        if found != expected:
            what = "is missing" if found < 0 else f"has {found} bytes, not the {expected} committed"
            raise TinysignError(f"{storage.join(folder, name)} {what} (see {COMMIT_FILE}): {redo}")
    extra = [
        p
        for pattern in patterns
        for p in storage.glob(storage.join(folder, pattern))
        if posixpath.basename(p) not in files
    ]
    if extra:
        raise TinysignError(
            f"{extra[0]} is not part of the committed run (see {COMMIT_FILE}): remove it or {redo}"
        )
