"""The report model: what one student's feedback shows, already filtered for hidden checks.

``build_report`` turns a stored result into a ``Report``; the renderers (``markdown``, ``html``,
``annotated``) only format it. Rules that hold for every report:

- Hidden checks show their name, points and pass/fail only. Their message, description and
  status detail are never rendered, not even escaped: a message can quote hidden inputs.
- Student-controlled text (messages, notes, output, file names, ids) arrives here cleaned of
  control characters and install paths; each renderer escapes it for its medium.
- The student's printed output is left out unless asked for: it is one stream for the whole
  run, so a function that prints its arguments would print the hidden checks' inputs too.
- Where a message points in the file comes from the result's ``where`` fields, never from
  the message text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from grader.reports.source import SubmissionSource, functions_for, student_calls
from grader.results import CheckResult, SubmissionResult, Where, format_points
from grader.text import EXCERPT_LIMIT, clean, clean_name

#: Characters of the student's printed output a report shows; the rest is counted, not shown.
OUTPUT_LIMIT = 4000

MARKS = {True: "✓", False: "✗"}

# Where installed packages live ("/…/site-packages/numpy/x.py" is shown as "numpy/x.py"), and
# the grader's own folder (shown as "<grader>"): a warning or stack the student prints names them.
_SITE_PACKAGES = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\"':]*[\\/])?(?:site|dist)-packages[\\/]")
_GRADER_DIR = str(Path(__file__).resolve().parent.parent)


@dataclass
class Marked:
    """A piece of student-facing text with the place it points at, if any."""

    text: str
    #: Where the text points in the submission.
    where: Where | None = None

    @property
    def excerpt(self) -> str:
        """The student's own source line there (empty if unknown)."""
        return self.where.source if self.where is not None else ""


@dataclass
class CheckFeedback:
    """One check as a student may see it."""

    name: str
    score: float
    max_score: float
    passed: bool
    hidden: bool
    #: ``passed``, ``failed``, ``error`` or ``timed out``; hidden checks only ``passed``/``failed``.
    outcome: str
    #: What the check is about; empty for hidden checks.
    description: str = ""
    #: Why it did not pass, with the place it points at; None when passed or hidden.
    message: Marked | None = None
    #: Student functions this check exercises, most specific first (for placing it in the notebook).
    functions: tuple[str, ...] = ()


@dataclass
class Report:
    """Everything one student's feedback shows, already filtered for hidden checks."""

    student: str
    assignment: str
    #: The assignment's title (its name if the course is not at hand).
    title: str
    #: The submitted file's name (not its path on the grading machine).
    file_name: str
    score: float
    max_score: float
    #: Why the file could not be graded at all, or None.
    error: Marked | None
    checks: list[CheckFeedback]
    #: Cells or statements that raised, hung or were skipped.
    notes: list[Marked]
    #: The student's printed output, control characters removed, at most ``OUTPUT_LIMIT`` characters.
    output: str
    #: Characters of output not shown.
    output_omitted: int
    graded_at: str | None = None
    submitted_at: str | None = None
    #: Where ``submitted_at`` came from (``mtime``: the file's own time, which the student sets).
    submitted_at_source: str | None = None
    days_late: float = 0.0
    #: Points deducted for lateness.
    penalty: float = 0.0
    #: True for a ``.ipynb`` submission.
    is_notebook: bool = False


def printable(text: str) -> str:
    """Student-facing text without control characters (ANSI escapes included) or the grading
    machine's install paths."""
    text = clean(text, 1 << 20)
    return _SITE_PACKAGES.sub("", text).replace(_GRADER_DIR, "<grader>")


def _mark(text: str, where: Where | None, source: SubmissionSource | None) -> Marked:
    if where is not None:
        # Results stored before excerpts were: the graded file, if it is still there, has the line.
        excerpt = where.source or (source.line(where) if source is not None else "")
        where = Where(printable(where.label), where.cell, where.line,
                      clean(printable(excerpt), EXCERPT_LIMIT, multiline=False))
    return Marked(printable(text), where)


def _outcome(check: CheckResult) -> str:
    if check.status == "passed":
        return "passed"
    if check.visibility == "hidden":
        return "failed"
    return "timed out" if check.status == "timeout" else check.status


def build_report(result: SubmissionResult, *, title: str = "", checks: Sequence = (),
                 include_output: bool = False, source: SubmissionSource | None = None) -> Report:
    """The feedback for one result, with hidden checks reduced to name, points and pass/fail.

    ``checks`` are the assignment's ``Check`` objects, if at hand: their source tells which
    student functions each check calls. ``source`` is the graded file (for quoting lines of
    results stored without them, and for placing checks in the notebook).
    """
    calls = {c.name: student_calls(c.function) for c in checks}
    candidates = source.defined_functions() if source is not None else {}
    items = []
    for check in result.checks:
        hidden = check.visibility == "hidden"
        passed = check.status == "passed"
        # A check that was not graded because the file could not be: said once, for the file.
        said_for_the_file = check.reason == "submission_error" and result.error is not None
        items.append(CheckFeedback(
            name=check.name, score=check.score, max_score=check.max_score, passed=passed, hidden=hidden,
            outcome=_outcome(check),
            description="" if hidden else printable(check.description),
            message=None if hidden or passed or not check.message or said_for_the_file
            else _mark(check.message, check.where, source),
            functions=functions_for(check, calls.get(check.name, ()), candidates)))
    output = printable(result.output or "") if include_output else ""
    shown = output[:OUTPUT_LIMIT]
    return Report(
        student=clean_name(result.student), assignment=result.assignment, title=title or result.assignment,
        file_name=clean_name(Path(result.file).name), score=result.score, max_score=result.max_score,
        error=_mark(result.error, result.error_where, source) if result.error else None, checks=items,
        notes=[_mark(note.text, note.where, source) for note in result.notes],
        output=shown, output_omitted=len(output) - len(shown),
        graded_at=result.graded_at, submitted_at=result.submitted_at,
        submitted_at_source=result.submitted_at_source,
        days_late=float(result.days_late or 0.0), penalty=float(result.penalty or 0.0),
        is_notebook=Path(result.file).suffix == ".ipynb")


def score_text(report: Report) -> str:
    """``27 / 32 points`` (and what it was before a late penalty)."""
    text = f"{format_points(report.score)} / {format_points(report.max_score)} points"
    if report.penalty > 0:
        text += f" ({format_points(report.score + report.penalty)} before the late penalty)"
    return text


def lateness_text(report: Report) -> str:
    """``Submitted 2026-09-20T10:00:00, 1.5 days late: 3 points deducted.`` or ''."""
    if report.days_late <= 0 and report.penalty <= 0:
        return ""
    parts = []
    if report.days_late > 0:
        days = report.days_late
        parts.append(f"{days * 24:.1f} hours late" if days < 1 else f"{days:.1f} days late")
    if report.penalty > 0:
        parts.append(f"{format_points(report.penalty)} point{'s' if report.penalty != 1 else ''} deducted")
    when = f"Submitted {report.submitted_at}, " if report.submitted_at else "Submitted "
    text = when + ": ".join(parts) + "."
    if report.submitted_at_source == "mtime":
        text += " (The time is the file's own modification time.)"
    return text
