"""Seeded, process-independent hashing (Python's ``hash`` is salted per process)."""

from __future__ import annotations

import hashlib


def stable_hash(*parts: object) -> int:
    """A process-independent hash (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")
