"""One grading run inside Gradescope: what the bundle's ``run_autograder`` calls.

``run`` picks the student's file in ``/autograder/submission/``, grades it with every check
(the student's code in the sandbox, as always) and writes ``results.json`` last, from this
trusted process, atomically, replacing whatever was there. It always writes one: a missing
file, a broken autograder or a bug of ours becomes a score of 0 with a message, never a
missing or invalid result.

The student id is a field of ``submission_metadata.json``'s ``users[0]``: ``email``, ``sid`` or
``name``, as ``[gradescope] student_id`` in assignment.toml says (``email`` by default; the
command's ``--student-id`` overrides it). It must be the id the student's starting file was
released for (``grader release ... --student ID``), since personal variants derive from it; the
run says which id and which field it used, in the log and at the top of results.json's output.
An assignment with ``attempts_per_day`` grades nothing over that budget (``grader.gradescope.attempts``).
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.assignment import Assignment, get_assignment
from grader.errors import AssignmentError, GraderError, SubmissionError, UsageError
from grader.gradescope.attempts import Refusal, attempts_per_day, over_budget, refused_json
from grader.gradescope.metadata import STUDENT_ID_FIELDS, Metadata, StudentId, read_metadata
from grader.gradescope.results import failure_json, heading, md_text, results_json
from grader.platforms.autograder import (IGNORED_FOLDERS, clear_results, find_submission, grade_one, ungraded,
                                         write_results)
from grader.results import SubmissionResult
from grader.sandbox.forkserver import ForkServer

__all__ = ["DEFAULT_ROOT", "IGNORED_FOLDERS", "RunReport", "clear_results", "find_submission", "run",
           "student_from_metadata", "ungraded", "write_results"]

#: Where Gradescope lays out the autograder (``source/``, ``submission/``, ``results/``).
DEFAULT_ROOT = Path("/autograder")


def student_from_metadata(path: Path, *, prefer: str = "email") -> str | None:
    """The student's id from Gradescope's ``submission_metadata.json``, or None.

    ``users[0]`` names the submitter (the first member of a group): its ``prefer``
    (``email``, ``sid`` or ``name``), else the first of the others that is set.
    """
    metadata = read_metadata(path)
    found = metadata.student_id(prefer) if metadata is not None else None
    return found.value if found is not None else None


def student_id_field(assignment: Assignment) -> str:
    """``[gradescope] student_id`` of the assignment (``email`` when it sets none)."""
    table = assignment.extra.get("gradescope", {})
    where = f"{assignment.directory / 'assignment.toml'} [gradescope]"
    if not isinstance(table, dict) or set(table) - {"student_id"}:
        raise AssignmentError(f"{where} may only set student_id (one of {', '.join(STUDENT_ID_FIELDS)})")
    field_name = table.get("student_id", "email")
    if field_name not in STUDENT_ID_FIELDS:
        raise AssignmentError(f"{where}: student_id must be one of {', '.join(STUDENT_ID_FIELDS)}, not {field_name!r}")
    return field_name


def id_source(identity: StudentId | None) -> str:
    """Where the student id came from, in a few words: ``the sid of your Gradescope account``."""
    if identity is None:
        return "the name of your file, as Gradescope gave no submission metadata"
    source = f"the {identity.field} of your Gradescope account"
    return source if identity.field == identity.wanted else f"{source} (its {identity.wanted} is not set)"


def student_note(assignment: Assignment, student: str, identity: StudentId | None) -> str:
    """The line under results.json's title: which id this was graded as, and from where."""
    note = f"Graded as student id **{md_text(student)}**: {md_text(id_source(identity))}."
    if assignment.variants_function is not None:
        note += (" Your personal numbers (the quiz) are graded as this id's: the ones `grader release "
                 f"{md_text(assignment.name)} --student` gives this id.")
    return note


@dataclass
class RunReport:
    """What one ``run`` did, for the log (Gradescope shows the log to instructors only)."""

    #: The results.json written.
    results_path: Path
    #: Its contents.
    results: dict
    #: The student's id used for grading (metadata or file stem).
    student: str
    #: Where the id came from (a field of the metadata, or the file's name), in a few words.
    student_source: str = ""
    #: The file graded, or None when there was none to grade.
    submission: Path | None = None
    #: The grading result, or None when nothing was graded.
    result: SubmissionResult | None = None
    #: Why the autograder itself failed (an error line or a traceback), or None.
    failure: str | None = None
    #: Isolation layers the sandbox could not use on this host.
    missing_layers: list[str] = field(default_factory=list)
    #: Why the attempt was not graded (over the attempt budget), or None.
    refusal: Refusal | None = None


def run(assignment_name: str, *, course_root: Path, root: Path = DEFAULT_ROOT, student_id: str | None = None,
        forkserver: ForkServer | None = None) -> RunReport:
    """Grade the submission in ``root/submission/`` and write ``root/results/results.json``.

    Always writes results.json (a score of 0 and a message when there is nothing to grade
    or the autograder fails); raises only if it cannot write it. ``student_id`` (a field of the
    metadata's user) overrides the assignment's ``[gradescope] student_id``. ``forkserver``
    (tests) is a running warm parent to use instead of starting one.
    """
    if student_id is not None and student_id not in STUDENT_ID_FIELDS:
        raise UsageError(f"student id field must be one of {', '.join(STUDENT_ID_FIELDS)}, not {student_id!r}")
    started = time.monotonic()
    root = Path(root)
    results_path = root / "results" / "results.json"
    clear_results(results_path)  # whatever is there now is not ours
    metadata = read_metadata(root / "submission_metadata.json")
    identity = _identity(metadata, student_id or "email")
    report = RunReport(results_path=results_path, results={}, student=identity.value if identity else "",
                       student_source=id_source(identity))
    try:
        assignment = get_assignment(assignment_name, Path(course_root))
        identity = _identity(metadata, student_id or student_id_field(assignment))
        report.student, report.student_source = (identity.value if identity else ""), id_source(identity)
        refusal = over_budget(attempts_per_day(assignment), metadata)
        if refusal is not None:
            report.refusal = refusal
            note = student_note(assignment, report.student or "unknown", identity)
            data = refused_json(refusal, heading=heading(assignment.title), student_note=note, student=report.student)
        else:
            data = _graded(assignment, root, report, identity, forkserver, started)
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


def _identity(metadata: Metadata | None, prefer: str) -> StudentId | None:
    return metadata.student_id(prefer) if metadata is not None else None


def _graded(assignment: Assignment, root: Path, report: RunReport, identity: StudentId | None,
            forkserver: ForkServer | None, started: float) -> dict:
    """Grade the submission's file (or say why there is none); its results.json."""
    try:
        path = find_submission(root / "submission", assignment.module)
    except SubmissionError as exc:
        report.student = report.student or "unknown"
        result = ungraded(assignment, report.student, str(exc))
    else:
        report.submission, report.student = path, report.student or path.stem
        result = _grade(assignment, path, report, forkserver)
    report.result = result
    return results_json(result, assignment, execution_time=time.monotonic() - started,
                        student_note=student_note(assignment, report.student, identity))


def _grade(assignment: Assignment, path: Path, report: RunReport, forkserver: ForkServer | None) -> SubmissionResult:
    result, report.missing_layers = grade_one(assignment, path, report.student, forkserver)
    return result
