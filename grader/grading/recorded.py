"""What a check's run leaves behind, made fit to store: its metrics and labels, where its
failure points, and the fingerprint of the comparison it came from."""

from __future__ import annotations

import numpy as np

from grader.checks import CheckFailed
from grader.results import LABEL_LIMIT, MAX_LABELS, Where
from grader.sandbox.outcomes import SandboxOutcome
from grader.text import clean_name

#: At most this many metrics per check, each name at most 64 characters.
MAX_METRICS = 32


def metrics_of(measured: dict) -> dict[str, float]:
    """A check's metrics as stored: string names, finite floats (others are dropped)."""
    kept: dict[str, float] = {}
    for name, value in list(measured.items())[:MAX_METRICS]:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if isinstance(name, str) and name and np.isfinite(number):
            kept[name[:64]] = number
    return kept


def labels_of(recorded: dict) -> dict[str, str]:
    """A check's labels as stored: string names (at most 64 characters) and string values, cleaned
    onto one line with runs of spaces as one, and capped (``LABEL_LIMIT``); empty values and
    anything but strings are dropped."""
    kept: dict[str, str] = {}
    for name, value in list(recorded.items())[:MAX_LABELS]:
        if isinstance(name, str) and name and isinstance(value, str):
            text = clean_name(" ".join(clean_name(value, 4 * LABEL_LIMIT).split()), LABEL_LIMIT)
            if text:
                kept[name[:64]] = text
    return kept


def student_place(failure: BaseException) -> Where | None:
    """Where the student's exception that a check turned into this failure was raised, if it was
    raised while handling one (``raise CheckFailed(...) from None`` still keeps it as context)."""
    seen = 0
    cause = failure.__cause__ or failure.__context__
    while cause is not None and seen < 8:
        if isinstance(cause, SandboxOutcome) and cause.where is not None:
            return cause.where
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def fingerprint_of(failure: CheckFailed) -> str | None:
    """The fingerprint of the comparison a failure came from: its own, or that of a failure it
    re-raised with more words (``raise CheckFailed(f"{failure}: ...") from None`` keeps it as context)."""
    seen = 0
    while failure is not None and seen < 8:
        if isinstance(failure, CheckFailed) and failure.fingerprint is not None:
            return failure.fingerprint
        failure, seen = failure.__cause__ or failure.__context__, seen + 1
    return None
