"""Gradescope's ``submission_metadata.json``: who submitted, when, and the earlier submissions.

The file is documented at https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/::

    {"id": 123456, "created_at": "2018-07-01T14:22:32.365935-07:00",
     "assignment": {"id": 25828, "title": "...", "total_points": "20.0", ...},
     "submission_method": "upload",
     "users": [{"email": "student@example.com", "id": 1234, "name": "Student User", "sid": "..."}],
     "previous_submissions": [{"submission_time": "2017-04-06T14:24:48.087023-07:00", "score": 0.0,
                               "results": {...}}]}

It is Gradescope's, not the student's, but it is read defensively all the same: anything
missing or of the wrong type reads as absent, and the file is read up to a size cap.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from grader.text import clean_name

#: Fields of ``users[0]`` that can name the student, in the order they are tried after the preferred one.
STUDENT_ID_FIELDS = ("email", "sid", "name")
#: Bytes of metadata read at most (every earlier submission's results are in it).
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class PreviousSubmission:
    """One earlier submission of the same student to the same assignment."""

    #: When it was submitted (with its offset), or None if unreadable.
    submitted_at: datetime | None
    #: The score Gradescope recorded for it, or None.
    score: float | None
    #: Its results.json as Gradescope kept it ({} if absent).
    results: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StudentId:
    """The id a run grades as, and where it came from."""

    #: The id (cleaned).
    value: str
    #: The field of ``users[0]`` it is (``sid``, ``email``, ``name``).
    field: str
    #: The field that was asked for (it differs from ``field`` when that one was empty).
    wanted: str


@dataclass(frozen=True)
class Metadata:
    """What a run reads from ``submission_metadata.json``."""

    #: ``users[0]``, the submitter (the first member of a group), or {}.
    user: dict = field(default_factory=dict)
    #: When this submission was made (with its offset), or None.
    created_at: datetime | None = None
    previous: tuple[PreviousSubmission, ...] = ()

    def student_id(self, prefer: str = "email") -> StudentId | None:
        """The submitter's ``prefer`` field, else the first of the others that is set; None if none is."""
        for key in (prefer, *STUDENT_ID_FIELDS):
            value = self.user.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                cleaned = clean_name(str(value))
                if cleaned:
                    return StudentId(value=cleaned, field=key, wanted=prefer)
        return None


def parse_time(value) -> datetime | None:
    """An ISO 8601 time as Gradescope writes it (``2018-07-01T14:22:32.365935-07:00``); None otherwise.
    A time without an offset is taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def read_metadata(path: Path) -> Metadata | None:
    """The metadata at ``path``; None when it is missing, too large or not a JSON object."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return None
        document = json.loads(data.decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    users = document.get("users")
    user = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
    previous = []
    for item in document.get("previous_submissions") or []:
        if isinstance(item, dict):
            results = item.get("results")
            previous.append(PreviousSubmission(submitted_at=parse_time(item.get("submission_time")),
                                               score=_number(item.get("score")),
                                               results=results if isinstance(results, dict) else {}))
    return Metadata(user=user, created_at=parse_time(document.get("created_at")), previous=tuple(previous))
