"""The reference's answers, computed once per grader and reused across a batch's submissions.

Checks draw their inputs from seeded generators, so every submission of a batch asks the
reference the same questions (hundreds of output sizes in the conv assignment); only the
student's answers differ. ``CachedReference`` stands for the reference module in
``ctx.reference`` and remembers what its functions returned, keyed by the exact arguments.

Only what cannot be changed afterwards is remembered: arguments and results made of ints,
floats, strings, bools, None and tuples of those (and small read-only copies of arrays as
arguments), and exceptions raised. A call with anything else (a list a check might append to,
an array result) runs every time. Per-student variants need nothing special: their arguments
differ, so their answers never meet.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

#: Answers kept per grader (least recently used go first).
MAX_ENTRIES = 100_000
#: Arrays up to this many elements may be part of a key (bytes, dtype and shape).
MAX_KEY_ELEMENTS = 4096
_PLAIN = (int, float, str, bool, type(None))


def _key(value):
    """A hashable, exact stand-in for an argument (``True`` and ``1`` differ), or raise TypeError
    if it has none."""
    kind = type(value)
    if kind in _PLAIN:
        return (kind, value)
    if kind is tuple:
        return (tuple, tuple([_key(v) for v in value]))
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= MAX_KEY_ELEMENTS:
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return ("npscalar", value.dtype.str, value.tobytes())
    raise TypeError("no exact key")


def _immutable(value) -> bool:
    if type(value) in _PLAIN:
        return True
    if type(value) is tuple:
        return all(_immutable(v) for v in value)
    return False


class CachedReference:
    """A reference module whose functions' answers are remembered (see the module docstring)."""

    def __init__(self, module):
        self._module = module
        self._answers: OrderedDict = OrderedDict()
        #: Calls answered from memory, and calls run.
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str):
        value = getattr(self._module, name)
        if not callable(value) or isinstance(value, type):
            return value

        def remembered(*args, **kwargs):
            try:
                key = (name, _key(args), tuple(sorted((k, _key(v)) for k, v in kwargs.items())) if kwargs else ())
            except TypeError:
                return value(*args, **kwargs)
            if key in self._answers:
                self.hits += 1
                self._answers.move_to_end(key)
                kind, answer = self._answers[key]
                if kind == "raise":
                    raise type(answer)(*answer.args)
                return answer
            self.misses += 1
            try:
                answer = value(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - an answer like any other (e.g. ValueError for bad sizes)
                self._remember(key, ("raise", exc))
                raise
            if _immutable(answer):
                self._remember(key, ("return", answer))
            return answer

        remembered.__name__ = name
        return remembered

    def _remember(self, key, entry) -> None:
        self._answers[key] = entry
        if len(self._answers) > MAX_ENTRIES:
            self._answers.popitem(last=False)
