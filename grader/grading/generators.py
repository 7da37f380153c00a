"""Each check's random generator (``ctx.rng``), at the start of its seed for every submission.

A check draws its inputs from a generator seeded from the assignment's seed and its own name
(``grader.checks.check_seed``), so every submission gets the same draws. Making that generator
anew (a SHA-256 and ``np.random.default_rng``, ~15 us) for each of a submission's checks was a
few per cent of the grader's time on a perceptron submission; resetting one made before to its
starting state takes ~2 us. One per thread: a torch worker grades on several at once.
"""

from __future__ import annotations

import threading

import numpy as np

from grader.checks import check_seed


class CheckGenerators:
    """``fresh(name)``: the generator of the check ``name``, as ``default_rng(check_seed(...))``
    would make it."""

    def __init__(self, assignment_seed: int):
        self._seed = assignment_seed
        self._local = threading.local()

    def fresh(self, check_name: str) -> np.random.Generator:
        made = self._local.__dict__.setdefault("by_check", {})
        entry = made.get(check_name)
        if entry is None:
            generator = np.random.default_rng(check_seed(self._seed, check_name))
            entry = made[check_name] = (generator, generator.bit_generator.state)
        generator, start = entry
        generator.bit_generator.state = start
        return generator
