"""The smallest tensor arena at which tflite-micro runs a model, found by probing.

Each probe runs in a child process (``python -m tinysign.runtime.arena MODEL SIZE [record]``)
because a far-too-small arena can crash the interpreter. The probe starts from the total that
``print_allocations`` reports, then brackets and bisects with real allocations: the model runs at
the returned size and fails one byte below.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tinysign.errors import TinysignError

ALLOCATION_FAILED = 3  # exit status of a probe whose arena was too small


@contextmanager
def _model_file(model: bytes) -> Iterator[Path]:
    """``model`` written to a temporary ``.tflite`` file (the probe runs in a child process)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        yield path


def _probe(path: Path, arena_size: int, record: bool = False) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "tinysign.runtime.arena", str(path), str(arena_size)]
    args += ["record"] if record else []
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)


def _fits(path: Path, arena_size: int) -> bool:
    result = _probe(path, arena_size)
    if result.returncode not in (0, ALLOCATION_FAILED) and result.returncode > 0:
        raise TinysignError(
            f"tflite-micro probe failed unexpectedly (exit {result.returncode}): "
            f"{result.stderr.strip()[-300:]}"
        )
    return result.returncode == 0  # < 0: crashed on a far too small arena


def recorded_arena(path: Path) -> int | None:
    """Arena total reported by ``print_allocations`` (C-level output of a child process)."""
    size = 64 * 1024
    while size <= 1 << 30:
        result = _probe(path, size, record=True)
        if result.returncode == 0:
            found = re.search(r"Arena allocation total (\d+) bytes", result.stdout + result.stderr)
            return int(found.group(1)) if found else None
        size *= 4
    raise TinysignError(f"{path}: tflite-micro cannot allocate this model even with a 1 GB arena")


def probe_arena(model: bytes) -> int:
    """Smallest ``arena_size`` (bytes) at which tflite-micro runs ``model``; ``size - 1`` fails.

    Starts from the ``print_allocations`` total, then brackets and bisects with real allocations,
    each in a child process (a far too small arena can crash the interpreter).
    """
    with _model_file(model) as path:
        hi = recorded_arena(path) or max(4096, 10 * len(model))
        while not _fits(path, hi):
            hi *= 2
        lo = hi - 1
        while lo > 0 and _fits(path, lo):
            hi, lo = lo, lo // 2
        while hi - lo > 1:  # invariant: fits(hi), not fits(lo)
            mid = (lo + hi) // 2
            if _fits(path, mid):
                hi = mid
            else:
                lo = mid
        return hi


def check_runs_at(model: bytes, arena_size: int) -> bool:
    """True when tflite-micro allocates and invokes ``model`` with ``arena_size`` bytes."""
    with _model_file(model) as path:
        return _probe(path, arena_size, record=True).returncode == 0


def main(argv: list[str]) -> int:
    """Child process: allocate ``MODEL`` in ``SIZE`` bytes (exit 3 if it does not fit); with ``record``,
    also invoke once on zeros and print the allocations (C-level output)."""
    import numpy as np
    from tflite_micro import runtime

    data = Path(argv[0]).read_bytes()
    try:
        interpreter = runtime.Interpreter.from_bytes(data, arena_size=int(argv[1]))
    except RuntimeError:
        return ALLOCATION_FAILED
    if len(argv) > 2:
        details = interpreter.get_input_details(0)
        interpreter.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)
        interpreter.invoke()
        interpreter.print_allocations()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
