"""GitHub Classroom: the workflow a classroom repository needs, and the result its reporter reads.

GitHub Classroom's autograding is a workflow in the student's repository,
``.github/workflows/classroom.yml``, named ``Autograding Tests`` with one job
``run-autograding-tests``; its last step, ``classroom-resources/autograding-grading-reporter``,
reads each grading step's ``result`` output from an environment variable
``<STEP ID>_RESULTS`` (step ids listed in its ``runners`` input) and reports to Classroom the
sum of the tests' ``score`` over the sum of the steps' ``max_score``. A ``result`` is base64 of
the JSON the classroom graders (``autograding-command-grader`` and friends) write:

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": <points>,
     "tests": [{"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}]}

``classroom_result`` builds that from the one result model, with a test per check (partial
credit as its ``score``), and ``workflow`` writes the file. What the reporter prints is the
student's to read, so hidden checks appear by name and points only.

A classroom repository belongs to the student: whatever its workflow can read (the course's
checks, its reference solution), a student who edits the workflow can read too. The workflow
checks the grader and the course out of a repository of the course's own (a token secret for a
private one); it keeps them out of the template repository, not out of a determined student's
reach. Grade with Gradescope, PrairieLearn or ``grader grade`` where that matters.
"""

from __future__ import annotations

import base64
import json
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.assignment import get_assignment
from grader.errors import GraderError, SubmissionError, UsageError
from grader.platforms.autograder import find_submission, grade_one, ungraded
from grader.reports.jsonsafe import json_safe
from grader.results import SubmissionResult, format_points
from grader.text import clean

#: The step id of the grading step, and so the reporter's runner name (``GRADER_RESULTS``).
STEP_ID = "grader"
#: Where the workflow checks out the grader and the course in the student's repository.
COURSE_PATH = ".grader-course"
WORKFLOW_PATH = Path(".github") / "workflows" / "classroom.yml"
_STATUS = {"passed": "pass", "failed": "fail", "error": "error", "timeout": "error"}


def classroom_result(result: SubmissionResult) -> dict:
    """The classroom graders' result JSON for one graded (or ungradable) submission."""
    tests = []
    for check in result.checks:
        status = _STATUS.get(check.status, "error")
        if check.visibility != "public":
            message = "hidden check" + ("" if status == "pass" else ": not passed")
        elif status == "pass":
            message = ""
        else:
            message = clean(check.message or check.status, 2000, multiline=False)
            if check.where is not None and check.where.label not in message:
                message += f" ({clean(check.where.label, 300, multiline=False)})"
        tests.append({"name": clean(check.name, 300, multiline=False), "status": status, "score": check.score,
                      "message": message, "test_code": "", "filename": clean(Path(result.file).name, 300,
                                                                            multiline=False) if result.file else "",
                      "line_no": 0, "duration": round(check.duration * 1000)})
    if result.status == "error":
        status = "error"
        if not tests:
            tests.append({"name": "grading", "status": "error", "score": 0, "message": clean(result.error or ""),
                          "test_code": "", "filename": "", "line_no": 0, "duration": 0})
        else:  # say once why, on the first test, which the reporter prints as an error
            tests[0]["message"] = clean(f"your file could not be graded: {result.error}", 2000, multiline=False)
    else:
        status = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    return json_safe({"version": 1, "status": status, "max_score": result.max_score, "tests": tests})


def failure_result(reason: str, *, max_score: float = 0.0) -> dict:
    """The result when the autograder itself failed: every point missing, the reason said."""
    return json_safe({"version": 1, "status": "error", "max_score": max_score, "tests": [{
        "name": "grading", "status": "error", "score": 0,
        "message": clean(f"The autograder could not grade this repository (not a problem with your code: "
                         f"tell the course staff): {reason}", 2000, multiline=False),
        "test_code": "", "filename": "", "line_no": 0, "duration": 0}]})


def encoded(data: dict) -> str:
    """``data`` as the reporter reads it: base64 of its JSON (one line, no newline inside)."""
    return base64.b64encode(json.dumps(json_safe(data), allow_nan=False).encode("utf-8")).decode("ascii")


def report_lines(data: dict) -> list[str]:
    """The result as the grading step's log shows it (the same facts the reporter prints)."""
    lines = []
    for test in data["tests"]:
        mark = {"pass": "✓", "fail": "✗"}.get(test["status"], "!")
        lines.append(f"{mark} {test['name']}: {format_points(test['score'] or 0)} point(s)"
                     + (f" — {test['message']}" if test["message"] else ""))
    total = sum(t["score"] or 0 for t in data["tests"])
    lines.append(f"Points {format_points(total)}/{format_points(data['max_score'] or 0)}")
    return lines


