"""User-facing errors: one line that names the input and says what to do."""

from __future__ import annotations

import errno
import os

# A full disk, a full quota, or a file-size limit (RLIMIT_FSIZE): the same advice.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class TinysignError(Exception):
    """A problem with the user's input or environment, reported as one line (no traceback); exit 1."""


class UsageError(TinysignError):
    """A command line that cannot work as given (a bad option value or combination); exit 2."""


def disk_full(exc: BaseException) -> TinysignError | None:
    """The one-line error for a full disk anywhere in ``exc``'s chain — an ``OSError``, or the message
    of a library that wrapped one (TensorFlow, Beam) — else ``None``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in DISK_FULL:
            where = f" writing {seen.filename}" if seen.filename else ""
            return TinysignError(f"{os.strerror(seen.errno)}{where}: {_ADVICE}")
        for code in DISK_FULL:
            if os.strerror(code) in str(seen):
                return TinysignError(f"{os.strerror(code)} ({_first_line(seen)}): {_ADVICE}")
        seen = seen.__cause__ or seen.__context__
    return None


_ADVICE = "free space (or raise the file size limit) and run the command again"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
