"""What can go wrong when the trusted side calls into the sandbox.

These are raised by the proxy in the trusted process, inside a check; the grading loop
turns each into a check status (``error``, ``timeout``, ``failed``), its message and, for the
ways a check can end without a verdict of its own, a reason code (``grader.results.REASONS``).
"""

from __future__ import annotations

import re

from grader.results import Where


class SandboxOutcome(Exception):
    """Base of the ways a call into student code can end other than by returning."""

    status = "error"
    #: The check result's ``reason`` for this outcome (None: the check reached a verdict).
    reason: str | None = None

    def __init__(self, message: str, *, reason: str | None = None, where: Where | None = None):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        #: Where in the submission it happened, when known (an exception's line).
        self.where = where


class StudentError(SandboxOutcome):
    """The student's function raised an exception."""

    def __init__(self, message: str, *, type_name: str, mro: tuple[str, ...], where: Where | None = None,
                 detail: str = "", reason: str | None = None, hint: str = ""):
        super().__init__(message, reason=reason, where=where)
        #: The exception as the student would print it: ``ValueError: bad name``.
        self.detail = detail or type_name
        #: What to do about it, when the grader can tell (a NumPy 2 removal, a plotting import), or "".
        self.hint = hint
        #: Name of the exception class the student's code raised, e.g. ``ValueError``.
        self.type_name = type_name
        #: Names of that class and its bases, so ``expect_raises(ValueError)`` accepts subclasses.
        self.mro = mro

    def is_instance(self, exc_type: type[BaseException]) -> bool:
        return exc_type.__name__ in self.mro

    @property
    def place(self) -> str:
        """`` (cell 4, line 3)``, to follow a sentence about the error; empty when unknown."""
        return f" ({self.where.label})" if self.where is not None else ""


class MissingName(SandboxOutcome):
    """The submission does not define a function or value the check needs."""


class InputMutated(SandboxOutcome):
    """The student's function modified one of its array arguments in place."""

    status = "failed"

    @classmethod
    def of(cls, what: str, path: str) -> "InputMutated":
        """``relu_backward() modified its argument dout in place; ...``, naming the student's own
        argument (``path``: ``dout``, ``cache[0]``)."""
        base = re.match(r"[A-Za-z_]\w*", path)
        if base is not None and base.group() == path:
            changed = f"its argument {path}"
        elif base is not None:
            changed = f"{path}, an array inside its argument {base.group()},"
        else:
            changed = path
        return cls(f"{what} modified {changed} in place; leave inputs unchanged: work on a copy "
                   f"(e.g. {path}.copy()) or build a new array")


class CallTimeout(SandboxOutcome):
    """The call did not return within the check's wall-clock limit (or the submission's budget)."""

    status = "timeout"
    reason = "timeout"


class SandboxCrashed(SandboxOutcome):
    """The sandboxed process died (crash, exit, out of memory, killed) during the call."""

    reason = "crashed"


class InvalidReply(SandboxOutcome):
    """The sandboxed process sent something that is not a valid answer: the submission's fault."""

    reason = "invalid_reply"


class ReplyLimit(SandboxOutcome):
    """The submission's answers were larger than the assignment allows."""

    reason = "reply_limit"


class CallOutcome:
    """How one call of a batch ended: its ``value``, or the ``error`` it ended in (a
    ``SandboxOutcome``: what a single call would have raised). ``get()`` is the value or raises."""

    __slots__ = ("value", "error")

    def __init__(self, value=None, error: SandboxOutcome | None = None):
        self.value = value
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None

    def get(self):
        """The value, or raise the error, as calling the function alone would have."""
        if self.error is not None:
            raise self.error
        return self.value
