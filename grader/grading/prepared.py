"""Inputs a check draws the same way for every submission, drawn once per grader (``ctx.once``).

A check's generator is seeded from the assignment's seed and the check's name, so what a
check draws from it before calling the student (hundreds of conv configurations, each
validated against the reference) is the same for every submission of a batch: conv spent a
quarter of its grading time drawing them again for each student. ``ctx.once(make, *args)``
runs ``make(inputs, *args)`` the first time and remembers the value together with the state
it left the generator in; every later submission gets a fresh copy of the value and the
generator in that same state, so what the check does next is exactly what it would have done.

``make`` sees ``PreparedInputs`` (the generator, the reference, the seed and the settings),
never the student, their id or the sandbox: what it returns cannot be personal. The key is
the check, ``make``, its arguments and the generator's state at the call, so a check that
draws differently (a per-student variant passed in as an argument) never meets another's value.
"""

from __future__ import annotations

from typing import Callable

from grader.checks import PreparedInputs
from grader.grading.reference_cache import exact_key, Snapshot

#: Values remembered per grader (a check calls ``once`` a handful of times).
MAX_VALUES = 10_000


class Prepared:
    """The values ``once`` made, per grader; ``lock`` is the grader's ``trusted_lock``."""

    def __init__(self, lock):
        self._lock = lock
        self._values: dict = {}
        #: Values handed out from memory, and values made.
        self.hits = 0
        self.misses = 0

    def once(self, check: str, ctx, make: Callable, args: tuple):
        inputs = PreparedInputs(ctx.rng, ctx.reference, ctx.seed, ctx.settings)
        try:
            key = (check, _function_key(make), exact_key(args), repr(ctx.rng.bit_generator.state))
        except TypeError:  # arguments with no exact key, or a ``make`` that is not a plain function
            return make(inputs, *args)
        with self._lock:
            remembered = self._values.get(key)
            if remembered is not None:
                self.hits += 1
                snapshot, state = remembered
                ctx.rng.bit_generator.state = state
                return snapshot.copy()
            self.misses += 1
            value = make(inputs, *args)
            try:
                snapshot = Snapshot(value)
            except TypeError:
                return value  # not a value that can be copied exactly: made every time
            if len(self._values) < MAX_VALUES:
                self._values[key] = (snapshot, ctx.rng.bit_generator.state)
            return value


def _function_key(make: Callable):
    """What identifies ``make``'s computation: its code and default arguments. Only a plain
    function qualifies: one that captures variables (a closure) or a ``partial`` could compute
    something else with the same code, so it has no key (TypeError) and is made every time."""
    code = getattr(make, "__code__", None)
    if code is None or getattr(make, "__closure__", None) is not None:
        raise TypeError("not a plain function")
    return (code, exact_key(tuple(make.__defaults__ or ())), exact_key(tuple(sorted((make.__kwdefaults__ or {}).items()))))
