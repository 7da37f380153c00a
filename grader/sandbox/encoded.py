"""Arguments a batch sends to every submission, encoded once.

Checks draw their cases from seeded generators, so every submission of a batch is sent the same
arguments (conv's 1,166 configurations, the same random arrays). Encoding them into the wire's
tagged JSON again for each submission was about a quarter of the grader's CPU on a conv
submission. ``EncodedArguments`` keeps the encoding of each distinct value, keyed by the value's
pickle: exact (``1``, ``1.0`` and ``True`` differ, and so do a tuple and a list), and made in C
for a tenth of what encoding costs. The pickle is only ever a key, never read back: nothing is
unpickled, and only the grader's own values (a check's arguments) go in.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections import OrderedDict

from grader.sandbox.wire import Encoder

#: Values whose pickle is larger than this are encoded every time (a key that big saves nothing).
MAX_KEY_BYTES = 4 * 1024 * 1024
#: Keys, texts and blobs kept per grader in all (least recently used go first).
MAX_BYTES = 64 * 1024 * 1024


class EncodedArguments:
    """Wire encodings of the values a grader sends, remembered across its submissions."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self._lock = threading.Lock()  # graders on several threads share one (torch workers)
        self._entries: OrderedDict[bytes, tuple[str, tuple[bytes, ...]]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        #: Values found encoded already, and values encoded.
        self.hits = 0
        self.misses = 0

    def encode(self, value) -> tuple[str, list[bytes]]:
        """The JSON text of ``value``'s wire encoding and its blobs, as ``Encoder`` makes them
        (which raises ``WireError`` for what cannot travel; that is never remembered)."""
        return self._encoded(value, Encoder.encode, b"value:")

    def encode_cases(self, cases) -> tuple[str, list[bytes]]:
        """The same for the cases of a batch, ``[(args, kwargs), ...]`` (``Encoder.encode_cases``)."""
        return self._encoded(cases, Encoder.encode_cases, b"cases:")

    def _encoded(self, value, encode, kind: bytes) -> tuple[str, list[bytes]]:
        try:
            key: bytes | None = kind + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - a value pickle refuses is simply encoded every time
            key = None
        if key is not None and len(key) > MAX_KEY_BYTES:
            key = None
        if key is not None:
            with self._lock:
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return found[0], list(found[1])
        encoder = Encoder()
        text = json.dumps(encode(encoder, value), allow_nan=False)
        blobs = tuple(encoder.blobs)
        if key is not None:
            self._keep(key, text, blobs)
        return text, list(blobs)

    def _keep(self, key: bytes, text: str, blobs: tuple[bytes, ...]) -> None:
        size = _size(key, text, blobs)
        with self._lock:
            self.misses += 1
            if key in self._entries or size > self._max_bytes:
                return
            self._entries[key] = (text, blobs)
            self._bytes += size
            while self._bytes > self._max_bytes:
                old_key, (old_text, old_blobs) = self._entries.popitem(last=False)
                self._bytes -= _size(old_key, old_text, old_blobs)


def _size(key: bytes, text: str, blobs: tuple[bytes, ...]) -> int:
    return len(key) + len(text) + sum(len(blob) for blob in blobs)