def workflow(assignment: str, *, course_repo: str, ref: str = "main", token_secret: str | None = None,
             torch_index: str) -> str:
    """``.github/workflows/classroom.yml`` for ``assignment``: check out the student's repository and
    the course's, set up Python 3.11, install the grader with its pins (torch as the CPU wheel from
    ``torch_index``), grade, then run the classroom reporter."""
    for value, pattern, what in ((course_repo, r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", "OWNER/NAME"),
                                 (ref, r"[A-Za-z0-9_./-]+", "a branch, tag or commit"),
                                 (token_secret or "X", r"[A-Za-z_][A-Za-z0-9_]*", "a secret's name"),
                                 (assignment, r"[A-Za-z0-9_.-]+", "an assignment name")):
        if not re.fullmatch(pattern, value):
            raise UsageError(f"{value!r} is not {what}; the workflow needs one (e.g. --course-repo my-org/dl-course)")
    token = f"\n          token: ${{{{ secrets.{token_secret} }}}}" if token_secret else ""
    return f"""# Written by `grader classroom init {assignment}`: GitHub Classroom's autograding for {assignment}.
# The name "Autograding Tests", the single job "run-autograding-tests" and the reporter step are
# what GitHub Classroom reads the grade from; keep them as they are.
#
# The grader and the course (its checks and reference solution) come from {course_repo}.
# Whatever this workflow can read, a student who edits it can read too: grade with Gradescope,
# PrairieLearn or `grader grade` where the checks and the reference must stay secret.
name: Autograding Tests
'on':
  - push
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 30
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - name: Check out the grader and the course
        uses: actions/checkout@v4
        with:
          repository: {course_repo}
          ref: {ref}
          path: {COURSE_PATH}{token}
      - name: Set up Python 3.11
        uses: actions/setup-python@v5
        with:
          python-version: '3.11'
      - name: Install the grader
        # torch is pinned by constraints.txt and comes alone from PyTorch's CPU-only index
        # (PyPI's Linux wheel pulls gigabytes of CUDA libraries); everything else from PyPI.
        run: |
          python -m pip install --upgrade pip
          python -m pip install --no-deps --index-url {torch_index} -c {COURSE_PATH}/constraints.txt torch
          python -m pip install -c {COURSE_PATH}/constraints.txt ./{COURSE_PATH}
      - name: Grade {assignment}
        id: {STEP_ID}
        run: grader --course {COURSE_PATH} classroom run {assignment} .
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          {STEP_ID.upper()}_RESULTS: "${{{{ steps.{STEP_ID}.outputs.result }}}}"
        with:
          runners: {STEP_ID}
"""


@dataclass
class ClassroomRun:
    """What one ``run`` did: the reporter's result and, for the log, how it came about."""

    #: The result JSON (before base64).
    data: dict
    #: The file graded, or None when there was none to grade.
    submission: Path | None = None
    result: SubmissionResult | None = None
    #: Why the autograder itself failed (an error line or a traceback), or None.
    failure: str | None = None
    missing_layers: list[str] = field(default_factory=list)


def run(assignment_name: str, target: Path, *, course_root: Path, student: str | None = None,
        forkserver=None) -> ClassroomRun:
    """Grade ``target`` (the student's file, or the repository folder to find it in) with every
    check; always returns a result for the reporter, whatever happens."""
    report = ClassroomRun(data={})
    max_score = 0.0
    try:
        assignment = get_assignment(assignment_name, Path(course_root))
        max_score = assignment.max_score()
        target = Path(target)
        try:
            path = find_submission(target, assignment.module) if target.is_dir() else target
            if not path.is_file() or path.is_symlink():
                raise SubmissionError(f"{clean(str(path), 300, multiline=False)} is not a file to grade: "
                                      f"commit {assignment.module}.py or {assignment.module}.ipynb")
        except SubmissionError as exc:
            result = ungraded(assignment, student or "student", str(exc))
        else:
            report.submission = path
            result, report.missing_layers = grade_one(assignment, path, student or path.stem, forkserver)
        report.result = result
        report.data = classroom_result(result)
    except GraderError as exc:
        report.failure = f"{type(exc).__name__}: {exc}"
        report.data = failure_result(report.failure, max_score=max_score)
    except Exception as exc:  # noqa: BLE001 - a grader bug must still give the reporter a result
        report.failure = traceback.format_exc()
        report.data = failure_result(type(exc).__name__, max_score=max_score)
    return report
