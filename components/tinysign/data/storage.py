"""Paths that may be local or remote (``gs://...``): one small layer over Beam's FileSystems.

Local paths use the standard library (fast, no Beam import); remote ones go through
``apache_beam.io.filesystems.FileSystems``, which also honours ``STORAGE_EMULATOR_HOST``.
OpenCV and TensorFlow need local files, so :func:`local_copy` downloads a remote file first.

Writers that may race use the two primitives at the bottom: :func:`replace_if_generation` (compare-and-set
of one small file: a lock around read-compare-replace locally, a generation precondition on ``gs://``) and
:func:`exclusive` (one writer at a time: ``flock`` locally, an object created only if absent on ``gs://``).
A local :func:`write_text` replaces the file atomically, so a reader never sees it half written.
"""

from __future__ import annotations

import datetime
import fcntl
import functools
import glob as globlib
import hashlib
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from tinysign.errors import TinysignError

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
ABSENT = "0"  # the generation of a file that does not exist (GCS's ``if_generation_match=0``)


def is_remote(path: str) -> bool:
    return "://" in str(path)


def _fs() -> Any:
    from apache_beam.io.filesystems import FileSystems

    if os.environ.get(EMULATOR_ENV):  # like google-cloud-storage: an emulator takes no credentials
        from apache_beam.internal.gcp import auth

        auth._Credentials._credentials_init = True  # noqa: SLF001 - Beam's only switch
        auth._Credentials._credentials = None  # noqa: SLF001
    return FileSystems


def absolute(path: str) -> str:
    """``path`` as every process can name it: a local path made absolute (against this process's
    working directory), a remote one as it is. Pipeline workers may run in another directory."""
    return str(path) if is_remote(path) else os.path.abspath(path)


def join(base: str, *parts: str) -> str:
    if is_remote(base):
        return "/".join([str(base).rstrip("/"), *[p.strip("/") for p in parts]])
    return os.path.join(base, *parts)


def exists(path: str) -> bool:
    """A file or folder exists (a remote "folder" exists when an object lies below it)."""
    if not is_remote(path):
        return os.path.exists(path)
    return bool(_fs().exists(path) or glob(join(path, "*")))


def glob(pattern: str) -> list[str]:
    """Sorted paths matching ``pattern`` (``*``/``**`` wildcards)."""
    if is_remote(pattern):
        return sorted(m.path for r in _fs().match([pattern]) for m in r.metadata_list)
    return sorted(globlib.glob(pattern, recursive=True))


def size(path: str) -> int:
    """Bytes in the file at ``path``."""
    if is_remote(path):
        return int(_fs().match([path])[0].metadata_list[0].size_in_bytes)
    return os.path.getsize(path)


def open_read(path: str) -> IO[bytes]:
    return _fs().open(path) if is_remote(path) else open(path, "rb")


