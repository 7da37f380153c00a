"""Gradescope's ``results.json`` for one graded (or ungradable) submission.

What students see: per check, its description and, for public checks, the message
``grader check`` would show and the place in their file it points at (from the result's
``where``). Hidden checks are listed with visibility ``after_published`` and say only whether
they passed and how they failed, never their inputs or messages; the student's own printed
output (which may echo hidden inputs) stays out of results.json. Gradescope renders these
texts as Markdown, so text from checks and from the student's file is escaped, and messages go
into fenced code blocks, where nothing renders.
"""

from __future__ import annotations

import math
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from grader.course.assignment import Assignment
from grader.course.leaderboard import LeaderboardSpec, leaderboard_spec
from grader.results import CheckResult, SubmissionResult, format_points
from grader.text import clean

#: Gradescope's visibility for our public and hidden checks.
VISIBILITY = {"public": "visible", "hidden": "after_published"}
_HOW_FAILED = {"failed": "wrong answer", "error": "an error (an exception, a missing function or a crash)",
               "timeout": "time limit exceeded"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!&])")
_MD_LINE_START = re.compile(r"(?m)^(\s*)([-+=]|\d+[.)])")


def md_text(text: str) -> str:
    """``text`` as literal Markdown: no emphasis, links, HTML, headings or lists."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\" + m.group(2)[-1]), escaped)


def md_code_block(text: str) -> str:
    """``text`` verbatim in a fenced block (the fence is longer than any run of backticks inside)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"



def check_output(check: CheckResult) -> str:
    """A check's ``output`` in results.json (Markdown)."""
    parts = [f"**{md_text(clean(check.description, multiline=False))}**"] if check.description else []
    if check.status == "passed":
        parts.append("Passed.")
    elif check.reason == "submission_error":
        parts.append("Not graded: your file could not be run (see the top of the results).")
    elif check.visibility != "public":
        parts.append(f"Not passed: {_HOW_FAILED.get(check.status, check.status)}. "
                     "The details of hidden checks are not shown.")
    else:
        parts.append(f"Not passed: {_HOW_FAILED.get(check.status, check.status)}.")
        if check.message:
            parts.append(md_code_block(clean(check.message)))
            if check.where is not None:
                parts.append(f"**Where in your file:** {md_text(clean(check.where.label, multiline=False))}")
    return "\n\n".join(parts)



def heading(title: str) -> str:
    return f"## {md_text(title)}"


def summary_output(result: SubmissionResult, assignment: Assignment | None, *, student_note: str = "",
                   leaderboard_note: str = "") -> str:
    """The top-level ``output`` of results.json (Markdown): what was graded and for which student id,
    notes, errors."""
    title = assignment.title if assignment is not None else result.assignment
    parts = [heading(title)] + ([student_note] if student_note else [])
    if result.file:
        parts.append(f"Graded your file {md_text(clean(Path(result.file).name, multiline=False))}.")
    if result.error:
        parts.append("**Nothing could be graded:**")
        parts.append(md_code_block(clean(result.error)))
        return "\n\n".join(parts)
    public = [c for c in result.checks if c.visibility == "public"]
    hidden = [c for c in result.checks if c.visibility != "public"]
    parts.append(f"**Public checks: {format_points(sum(c.score for c in public))} / "
                 f"{format_points(sum(c.max_score for c in public))} points.**")
    if hidden:
        parts.append(f"{len(hidden)} hidden check(s) worth {format_points(sum(c.max_score for c in hidden))} points "
                     "were graded too; their results appear when grades are published.")
    if result.notes:
        notes = "\n".join(f"- {md_text(clean(note.text, multiline=False))}" for note in result.notes)
        parts.append(f"**Notes on your file** (grading went on regardless):\n\n{notes}")
    if leaderboard_note:
        parts.append(leaderboard_note)
    return "\n\n".join(parts)


def points(value) -> float:
    """A score as Gradescope takes it: a finite float (a NaN or infinity from a broken row is 0)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def leaderboard_entries(result: SubmissionResult, spec: LeaderboardSpec | None) -> tuple[list[dict] | None, str]:
    """The ``leaderboard`` of results.json (``[{"name": "Accuracy", "value": 0.97}, {"name": ...,
    "value": 12.3, "order": "asc"}]``, from the metrics of the leaderboard's check), and a note for
    the student when the run is not ranked. ``(None, "")`` without a leaderboard or its metrics."""
    if spec is None or result.status != "graded":
        return None, ""
    check = next((c for c in result.checks if c.name == spec.check), None)
    if check is None or spec.metrics[0].name not in check.metrics:
        return None, ""
    if spec.require is not None and not check.metrics.get(spec.require.metric):
        return None, f"This submission is not on the leaderboard: {md_text(spec.require.reason)}."
    entries = []
    for metric in spec.metrics:
        if metric.name in check.metrics:
            value = points(check.metrics[metric.name])
            entry = {"name": metric.label, "value": int(value) if value.is_integer() and abs(value) >= 1 else value}
            if metric.order == "asc":
                entry["order"] = "asc"
            entries.append(entry)
    return entries, ""


def results_json(result: SubmissionResult, assignment: Assignment | None = None, *,
                 execution_time: float | None = None, student_note: str = "") -> dict:
    """Gradescope's results.json for one graded (or ungradable) submission. ``student_note`` (Markdown)
    says which student id it was graded as; it opens the output, under the title. An assignment
    with a ``[leaderboard]`` gets its ``leaderboard`` entries."""
    entries, leaderboard_note = leaderboard_entries(result, leaderboard_spec(assignment) if assignment else None)
    tests = [{
        "name": clean(check.name, 300, multiline=False),
        "number": str(number),
        "score": points(check.score),
        "max_score": points(check.max_score),
        "status": "passed" if check.status == "passed" else "failed",
        "output": check_output(check),
        "output_format": "md",
        "visibility": VISIBILITY.get(check.visibility, "after_published"),
    } for number, check in enumerate(result.checks, start=1)]
    data = {
        "score": points(result.score),
        "execution_time": int(math.ceil(points(execution_time if execution_time is not None else result.duration))),
        "output": summary_output(result, assignment, student_note=student_note, leaderboard_note=leaderboard_note),
        "output_format": "md",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"student": result.student, "file": Path(result.file).name if result.file else None,
                       "content_hash": result.content_hash or None, "status": result.status,
                       "grader_version": _grader_version()},
    }
    if entries is not None:
        data["leaderboard"] = entries
    return data


def _grader_version() -> str | None:
    try:
        return version("grader")
    except PackageNotFoundError:
        return None


def failure_json(reason: str, *, student: str, assignment: str) -> dict:
    """results.json when the autograder itself failed: score 0, nothing blamed on the student."""
    return {
        "score": 0.0, "execution_time": 0,
        "output": ("**The autograder could not grade your submission.** This is not a problem with your "
                   "submission: please tell the course staff.\n\n" + md_code_block(reason)),
        "output_format": "md", "stdout_visibility": "hidden", "tests": [],
        "extra_data": {"student": student, "assignment": assignment, "status": "autograder error"},
    }
