"""A submission to grade (``SubmissionFile``), student ids from names, and ``find_submissions``.

Finding them in the files, folders and archives a TA names is ``plan``'s job (with ``layouts``
for each LMS's way of naming files); ``find_submissions`` is the short way to its files.
Nothing is read or run here.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.text import clean_name

@dataclass(frozen=True)
class SubmissionFile:
    """A file to grade and whose it is."""

    path: Path
    student: str
    #: When the student submitted it, if known (set by ``with_submission_times``).
    submitted_at: datetime | None = None
    #: Where ``submitted_at`` came from: ``option``, ``manifest``, ``lms`` or ``mtime`` (the
    #: file's modification time, which a student controls inside a zip), or None.
    submitted_at_source: str | None = None
    #: The LMS's own verdict on lateness when it gives one without a time (Canvas's LATE), else None.
    late_by_lms: bool | None = None
    #: False when the file's modification time says nothing about when it was submitted.
    use_file_time: bool = True
    #: Why this file is the student's submission (one line, for the plan).
    reason: str = ""
    #: The student's name as the LMS or the roster gives it, if known (for people; never an id).
    name: str | None = None
    #: Why this student's submission cannot be graded at all (files that leave it unclear which
    #: one to grade): the student gets an ``error`` result saying so, and nothing is run.
    problem: str | None = None
    #: The files behind ``problem`` (their contents identify it, as a file's content does).
    problem_files: tuple[Path, ...] = ()


def student_id(raw: str) -> str:
    """A student id from a file or folder name: the name itself when it is printable text, else
    a printable form of it with a short hash of the raw name, so two odd names never collide."""
    shown = clean_name(os.fsencode(raw), 120)
    if shown == raw and shown:
        return raw
    digest = hashlib.sha256(os.fsencode(raw)).hexdigest()[:8]
    return f"{shown or 'student'}-{digest}"


def find_submissions(paths: list[Path], module: str, **options) -> list[SubmissionFile]:
    """The submission of each student in ``paths`` (files, folders, archives), by ``plan``'s rules,
    without submission times (``times.with_submission_times`` adds them); see
    ``plan.plan_submissions`` for the options and for what is left out and why."""
    from grader.intake.plan import plan_submissions  # plan uses SubmissionFile: imported when called

    return plan_submissions(paths, module=module, **{"times": False, **options}).files
