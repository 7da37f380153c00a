"""The API in which assignment checks are written.

A check is a function of one argument, the ``CheckContext``, decorated with ``@check``::

    @check(points=2, visibility="public")
    def step_is_strict_at_zero(ctx):
        \"\"\"step(0) is 0: the threshold is strict.\"\"\"
        expect_equal(ctx.student.step(0.0), 0, name="step(0)")

It passes by returning and fails by raising ``CheckFailed`` (the ``expect_*`` helpers do
that with a message a student can act on). A check that earns part of its points returns
``Partial(fraction, message)`` (an accuracy between two thresholds, say). Numbers worth keeping
beside the score (accuracy, training seconds, a parameter count: what a leaderboard ranks)
go into ``ctx.metrics``. Checks run in the trusted process; every call
on ``ctx.student`` or ``ctx.harness`` travels to the sandbox and back.
"""

from __future__ import annotations

import hashlib
import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grader.compare import EXACT, Comparison, Tolerance, compare, is_finite_number
from grader.results import Where
from grader.sandbox.outcomes import (CallOutcome, CallTimeout, InputMutated, MissingName, SandboxCrashed,
                                     SandboxOutcome, StudentError)
from grader.sandbox.wire import Remote

#: Everything a check author needs, in one place: course folders import only this module
#: (and ``grader.compare``, whose names are here too).
__all__ = [
    "check", "Check", "CheckContext", "CheckFailed", "Partial", "Case", "CallOutcome", "PreparedInputs",
    "collect_checks", "check_seed",
    "expect", "expect_close", "expect_equal", "expect_raises", "expect_tuple",
    "Tolerance", "EXACT", "Comparison", "compare", "is_finite_number",
    "describe", "show", "show_arg", "plain", "call_text", "student_error_text", "as_numpy",
    "Remote", "SandboxOutcome", "StudentError", "MissingName", "InputMutated", "CallTimeout", "SandboxCrashed",
]

VISIBILITIES = ("public", "hidden")
_definition_order = itertools.count()


class CheckFailed(Exception):
    """The student's result is wrong; the message says how.

    ``where`` is the place in the student's file it points at, if the check knows it; raised
    while handling a student's exception, the failure takes that exception's place anyway.
    ``fingerprint`` is the failed comparison's (``Comparison.fingerprint``), if one failed: a
    hash of what was compared, stored so that students wrong in the same way can be found."""

    def __init__(self, message: str, *, where: Where | None = None, fingerprint: str | None = None):
        super().__init__(message)
        self.where = where
        self.fingerprint = fingerprint


@dataclass(frozen=True)
class Partial:
    """What a check returns to earn ``fraction`` of its points (0 to 1), saying why in ``message``."""

    #: Share of the check's points earned; 1 counts as passed, anything less as failed.
    fraction: float
    #: What the student earned and why (shown like a failure's message; may be empty at 1).
    message: str = ""

    def __post_init__(self):
        if not isinstance(self.fraction, (int, float)) or not 0.0 <= float(self.fraction) <= 1.0:
            raise ValueError(f"Partial fraction must be a number between 0 and 1, not {self.fraction!r}")


@dataclass(frozen=True)
class Check:
    """One graded check of an assignment."""

    #: The function's name; unique within the assignment, used in the gradebook and reports.
    name: str
    #: The check body, called with a ``CheckContext``.
    function: Callable[["CheckContext"], Any]
    #: Points awarded when it passes (all or nothing).
    points: float
    #: ``public`` checks run in ``grader check``; ``hidden`` ones only when a TA grades.
    visibility: str
    #: Wall-clock seconds for the whole check, a function of the assignment's settings that
    #: gives them (``lambda settings: 2 * settings["training"]["budget_seconds"] + 30``), or
    #: None for the assignment's default (``[limits] check_timeout``).
    timeout: float | Callable[[dict], float] | None
    #: The first line of the docstring: what the check is about, shown to students.
    description: str
    order: int

    def time_limit(self, settings: dict, default: float) -> float:
        """The check's wall-clock limit in seconds for an assignment with these ``settings``.

        Raises ``ValueError`` (saying which check) when a ``timeout`` function fails on the
        settings or gives anything but a positive number of seconds."""
        if self.timeout is None:
            return float(default)
        if not callable(self.timeout):
            return float(self.timeout)
        try:
            seconds = self.timeout(settings)
        except Exception as exc:  # noqa: BLE001 - a course's function over its own settings: say which failed
            raise ValueError(f"the timeout of check {self.name} failed on the assignment's settings: "
                             f"{type(exc).__name__}: {exc}") from None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
            raise ValueError(f"the timeout of check {self.name} gave {seconds!r}; expected a positive number of "
                             "seconds")
        return float(seconds)


