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
from typing import IO, Any


def is_remote(path: str) -> bool:
    return "://" in str(path)


def _fs() -> Any:
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


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
