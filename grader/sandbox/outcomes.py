"""What can go wrong when the trusted side calls into the sandbox.

These are raised by the proxy in the trusted process, inside a check; the grading loop
turns each into a check status (``error``, ``timeout``, ``failed``) with its message.
"""

from __future__ import annotations


class SandboxOutcome(Exception):
    """Base of the ways a call into student code can end other than by returning."""

    status = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StudentError(SandboxOutcome):
    """The student's function raised an exception."""

    def __init__(self, message: str, *, type_name: str, mro: tuple[str, ...], where: str = "", detail: str = ""):
        super().__init__(message)
        #: The exception as the student would print it: ``ValueError: bad name``.
        self.detail = detail or type_name
        #: Name of the exception class the student's code raised, e.g. ``ValueError``.
        self.type_name = type_name
        #: Names of that class and its bases, so ``expect_raises(ValueError)`` accepts subclasses.
        self.mro = mro
        #: Where in the submission it was raised, e.g. ``line 12`` or ``cell 4, line 3``.
        self.where = where

    def is_instance(self, exc_type: type[BaseException]) -> bool:
        return exc_type.__name__ in self.mro


class MissingName(SandboxOutcome):
    """The submission does not define a function or value the check needs."""


class InputMutated(SandboxOutcome):
    """The student's function modified one of its array arguments in place."""

    status = "failed"


class CallTimeout(SandboxOutcome):
    """The call did not return within the check's wall-clock limit."""

    status = "timeout"


class SandboxCrashed(SandboxOutcome):
    """The sandboxed process died (crash, exit, out of memory, killed) during the call."""
