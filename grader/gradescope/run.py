"""One grading run inside Gradescope: what the bundle's ``run_autograder`` calls.

``run`` picks the student's file in ``/autograder/submission/``, grades it with every check
(the student's code in the sandbox, as always) and writes ``results.json`` last, from this
trusted process, atomically, replacing whatever was there. It always writes one: a missing
file, a broken autograder or a bug of ours becomes a score of 0 with a message, never a
missing or invalid result.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.assignment import Assignment, get_assignment
from grader.errors import GraderError, SubmissionError, UsageError
from grader.gradescope.bundle import STUDENT_ID_FIELDS
from grader.gradescope.results import failure_json, results_json
from grader.platforms.autograder import (IGNORED_FOLDERS, clear_results, find_submission, grade_one, ungraded,
                                         write_results)
from grader.results import SubmissionResult
from grader.sandbox.forkserver import ForkServer
from grader.text import clean_name

__all__ = ["DEFAULT_ROOT", "IGNORED_FOLDERS", "RunReport", "clear_results", "find_submission", "run",
           "student_from_metadata", "ungraded", "write_results"]

#: Where Gradescope lays out the autograder (``source/``, ``submission/``, ``results/``).
DEFAULT_ROOT = Path("/autograder")


def student_from_metadata(path: Path, *, prefer: str = "email") -> str | None:
    """The student's id from Gradescope's ``submission_metadata.json``, or None.

    ``users[0]`` names the submitter (the first member of a group): its ``prefer``
    (``email``, ``sid`` or ``name``), else the first of the others that is set.
    """
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
        user = metadata["users"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(user, dict):
        return None
    for key in (prefer, *STUDENT_ID_FIELDS):
        value = user.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return clean_name(str(value)) or None
    return None


@dataclass
class RunReport:
    """What one ``run`` did, for the log (Gradescope shows the log to instructors only)."""

    #: The results.json written.
    results_path: Path
    #: Its contents.
    results: dict
    #: The student's id used for grading (metadata or file stem).
    student: str
    #: The file graded, or None when there was none to grade.
    submission: Path | None = None
    #: The grading result, or None when nothing was graded.
    result: SubmissionResult | None = None
    #: Why the autograder itself failed (an error line or a traceback), or None.
    failure: str | None = None
    #: Isolation layers the sandbox could not use on this host.
    missing_layers: list[str] = field(default_factory=list)


def run(assignment_name: str, *, course_root: Path, root: Path = DEFAULT_ROOT, student_id: str = "email",
        forkserver: ForkServer | None = None) -> RunReport:
    """Grade the submission in ``root/submission/`` and write ``root/results/results.json``.

    Always writes results.json (a score of 0 and a message when there is nothing to grade
    or the autograder fails); raises only if it cannot write it. ``forkserver`` (tests) is
    a running warm parent to use instead of starting one.
    """
    if student_id not in STUDENT_ID_FIELDS:
        raise UsageError(f"student id field must be one of {', '.join(STUDENT_ID_FIELDS)}, not {student_id!r}")
    started = time.monotonic()
    root = Path(root)
    results_path = root / "results" / "results.json"
    clear_results(results_path)  # whatever is there now is not ours
    student = student_from_metadata(root / "submission_metadata.json", prefer=student_id) or ""
    report = RunReport(results_path=results_path, results={}, student=student)
    try:
        assignment = get_assignment(assignment_name, Path(course_root))
        try:
            path = find_submission(root / "submission", assignment.module)
        except SubmissionError as exc:
            report.student = student or "unknown"
            result = ungraded(assignment, report.student, str(exc))
        else:
            report.submission, report.student = path, student or path.stem
            result = _grade(assignment, path, report, forkserver)
        report.result = result
        data = results_json(result, assignment, execution_time=time.monotonic() - started)
    except GraderError as exc:
        report.failure = f"{type(exc).__name__}: {exc}"
        data = failure_json(report.failure, student=report.student, assignment=assignment_name)
    except Exception as exc:  # noqa: BLE001 - a grader bug must still give the student a result
        report.failure = traceback.format_exc()
        data = failure_json(f"{type(exc).__name__}: {exc}", student=report.student, assignment=assignment_name)
    data["execution_time"] = int(math.ceil(time.monotonic() - started))
    write_results(results_path, data)
    report.results = data
    return report


def _grade(assignment: Assignment, path: Path, report: RunReport, forkserver: ForkServer | None) -> SubmissionResult:
    result, report.missing_layers = grade_one(assignment, path, report.student, forkserver)
    return result