def open_write(path: str) -> IO[bytes]:
    if is_remote(path):
        return _fs().create(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return open(path, "wb")


def read_text(path: str) -> str:
    """UTF-8 text; a leading byte-order mark (Windows editors, Excel exports) is dropped."""
    with open_read(path) as stream:
        return stream.read().decode("utf-8-sig")


def write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``; a reader sees the old content or the new, never a torn file
    (an object upload is atomic; a local file is written beside and renamed over the old one)."""
    if is_remote(path):
        with open_write(path) as stream:
            stream.write(text.encode("utf-8"))
    else:
        _replace_local(path, text.encode("utf-8"))


def _replace_local(path: str, data: bytes) -> None:
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.remove(tmp)
        raise


def rename(source: str, destination: str) -> None:
    if is_remote(source):
        _fs().rename([source], [destination])
    else:
        os.replace(source, destination)


def delete(paths: list[str]) -> None:
    """Delete files or folders (recursively); missing ones are ignored."""
    remote = [p for p in paths if is_remote(p)]
    if remote:
        present = [p for p in remote if exists(p)]
        if present:
            _fs().delete(present)
    for path in (p for p in paths if not is_remote(p)):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


def copy_tree(source: str | os.PathLike[str], target: str) -> list[str]:
    """Copy every file under the local folder ``source`` to ``target`` (local or gs://), in name
    order; returns the written paths."""
    written = []
    for path in sorted(p for p in Path(source).rglob("*") if p.is_file()):
        destination = join(target, *path.relative_to(source).parts)
        with open(path, "rb") as src, open_write(destination) as dst:
            shutil.copyfileobj(src, dst)
        written.append(destination)
    return written


@contextmanager
def local_copy(path: str) -> Iterator[str]:
    """A local file path with the content of ``path`` (a temporary download when remote)."""
    if not is_remote(path):
        yield path
        return
    suffix = os.path.splitext(path)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with open_read(path) as source:
            shutil.copyfileobj(source, tmp)
        tmp.flush()
        yield tmp.name


def listing(root: str) -> list[tuple[str, int, float]]:
    """``(path relative to root, size in bytes, modification time)`` of every file below ``root``.

    Remote objects report their size and last update time (a re-upload changes it); local files
    their size and mtime. Sorted by path.
    """
    prefix = join(root, "")
    if is_remote(root):
        matches = _fs().match([join(root, "**")])[0].metadata_list
        return sorted(
            (m.path[len(prefix) :], int(m.size_in_bytes), float(m.last_updated_in_seconds)) for m in matches
        )
    if os.path.isfile(root):
        stat = os.stat(root)
        return [(os.path.basename(root), stat.st_size, stat.st_mtime)]
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            stat = os.stat(path) if os.path.exists(path) else os.lstat(path)  # a dangling link: itself
            found.append((os.path.relpath(os.path.join(folder, name), root), stat.st_size, stat.st_mtime))
    return sorted(found)


def fingerprint(root: str) -> str:
    """A cheap content fingerprint of a data folder (local or ``gs://``): names, sizes, times.

    Adding, removing, replacing or touching one file changes it; reading the folder again does not.
    """
    digest = hashlib.sha256()
    for path, size, mtime in listing(root):
        digest.update(f"{path}\0{size}\0{mtime:.6f}\n".encode())
    return digest.hexdigest()[:16]


# --- writers that may race ------------------------------------------------------------------------


@functools.cache
def _gcs_client(emulator: str | None) -> Any:
    from google.cloud import storage as gcs  # honours STORAGE_EMULATOR_HOST (anonymous there)

    return gcs.Client()


def _blob(path: str) -> Any:
    bucket, _, name = path.partition("://")[2].partition("/")
    return _gcs_client(os.environ.get(EMULATOR_ENV)).bucket(bucket).blob(name)


def read_generation(path: str) -> tuple[str | None, str]:
    """``(text or None when absent, generation)`` of a small file, for :func:`replace_if_generation`.

    The generation changes whenever the file is rewritten: the object's generation on ``gs://``, a
    digest of the content locally; :data:`ABSENT` when there is no file.
    """
    if not is_remote(path):
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            return None, ABSENT
        return data.decode("utf-8-sig"), hashlib.sha256(data).hexdigest()
    from google.api_core.exceptions import NotFound, PreconditionFailed

    named = _blob(path)
    while True:
        blob = named.bucket.get_blob(named.name)
        if blob is None:
            return None, ABSENT
        generation = str(blob.generation)
        try:  # the content of exactly that generation (rewritten in between: read again)
            data = blob.download_as_bytes(if_generation_match=int(generation))
        except (NotFound, PreconditionFailed):
            continue
        return data.decode("utf-8-sig"), generation


def replace_if_generation(path: str, text: str, generation: str) -> bool:
    """Compare-and-set: write ``text`` to ``path`` only if its generation is still ``generation`` (as
    :func:`read_generation` gave it); ``False`` when another writer got there first.

    ``gs://``: one upload with the precondition ``if_generation_match`` (0 = must not exist yet);
    locally: read, compare and replace under an exclusive ``flock`` of the folder that holds it.
    """
    if is_remote(path):
        from google.api_core.exceptions import PreconditionFailed

        try:
            _blob(path).upload_from_string(
                text.encode("utf-8"), content_type="application/json", if_generation_match=int(generation)
            )
        except PreconditionFailed:
            return False
        return True
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    held = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # held only for a read and a rename: wait for it
        if read_generation(path)[1] != generation:
            return False
        _replace_local(path, text.encode("utf-8"))
        return True
    finally:
        os.close(held)  # releases the lock


@contextmanager
def exclusive(lock_path: str, what: str) -> Iterator[None]:
    """Be the only holder of ``lock_path`` while the block runs, or fail at once with one line naming
    the holder. Locally an ``flock`` (released when the process ends, however it ends); on ``gs://`` an
    object created only if absent and deleted afterwards (a crashed run leaves it: the error says so).

    Args:
        lock_path: the lock file.
        what: what the lock protects, for the error (e.g. ``runs/records``).
    """
    holder = json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
    )
    if is_remote(lock_path):
        if not replace_if_generation(lock_path, holder, ABSENT):
            raise TinysignError(
                f"{what} is being written by another run ({_holder(lock_path)}); wait for it, or if no "
                f"run is writing it (a crash), delete {lock_path}"
            )
        try:
            yield
        finally:
            delete([lock_path])
        return
    os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
    with open(lock_path, "a+") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TinysignError(
                f"{what} is being written by another run ({_holder(lock_path)}); wait for it to finish "
                "or choose another output folder"
            ) from None
        held.truncate(0)
        held.write(holder)
        held.flush()
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def _holder(lock_path: str) -> str:
    try:
        info = json.loads(read_generation(lock_path)[0] or "{}")
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (ValueError, KeyError, TypeError, OSError):
        return "holder unknown"
