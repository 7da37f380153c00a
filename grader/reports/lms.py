"""Grades as an LMS gradebook imports them: Canvas, Moodle, Blackboard.

Each builder returns an ``export.Table`` laid out as the LMS's own documentation and its own
exports show, with the students the roster could not place listed in ``unplaced`` (never left
out without a word):

- **Canvas** (Grades → Import): ``Student, ID, SIS User ID, SIS Login ID, Section`` and a
  column ``<assignment title> (<assignment id>)``, then a ``    Points Possible`` row (Canvas's
  own export writes it with four leading spaces), then one row per student. Canvas matches a
  row by ``ID`` first, then SIS User ID, SIS Login ID and name, so every row comes from the
  roster (a Canvas gradebook export).
- **Moodle** (Grades → Import → CSV file): an identifier column (``Email address``,
  ``ID number`` or ``Username``: the fields Moodle's "Map to" offers), a grade column and a
  feedback column; on import, map the identifier to useremail/useridnumber/username, the grade
  to the grade item and the feedback to its feedback.
- **Blackboard** (Grade Center → Work Offline → Upload): ``Username`` and
  ``<title> [Total Pts: <points> Score] |<column id>``, every field quoted as Blackboard asks
  for comma-delimited files.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from grader.errors import ExportError
from grader.reports.export import Column, Table, Unplaced, number
from grader.reports.model import build_report, lateness_text, score_text
from grader.reports.roster import Roster, match_students
from grader.results import SubmissionResult
from grader.text import clean_name

#: Canvas's label of the row holding each assignment's points (four spaces, as Canvas writes it).
POINTS_POSSIBLE = "    Points Possible"
CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: Moodle's "Map to" identifiers, their column titles (Moodle's own names) and roster fields.
MOODLE_IDENTIFIERS = {"email": ("Email address", "email"), "idnumber": ("ID number", "idnumber"),
                      "username": ("Username", "username")}


@dataclass(frozen=True)
class GradeColumn:
    """The assignment as the LMS's gradebook names it."""

    #: The assignment's title in the LMS.
    title: str
    #: Points the assignment is worth.
    points: float
    #: The LMS's id of the assignment (Canvas) or grade column (Blackboard), if known.
    column_id: str | None = None


def _score(result: SubmissionResult) -> float:
    return round(float(result.score), 4)


def _placed(results: list[SubmissionResult], roster: Roster | None, field: str | None, what: str):
    """(result, roster entry or None) of every result that can be placed, and the unplaced."""
    if roster is None:
        return [(r, None) for r in results], []
    placed, unplaced = [], []
    for result, match in zip(results, match_students(roster, [r.student for r in results])):
        if match.entry is None:
            unplaced.append(Unplaced(clean_name(result.student), match.how))
        elif field is not None and not match.entry.get(field):
            unplaced.append(Unplaced(clean_name(result.student),
                                     f"roster line {match.entry.line} has no {what}"))
        else:
            placed.append((result, match.entry))
    return placed, unplaced


def roster_column_id(roster: Roster | None, title: str, pattern: str) -> str | None:
    """The id in the roster's header column for ``title`` (``pattern`` captures title and id), if exactly one."""
    if roster is None:
        return None
    found = {m.group(2) for h in roster.header if (m := re.fullmatch(pattern, h.strip()))
             and m.group(1).strip().casefold() == title.strip().casefold()}
    return found.pop() if len(found) == 1 else None


def canvas_table(results: list[SubmissionResult], roster: Roster, column: GradeColumn) -> Table:
    """Canvas's gradebook import CSV for one assignment, every student from ``roster``."""
    column_id = column.column_id or roster_column_id(roster, column.title, r"(.*)\((\d+)\)")
    if not column_id:
        raise ExportError(f"the Canvas assignment id of {column.title!r} is not known: pass --column-id ID (the "
                          "number at the end of the assignment's address in Canvas, or in its gradebook export's "
                          f"column title '{column.title} (ID)')")
    grade = f"{column.title} ({column_id})"
    columns = [Column(c, c) for c in CANVAS_STUDENT_COLUMNS] + [Column("grade", grade)]
    placed, unplaced = _placed(results, roster, None, "")
    rows = []
    for result, entry in placed:
        rows.append({"Student": entry.display_name, "ID": entry.get("canvas_id"),
                     "SIS User ID": entry.get("sis_user_id"), "SIS Login ID": entry.get("sis_login_id"),
                     "Section": entry.get("section"), "grade": _score(result)})
        if not (entry.get("canvas_id") or entry.get("sis_user_id") or entry.get("sis_login_id")):
            unplaced.append(Unplaced(clean_name(result.student), f"roster line {entry.line} has no ID, "
                                     "SIS User ID or SIS Login ID for Canvas to match (pass a Canvas gradebook export)"))
            rows.pop()
    head = {"Student": POINTS_POSSIBLE, "grade": float(column.points)}
    return Table(columns=columns, rows=rows, head_rows=[head], unplaced=unplaced)


def feedback_text(result: SubmissionResult, title: str = "") -> str:
    """A short plain-text summary for an LMS feedback field: the score, lateness, and each check
    not passed (public ones with their message; hidden ones by name only, as in the reports)."""
    report = build_report(result, title=title)
    lines = [score_text(report) + "."]
    late = lateness_text(report)
    if late:
        lines.append(late)
    if report.error is not None:
        lines.append(f"Your file could not be graded: {report.error.text}")
    for check in report.checks:
        if check.passed:
            continue
        if check.hidden:
            lines.append(f"✗ {check.name} (hidden check)")
        else:
            message = " ".join(check.message.text.split()) if check.message else check.outcome
            lines.append(f"✗ {check.name}: {message}")
    return "\n".join(lines)


def moodle_table(results: list[SubmissionResult], roster: Roster | None, column: GradeColumn, *,
                 identifier: str = "email") -> Table:
    """Moodle's CSV grade import: identifier, grade, feedback (Moodle renders feedback as HTML,
    so it is escaped). Without a roster the grader's student ids are taken as the identifiers."""
    label, field = MOODLE_IDENTIFIERS[identifier]
    columns = [Column("id", label), Column("grade", column.title), Column("feedback", f"{column.title} (feedback)")]
    placed, unplaced = _placed(results, roster, field, label)
    rows = [{"id": entry.get(field) if entry is not None else clean_name(result.student), "grade": _score(result),
             "feedback": html.escape(feedback_text(result, column.title), quote=False)}
            for result, entry in placed]
    return Table(columns=columns, rows=rows, unplaced=unplaced)


def blackboard_table(results: list[SubmissionResult], roster: Roster | None, column: GradeColumn) -> Table:
    """Blackboard's Grade Center upload: ``Username`` and the grade column with its points and id.
    Without a roster the grader's student ids are taken as usernames."""
    column_id = column.column_id or roster_column_id(roster, column.title, r"(.*)\[Total Pts:[^\]]*\]\s*\|(\d+)")
    if not column_id:
        raise ExportError(f"the Blackboard column id of {column.title!r} is not known: pass --column-id ID (the "
                          "number after '|' in the column's title in a Grade Center download, "
                          f"'{column.title} [Total Pts: {number(column.points)} Score] |ID')")
    grade = f"{column.title} [Total Pts: {number(column.points)} Score] |{column_id}"
    placed, unplaced = _placed(results, roster, "username", "Username")
    rows = [{"Username": entry.get("username") if entry is not None else clean_name(result.student),
             "grade": _score(result)} for result, entry in placed]
    return Table(columns=[Column("Username", "Username"), Column("grade", grade)], rows=rows, unplaced=unplaced)
