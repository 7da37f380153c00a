"""Sandbox slots: started as root, each warm parent's children get a uid/gid of their own."""

from __future__ import annotations

import errno
import socket

from grader.sandbox.isolation.syscalls import IsolationError

#: First uid/gid of the per-slot sandbox identities (started as root).
FIRST_SLOT_UID = 60000
SLOT_COUNT = 1000


class Slot:
    """A uid/gid for one warm parent's children, held by binding an abstract unix socket.

    The kernel releases the name when the holder exits, however it exits, so a crashed
    grader never leaks a slot, and nothing is written to disk."""

    def __init__(self, uid: int, holder: socket.socket):
        self.uid = self.gid = uid
        self._holder = holder

    @classmethod
    def acquire(cls) -> "Slot":
        for index in range(1, SLOT_COUNT):
            uid = FIRST_SLOT_UID + index
            holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                holder.bind(f"\0grader-sandbox-slot-{uid}")
            except OSError:
                holder.close()
                continue
            return cls(uid, holder)
        raise IsolationError(errno.EBUSY, f"all {SLOT_COUNT} sandbox slots are in use")

    def release(self) -> None:
        self._holder.close()
