"""Isolation layers a sandboxed child enters right after fork, before any student code runs.

The foundation sandbox relies on a separate process, its own process group, rlimits, a
clean environment and a private scratch directory (set up by the zygote). Stronger layers
(namespaces, a private filesystem view, a dropped uid) plug in here.
"""

from __future__ import annotations


def enter(request: dict) -> None:
    """Apply the isolation layers named in ``request`` to the calling (child) process."""
    return None
