"""The video files below a dataset root, found by relative path, name or stem; the root is a boundary.

:class:`VideoFiles` indexes every video below a root (local or ``gs://``); :func:`walk_files` walks a
local root without following a symlink that leaves it (``outside_root``) or walking a folder twice
(``directory_loop``), and reports what it did not follow so the readers can turn it into drop rows.
"""

from __future__ import annotations

import os
import posixpath
from collections import defaultdict

from tinysign.data import storage
from tinysign.data.video import VIDEO_EXTENSIONS


def is_video(path: str) -> bool:
    """Whether a file name has one of the video extensions we read."""
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def boundary_problem(path: str, root: str, follow_outside: bool = False) -> tuple[str, str] | None:
    """Why a local ``path`` found below the dataset ``root`` must not be followed, as a drop reason and
    detail (``None`` when it may): it leads outside the root through a symlink (``outside_root``, unless
    ``follow_outside``), or it is a symlink back to a folder it is in (``directory_loop``)."""
    if storage.is_remote(path):
        return None
    target, top = os.path.realpath(path), os.path.realpath(root)
    if not follow_outside and not _within(target, top):
        return "outside_root", (
            f"{path} leads to {target}, outside the dataset root {top} "
            "(--set follow_outside_symlinks=true to follow such links)"
        )
    if (
        os.path.islink(path)
        and os.path.isdir(path)
        and _within(os.path.realpath(os.path.dirname(path)), target)
    ):
        return "directory_loop", f"{path} leads back to {target}, a folder it is in"
    return None


def _within(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def walk_files(root: str, follow_outside: bool = False) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Every file below a local ``root`` (paths as reached from it, sorted), never following a symlink
    that leaves the root (unless ``follow_outside``) or walking a folder twice; and what was not
    followed: ``{path: (reason, detail)}`` (see :func:`boundary_problem`)."""
    files: list[str] = []
    skipped: dict[str, tuple[str, str]] = {}
    walked: set[tuple[int, int]] = set()
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            info = os.stat(folder)
            entries = list(os.scandir(folder))
        except OSError:
            continue  # unreadable: its clips are reported missing by whoever names them
        if (info.st_dev, info.st_ino) in walked:
            continue
        walked.add((info.st_dev, info.st_ino))
        for entry in entries:
            problem = boundary_problem(entry.path, root, follow_outside) if entry.is_symlink() else None
            if problem:
                skipped[entry.path] = problem
            elif entry.is_dir():
                folders.append(entry.path)
            else:
                files.append(entry.path)
    return sorted(files), skipped


class VideoFiles:
    """Every video file below a dataset root, looked up by relative path, name or stem.

    A metadata ``filename`` is a path relative to the metadata file's folder (``\\`` separators
    accepted); only when no file is at that path does a search by base name stand in, and only
    when exactly one file has that name. Clip files of real sets often repeat base names across
    label folders (``bijelo/0000.mp4``, ``crn/0000.mp4``), so a name search alone would silently
    map several clips onto one file. The root is a boundary: symlinks that leave it are not followed
    (a file named through one resolves to ``outside_root``), nor ones that loop back.
    """

    def __init__(self, root: str, follow_outside: bool = False) -> None:
        self.root = root
        self.by_relative: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        self.by_stem: dict[str, list[str]] = defaultdict(list)
        self.prefix = storage.join(root, "")
        if storage.is_remote(root):
            paths, self.skipped = storage.glob(storage.join(root, "**", "*")), {}
        else:
            paths, self.skipped = walk_files(root, follow_outside)
        for path in paths:
            if is_video(path):
                name = os.path.basename(path)
                self.by_relative[self._relative(path)] = path
                self.by_name[name.lower()].append(path)
                self.by_stem[os.path.splitext(name)[0].lower()].append(path)

    def _relative(self, path: str) -> str:
        return path[len(self.prefix) :].replace(os.sep, "/")

    def resolve(self, name: str) -> tuple[str, str, str]:
        """``(path, "", "")`` for the file a metadata ``filename`` names, else ``("", reason, detail)``."""
        relative = posixpath.normpath(name.strip().replace("\\", "/")).lstrip("/")
        if relative in self.by_relative:
            return self.by_relative[relative], "", ""
        for path, (reason, detail) in self.skipped.items():
            link = self._relative(path)
            if relative == link or relative.startswith(link + "/"):
                return "", reason, detail
        base = posixpath.basename(relative)
        index = self.by_name if os.path.splitext(base)[1] else self.by_stem
        return self._unique(index.get(base.lower(), []), name, f"named {base}")

    def resolve_stem(self, stem: str) -> tuple[str, str, str]:
        """Like :meth:`resolve` for a file known by its stem only (WLASL: ``<video_id>.mp4``)."""
        found = self._unique(self.by_stem.get(stem.lower(), []), stem, f"called {stem}.*")
        if found[1] == "missing_file":
            for path, (reason, detail) in self.skipped.items():
                if os.path.splitext(os.path.basename(path))[0].lower() == stem.lower():
                    return "", reason, detail
        return found

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
