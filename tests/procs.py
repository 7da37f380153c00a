"""What /proc says about processes, for the tests that look for a sandbox's or a pool's leftovers."""

from __future__ import annotations

import os
from pathlib import Path


def pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def parent(pid: int) -> int | None:
    """The parent's pid, or None once ``pid`` is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("PPid:"))
    except (OSError, StopIteration):
        return None


def children(pid: int) -> list[int]:
    return [child for child in pids() if parent(child) == pid]


def cmdline(pid: int) -> bytes:
    """The command line, its arguments separated by NULs; empty once ``pid`` is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