def check(*, points: float, visibility: str = "public", timeout: float | Callable[[dict], float] | None = None):
    """Mark a function as a check worth ``points``.

    ``timeout`` is the check's wall-clock limit: seconds, or a function of the assignment's
    settings that returns them (evaluated when grading starts), or None for ``[limits]
    check_timeout``."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}, not {visibility!r}")
    if not points > 0:
        raise ValueError("a check must be worth a positive number of points")
    if timeout is not None and not callable(timeout) and not (
            isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or a function of the settings, not {timeout!r}")

    def mark(function):
        doc = (function.__doc__ or "").strip().splitlines()
        function.__grader_check__ = Check(
            name=function.__name__, function=function, points=float(points),
            visibility=visibility, timeout=timeout, description=doc[0] if doc else "",
            order=next(_definition_order))
        return function

    return mark


def collect_checks(namespace: dict) -> list[Check]:
    """The checks defined in a checks module's namespace, in definition order."""
    found = [v.__grader_check__ for v in namespace.values() if hasattr(v, "__grader_check__")]
    return sorted(found, key=lambda c: c.order)


def check_seed(assignment_seed: int, check_name: str) -> int:
    """A stable per-check seed, independent of Python's hash randomisation."""
    digest = hashlib.sha256(f"{assignment_seed}:{check_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Case:
    """One call of a batch (``ctx.calls``): positional and keyword arguments."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class PreparedInputs:
    """What ``ctx.once``'s ``make`` may draw from: nothing of the submission's."""

    rng: np.random.Generator
    reference: Any
    seed: int
    settings: dict


@dataclass
class CheckContext:
    """What a check works with."""

    #: The student's module, by proxy: ``ctx.student.fn(*args)`` runs ``fn`` in the sandbox.
    student: Any
    #: The hidden reference solution, imported in the trusted process.
    reference: Any
    #: The assignment's harness functions by proxy; each runs in the sandbox with the student's module.
    harness: Any
    #: A generator seeded from the assignment's seed and the check's name.
    rng: np.random.Generator
    #: The assignment's seed (for per-student variants).
    seed: int
    #: The submission's student id.
    student_id: str
    #: ``ctx.reference_harness.fn(*args)`` runs harness ``fn(reference, *args)`` in the trusted process.
    reference_harness: Any = None
    #: The assignment's own settings: the tables of assignment.toml that the grader does not
    #: read itself (``[scoring]``, ``[training]``, ...), as parsed.
    settings: dict = field(default_factory=dict)
    #: Numbers the check measured, stored with its result (``ctx.metrics["accuracy"] = 0.97``).
    metrics: dict = field(default_factory=dict)
    #: Short texts stored with its result (``ctx.labels["leaderboard_name"] = ...``): strings only,
    #: cleaned and capped at 40 characters when stored.
    labels: dict = field(default_factory=dict)
    #: The check's name, and where ``once`` keeps what it made (``grader.grading.prepared.Prepared``;
    #: None: made every time).
    check_name: str = ""
    prepared: Any = None

    def once(self, make: Callable, *args):
        """``make(inputs, *args)``, made once per batch for this check: inputs drawn the same way
        for every submission (``inputs`` has ``rng``, ``reference``, ``seed`` and ``settings``,
        nothing of the student's). Later submissions get a fresh copy, and ``ctx.rng`` in the state
        ``make`` left it in, exactly as if it had run again (``grader.grading.prepared``). Pass what
        varies as ``args``: a ``make`` that captures variables (a closure) is made every time."""
        if self.prepared is None:
            return make(PreparedInputs(self.rng, self.reference, self.seed, self.settings), *args)
        return self.prepared.once(self.check_name, self, make, args)

    def student_value(self, name: str):
        """A module-level value of the student's (``ANSWERS``), fetched from the sandbox."""
        return self.student.__grader_value__(name)

    def calls(self, name: str, cases, *, harness: bool = False) -> list[CallOutcome]:
        """Call the student's ``name`` (the harness's, with ``harness=True``) once per case, all in
        one round trip to the sandbox; one ``CallOutcome`` per case, in order.

        A case is a tuple of positional arguments, or an ``(args, kwargs)`` pair given as
        ``Case(args, kwargs)``. Use it for a check's loop over many small cases (hundreds of
        output sizes): each call alone would pay a round trip."""
        proxy = self.harness if harness else self.student
        normalised = [(tuple(case.args), dict(case.kwargs)) if isinstance(case, Case) else (tuple(case), {})
                      for case in cases]
        return proxy.__grader_batch__(name, normalised)


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def _tolerance(tol: Tolerance | None, rtol: float | None, atol: float | None) -> Tolerance:
    """The tolerance asked for: ``tol``, or the pair ``rtol``/``atol``, or the default pair.

    Half a pair is refused, as ``torch.testing.assert_close`` refuses it: a silently completed
    tolerance (rtol with some default atol) makes values near zero pass or fail by accident."""
    if tol is not None:
        if rtol is not None or atol is not None:
            raise ValueError("give either tol=Tolerance(rtol, atol) or rtol and atol, not both")
        return tol
    if (rtol is None) != (atol is None):
        raise ValueError("give rtol and atol together (or tol=Tolerance(rtol, atol)): half a tolerance is ambiguous")
    return Tolerance() if rtol is None else Tolerance(rtol, atol)


def expect_close(yours, expected, *, name: str = "result", tol: Tolerance | None = None, rtol: float | None = None,
                 atol: float | None = None, check_dtype: bool = False) -> None:
    """Fail unless ``yours`` matches ``expected`` within the tolerance (recursively).

    The tolerance is ``tol``, or ``rtol`` with ``atol`` (both or neither), default
    ``Tolerance()`` (rtol=1e-6, atol=1e-8)."""
    result = compare(yours, expected, path=name, tol=_tolerance(tol, rtol, atol), check_dtype=check_dtype)
    if not result.ok:
        raise CheckFailed(result.message, fingerprint=result.fingerprint)


def expect_equal(yours, expected, *, name: str = "result", check_dtype: bool = False) -> None:
    """Fail unless ``yours`` equals ``expected`` exactly (recursively)."""
    expect_close(yours, expected, name=name, tol=EXACT, check_dtype=check_dtype)


def expect_tuple(value, names, *, call: str) -> tuple:
    """``value`` as a tuple of ``len(names)`` items, or a failure saying what to return:
    ``affine_backward must return a tuple (dx, dw, db); yours returned an array of shape (4, 5)``.
    One name means a single value, returned as a 1-tuple."""
    names = tuple(names)
    if len(names) == 1:
        return (value,)
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        raise CheckFailed(f"{call} must return a tuple ({', '.join(names)}); yours returned {describe(value)}")
    return tuple(value)


@contextmanager
def expect_raises(exc_type: type[BaseException], *, call: str):
    """Fail unless the student call inside the block raises ``exc_type`` (or a subclass)."""
    try:
        yield
    except StudentError as error:
        if error.is_instance(exc_type):
            return
        raise CheckFailed(f"{call} raised {error.detail}{error.place}; expected {exc_type.__name__}",
                          where=error.where) from None
    raise CheckFailed(f"{call} returned normally; expected it to raise {exc_type.__name__}")


# --- describing what a student's code returned or raised, for messages ------------------------

def plain(value):
    """A value as plain Python (numpy scalars as numbers), for messages."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def describe(value) -> str:
    """What kind of value it is: ``an array of shape (3, 4)``, ``a list of 2 items``, ``a Cache object``."""
    if isinstance(value, Remote):
        return f"a {value.type_name} object"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return type(value).__name__


def show(value, limit: int = 120) -> str:
    """A value in a few characters: its repr when short, else a description (never a whole array)."""
    if isinstance(value, Remote):
        return f"a {value.type_name} object"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {tuple(value.shape)}"
    text = repr(plain(value))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def show_arg(value, max_shown: int = 0) -> str:
    """An argument in a message: its repr, or an array by its shape.

    A numeric array of at most ``max_shown`` elements is shown by its values instead, as a
    (nested) list with numbers in short form (``[1, 2, -1]``): a small failing case a student
    can type in to reproduce it."""
    if isinstance(value, np.ndarray):
        if 0 < value.size <= max_shown and value.dtype.kind in "biuf":
            return _values_text(value)
        return f"<array of shape {tuple(value.shape)}>"
    return repr(plain(value))


def _values_text(array: np.ndarray) -> str:
    if array.ndim == 0:
        value = array[()]
        return str(bool(value)) if array.dtype.kind == "b" else f"{float(value):.6g}" if array.dtype.kind == "f" \
            else str(int(value))
    return "[" + ", ".join(_values_text(item) for item in array) + "]"


def call_text(name: str, args: tuple = (), kwargs: dict | None = None, *, max_shown: int = 0) -> str:
    """How a call reads in a message: ``conv_output_size(5, 3, stride=2)``, arrays by shape
    (or, up to ``max_shown`` elements, by value: ``perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=0)``)."""
    parts = [show_arg(a, max_shown) for a in args] + [f"{k}={show_arg(v, max_shown)}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"


def student_error_text(error: StudentError, *, hint: bool = True) -> str:
    """``raised ValueError: message (line 12)``, from the student's exception, followed by what to
    do about it when the grader can tell (``error.hint``: a NumPy 2 removal, a failed plotting
    import). With ``hint=False`` the hint is left for the caller to place (``f"{text}; expected 3.{error.hint}"``)."""
    detail = error.detail or error.type_name
    if detail == "NotImplementedError":
        return f"raised NotImplementedError: not implemented yet{error.place}"
    return f"raised {detail}{error.place}" + (f".{error.hint}" if hint and error.hint else "")


def as_numpy(value):
    """A numpy array for a torch tensor that came back from the sandbox; anything else as it is.

    Duck-typed, so that checks of a NumPy-only assignment never import torch."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value
