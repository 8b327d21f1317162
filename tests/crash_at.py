"""Run a ``tinysign`` command and SIGKILL it just before the K-th file operation of its commit.

``python -m tests.crash_at K tinysign-args...``: every write, delete and rename that
:func:`tinysign.data.commit.commit` makes is counted; before the K-th the process kills itself with
SIGKILL — no handler, no cleanup, as a power cut or the OOM killer would. With K past the last operation
the command runs to its end. Exit status: -9 (killed) or the command's own.

``python -m tests.crash_at --start-after FILE 0 tinysign-args...`` imports what the command needs, then
waits for FILE to exist before running it (K = 0: never killed), so a test can start it at a moment of
its choosing without paying the imports then.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from tinysign.cli import main
from tinysign.data import commit, storage

COUNTED = ("write_text", "delete", "rename")


def crash_before(k: int) -> None:
    """Patch the commit so that its K-th file operation kills this process instead."""
    state = {"inside": False, "done": 0}

    def counted(operation: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            if state["inside"]:
                state["done"] += 1
                if state["done"] == k:
                    os.kill(os.getpid(), signal.SIGKILL)
            return operation(*args, **kwargs)

        return run

    for name in COUNTED:
        setattr(storage, name, counted(getattr(storage, name)))
    real_commit = commit.commit

    def traced(*args: Any, **kwargs: Any) -> None:
        state["inside"] = True
        try:
            real_commit(*args, **kwargs)
        finally:
            state["inside"] = False

    commit.commit = traced


def start_after(path: str) -> None:
    import apache_beam  # noqa: F401 - what extraction imports first, paid before the start signal

    while not os.path.exists(path):
        time.sleep(0.01)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "--start-after":
        start_after(args[1])
        args = args[2:]
    crash_before(int(args[0]))
    sys.exit(main(args[1:]))
