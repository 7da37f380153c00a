"""The reference in the grading process: its answers, computed once per grader and reused across
a batch's submissions, and its harness functions, run under the reference's lock.

Checks draw their inputs from seeded generators, so every submission of a batch asks the
reference the same questions (hundreds of output sizes in the conv assignment, a training run
per perceptron check); only the student's answers differ. ``CachedReference`` stands for the
reference module in ``ctx.reference`` and remembers what its functions returned, keyed by the
exact arguments.

A remembered answer is a private snapshot, and every hit hands out a fresh copy of it, so a
check that changes what it got (appends to a list, writes into an array) changes nothing for
the next submission: to the check, a hit looks exactly like running the reference again.
Remembered are answers made of ints, floats, strings, bools, None, NumPy numbers and numeric
arrays, in tuples, lists and dicts of those, and exceptions raised. Anything else (a tensor, an
object) runs every time, and so does a call whose arguments the reference changed. Per-student
variants need nothing special: their arguments differ, so their answers never meet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

#: Answers kept per grader (least recently used go first) ...
MAX_ENTRIES = 100_000
#: ... and bytes of remembered arrays in all: answers are kept, not submissions' worth of memory.
MAX_ARRAY_BYTES = 128 * 1024 * 1024
#: Arrays up to this many elements may be part of a key (bytes, dtype and shape).
MAX_KEY_ELEMENTS = 4096
#: Nesting of tuples, lists and dicts a remembered answer may have.
MAX_DEPTH = 8
_PLAIN = (int, float, str, bool, type(None))


def exact_key(value):
    """A hashable, exact stand-in for an argument (``True`` and ``1`` differ), or raise TypeError
    if it has none."""
    kind = type(value)
    if kind in _PLAIN:
        return (kind, value)
    if kind is tuple:
        return (tuple, tuple([exact_key(v) for v in value]))
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= MAX_KEY_ELEMENTS:
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return ("npscalar", value.dtype.str, value.tobytes())
    raise TypeError("no exact key")


#: The kind of a ``_Part`` that is a list or a dict whose values are all immutable.
_FLAT = "flat"


class _Part:
    """A mutable part of a remembered answer (a list, dict, array, or a tuple holding one):
    rebuilt for every copy. Everything else is immutable and shared by all copies as it is."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: type, value):
        self.kind = kind
        self.value = value


def _arguments_key(args: tuple, kwargs: dict):
    """The exact key of a call's arguments, keywords in name order (TypeError if there is none)."""
    return exact_key(args), tuple(sorted((k, exact_key(v)) for k, v in kwargs.items()))


class Snapshot:
    """A private copy of an answer, and what it costs to keep."""

    __slots__ = ("value", "array_bytes")

    def __init__(self, value):
        self.array_bytes = 0
        self.value = self._take(value, 0)

    def _take(self, value, depth: int):
        kind = type(value)
        if kind in _PLAIN or (isinstance(value, np.generic) and value.dtype.kind in "biufc"):
            return value  # immutable
        if depth >= MAX_DEPTH:
            raise TypeError("nested too deeply to remember")
        if kind is np.ndarray and value.dtype.kind in "biufc":
            self.array_bytes += value.nbytes
            kept = value.copy()
            kept.flags.writeable = False
            return _Part(np.ndarray, kept)
        if kind is tuple:
            items = tuple([self._take(v, depth + 1) for v in value])
            return _Part(tuple, items) if any(type(v) is _Part for v in items) else items
        if kind is list:
            items = [self._take(v, depth + 1) for v in value]
            return _Part(_FLAT if not any(type(v) is _Part for v in items) else list, items)
        if kind is dict and all(type(k) in _PLAIN for k in value):
            entries = {k: self._take(v, depth + 1) for k, v in value.items()}
            return _Part(_FLAT if not any(type(v) is _Part for v in entries.values()) else dict, entries)
        raise TypeError(f"a {kind.__name__} is not remembered")

    def copy(self):
        """A fresh copy, as if the reference had just returned it."""
        return _fresh(self.value)


def _fresh(value):
    if type(value) is not _Part:
        return value
    kind, kept = value.kind, value.value
    if kind is _FLAT:
        return kept.copy()  # a list or dict of immutable values: a shallow copy is a fresh one
    if kind is np.ndarray:
        return kept.copy()  # writable again, like the reference's own result
    if kind is tuple:
        return tuple([_fresh(v) for v in kept])
    if kind is list:
        return [_fresh(v) for v in kept]
    return {k: _fresh(v) for k, v in kept.items()}


class CachedReference:
    """A reference module whose functions' answers are remembered (see the module docstring)."""

    def __init__(self, module, lock=None):
        self._module = module
        #: Held around each call (cache and reference alike): graders on several threads share one
        #: reference, whose functions may use global state (a seeded global RNG).
        self._lock = lock if lock is not None else threading.RLock()
        self._answers: OrderedDict = OrderedDict()
        self._array_bytes = 0
        #: Calls answered from memory, and calls run.
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str):
        value = getattr(self._module, name)
        if not callable(value) or isinstance(value, type):
            return value

        def remembered(*args, **kwargs):
            with self._lock:
                return self._call(name, value, args, kwargs)

        remembered.__name__ = name
        return remembered

    def _call(self, name: str, value, args: tuple, kwargs: dict):
        """One call of the reference's ``name`` (``value``): from memory, or run and remembered."""
        try:
            key = (name, _arguments_key(args, kwargs))
        except TypeError:
            return value(*args, **kwargs)
        entry = self._answers.get(key)
        if entry is not None:
            self.hits += 1
            self._answers.move_to_end(key)
            kind, answer = entry
            if kind == "raise":
                raise type(answer)(*answer.args)
            return answer.copy()
        self.misses += 1
        try:
            answer = value(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - an answer like any other (e.g. ValueError for bad sizes)
            if self._unchanged(key, args, kwargs):
                self._remember(key, ("raise", exc), 0)
            raise
        try:
            snapshot = Snapshot(answer)
        except TypeError:
            return answer
        if self._unchanged(key, args, kwargs):
            self._remember(key, ("return", snapshot), snapshot.array_bytes)
        return answer

    @staticmethod
    def _unchanged(key, args, kwargs) -> bool:
        """The call left its arguments as they were (a reference that writes into its inputs
        must run every time: its next caller expects that effect too)."""
        return key[1] == _arguments_key(args, kwargs)

    def _remember(self, key, entry, array_bytes: int) -> None:
        if array_bytes > MAX_ARRAY_BYTES // 4:
            return  # one answer must not push out everything else
        self._answers[key] = entry
        self._array_bytes += array_bytes
        while len(self._answers) > MAX_ENTRIES or self._array_bytes > MAX_ARRAY_BYTES:
            _, (kind, dropped) = self._answers.popitem(last=False)
            if kind == "return":
                self._array_bytes -= dropped.array_bytes


class ReferenceHarness:
    """``ctx.reference_harness.fn(*args)`` runs harness ``fn(reference, *args)`` in the trusted
    process, holding ``lock`` (harness functions seed and use torch's global RNG)."""

    def __init__(self, harness, reference, lock):
        self._harness = harness
        self._reference = reference
        self._lock = lock

    def __getattr__(self, name: str):
        if self._harness is None:
            raise AttributeError(f"this assignment has no harness.py (wanted {name})")
        function = getattr(self._harness, name)

        def locked(*args, **kwargs):
            with self._lock:
                return function(self._reference, *args, **kwargs)

        locked.__name__ = name
        return locked
