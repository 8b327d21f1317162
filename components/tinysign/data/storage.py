"""Paths that may be local or remote (``gs://...``): one small layer over Beam's FileSystems.

Local paths use the standard library (fast, no Beam import); remote ones go through
``apache_beam.io.filesystems.FileSystems``, which also honours ``STORAGE_EMULATOR_HOST``.
OpenCV and TensorFlow need local files, so :func:`local_copy` downloads a remote file first.
"""

from __future__ import annotations

import glob as globlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def is_remote(path: str) -> bool:
    return "://" in str(path)


def _fs() -> Any:
    from apache_beam.io.filesystems import FileSystems

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
    with open_write(path) as stream:
        stream.write(text.encode("utf-8"))


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
    import hashlib

    digest = hashlib.sha256()
    for path, size, mtime in listing(root):
        digest.update(f"{path}\0{size}\0{mtime:.6f}\n".encode())
    return digest.hexdigest()[:16]
