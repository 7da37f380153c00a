"""PrairieLearn's external grader: ``/grade/student`` in, ``/grade/results/results.json`` out.

PrairieLearn runs a question's grading container with the student's files in
``/grade/student/``, ``serverFilesCourse/`` files in ``/grade/serverFilesCourse/`` and the
question's ``tests/`` in ``/grade/tests/``; the entrypoint must write
``/grade/results/results.json`` (its folder is not created for it) of at most 1 MB
(https://prairielearn.readthedocs.io/en/latest/externalGrading/). Its fields:

- ``gradable``: false when the submission cannot be graded (nothing submitted, a syntax
  error: PrairieLearn then awards nothing and takes no attempt), with ``format_errors``;
- ``score``: the fraction of the points earned, 0 to 1;
- ``message``: shown above the tests; ``tests``: ``name``, ``description``, ``points``,
  ``max_points``, ``message``, ``output`` per test.

Everything in results.json is shown to the student, so hidden checks appear by name and
points only, as in every report, and the student's printed output is left out.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.assignment import Assignment, get_assignment
from grader.errors import GraderError, SubmissionError
from grader.platforms.autograder import clear_results, find_submission, grade_one, ungraded, write_results
from grader.reports.jsonsafe import json_safe
from grader.results import SubmissionResult, format_points
from grader.text import clean

#: Where PrairieLearn mounts the grading job.
DEFAULT_ROOT = Path("/grade")
#: PrairieLearn's limit on results.json.
MAX_RESULTS_BYTES = 1_000_000
#: The student id used when PrairieLearn does not say (it does not pass one to the grader).
DEFAULT_STUDENT = "student"
_NOT_OURS = ("The autograder could not grade your submission. This is not a problem with your submission: "
             "please tell the course staff.")


def _fraction(result: SubmissionResult) -> float:
    try:
        fraction = float(result.score) / float(result.max_score)
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0
    return min(1.0, max(0.0, fraction)) if fraction == fraction else 0.0


def _test(check) -> dict:
    test = {"name": clean(check.name, 300, multiline=False), "points": check.score, "max_points": check.max_score}
    if check.visibility != "public":
        test.update(description="Hidden check", message="" if check.status == "passed" else "Not passed.",
                    output="")
        return test
    where = check.where
    test.update(description=clean(check.description, 500, multiline=False),
                message="" if check.status == "passed" else clean(check.message or check.status),
                output=(f"{clean(where.label, 300, multiline=False)}: {clean(where.source, 300, multiline=False)}"
                        if where is not None and check.status != "passed" else ""))
    return test


def summary(result: SubmissionResult, assignment: Assignment | None) -> str:
    """The results' ``message``: points of the public checks, how many hidden ones, notes."""
    public = [c for c in result.checks if c.visibility == "public"]
    hidden = [c for c in result.checks if c.visibility != "public"]
    lines = [f"{clean(assignment.title if assignment else result.assignment, 300, multiline=False)}: "
             f"{format_points(result.score)} / {format_points(result.max_score)} points."]
    if public:
        lines.append(f"Public checks: {format_points(sum(c.score for c in public))} / "
                     f"{format_points(sum(c.max_score for c in public))} points.")
    if hidden:
        lines.append(f"{len(hidden)} hidden check(s) worth {format_points(sum(c.max_score for c in hidden))} "
                     "points show only whether they passed.")
    lines += [f"Note: {clean(note.text, 500, multiline=False)}" for note in result.notes]
    return "\n".join(lines)


def results_json(result: SubmissionResult, assignment: Assignment | None = None) -> dict:
    """PrairieLearn's results.json for one result."""
    if result.status == "error":
        error = clean(result.error or "the file could not be graded")
        reason = error if result.fault != "grader" else f"{_NOT_OURS} ({error})"
        return {"gradable": False, "score": 0.0, "format_errors": [reason], "message": reason, "tests": []}
    return {"gradable": True, "score": _fraction(result), "message": summary(result, assignment),
            "tests": [_test(c) for c in result.checks]}


def failure_json(reason: str) -> dict:
    """results.json when the autograder itself failed: nothing awarded, no attempt used."""
    return {"gradable": False, "score": 0.0, "format_errors": [_NOT_OURS], "message": f"{_NOT_OURS}\n{clean(reason)}",
            "tests": []}


def fit(data: dict) -> dict:
    """``data`` within PrairieLearn's 1 MB: messages shortened, then tests dropped, if it is over."""
    data = json_safe(data)
    if len(json.dumps(data)) <= MAX_RESULTS_BYTES:
        return data
    for test in data.get("tests", []):
        test["message"] = clean(test.get("message") or "", 300)
        test["output"] = ""
    while data.get("tests") and len(json.dumps(data)) > MAX_RESULTS_BYTES:
        data["tests"] = data["tests"][: len(data["tests"]) // 2]
        data["message"] = (data.get("message") or "") + "\n(Some tests are not listed: the results were too long.)"
    return data


@dataclass
class PrairieLearnRun:
    """What one ``run`` did, for the grading job's log."""

    results_path: Path
    results: dict
    student: str
    submission: Path | None = None
    result: SubmissionResult | None = None
    #: Why the autograder itself failed (an error line or a traceback), or None.
    failure: str | None = None
    missing_layers: list[str] = field(default_factory=list)


def run(assignment_name: str, *, course_root: Path, root: Path = DEFAULT_ROOT, student: str | None = None,
        forkserver=None) -> PrairieLearnRun:
    """Grade the file in ``root/student/`` and write ``root/results/results.json``.

    Always writes results.json (not gradable, with a message, when there is nothing to grade
    or the autograder fails); raises only if it cannot write it.
    """
    root = Path(root)
    results_path = root / "results" / "results.json"
    clear_results(results_path)  # whatever is there now is not ours
    report = PrairieLearnRun(results_path=results_path, results={}, student=student or DEFAULT_STUDENT)
    started = time.monotonic()
    try:
        assignment = get_assignment(assignment_name, Path(course_root))
        try:
            path = find_submission(root / "student", assignment.module)
        except SubmissionError as exc:
            result = ungraded(assignment, report.student, str(exc))
        else:
            report.submission = path
            result, report.missing_layers = grade_one(assignment, path, report.student, forkserver)
        report.result = result
        data = results_json(result, assignment)
    except GraderError as exc:
        report.failure = f"{type(exc).__name__}: {exc}"
        data = failure_json(report.failure)
    except Exception as exc:  # noqa: BLE001 - a grader bug must still give the student a result
        report.failure = traceback.format_exc()
        data = failure_json(f"{type(exc).__name__}")
    data = fit(data)
    data["execution_time"] = round(time.monotonic() - started, 3)
    write_results(results_path, data)
    report.results = data
    return report
