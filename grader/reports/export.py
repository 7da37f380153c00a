"""The gradebook as a table: one row per student (latest run), one column per check, as CSV or JSON.

A table is data (``Table``); ``to_csv`` and ``to_json`` only write it. Every cell a spreadsheet
could read as a formula is neutralised as OWASP recommends for CSV injection
(https://owasp.org/www-community/attacks/CSV_Injection): a text cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading single quote, so ``=HYPERLINK(…)`` as a
student id is shown, never run. Numbers stay numbers (a negative score is not a formula).
A result whose row cannot be built is not dropped in silence: it is listed in ``unplaced``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import PurePath

from grader.reports.jsonsafe import dumps
from grader.results import SubmissionResult, format_points
from grader.text import MESSAGE_LIMIT, clean, clean_name

FIXED_COLUMNS = ["student", "score", "max_score", "graded_at", "status", "file", "submitted_at",
                 "submitted_at_source", "days_late", "penalty", "error"]
#: First characters that make a spreadsheet read a cell as a formula (OWASP), and their
#: full-width forms, which some spreadsheet locales read the same way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


@dataclass(frozen=True)
class Column:
    """A column of an export: ``key`` in a row (and in JSON), ``label`` in a CSV header."""

    key: str
    label: str


@dataclass
class Unplaced:
    """A student whose grade is not in the export, and why (for a warning line)."""

    #: The student id as graded (cleaned for display).
    student: str
    reason: str


@dataclass
class Table:
    """An export: columns, rows before the students' (Canvas's ``Points Possible``), the rows."""

    columns: list[Column]
    rows: list[dict]
    #: Rows written before the students' rows, keyed like them.
    head_rows: list[dict] = field(default_factory=list)
    #: Grades that could not be placed in the table (never left out without a word).
    unplaced: list[Unplaced] = field(default_factory=list)


def csv_cell(value, *, multiline: bool = False):
    """A value as a CSV cell a spreadsheet shows literally: numbers as numbers, text cleaned of
    control characters (kept on one line unless ``multiline``) and neutralised if it could
    start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else ""
    text = clean(value, MESSAGE_LIMIT if multiline else 1 << 16)
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    # A spreadsheet may ignore leading spaces before a formula: look past them.
    return "'" + text if text.lstrip(" ").startswith(FORMULA_STARTS) else text


def number(value: float) -> str:
    """Points as an LMS reads them: ``29``, ``29.5``, ``28.3333`` (no exponent, no ``-0``)."""
    if value is None or not math.isfinite(value):
        return ""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def graded_folder(results: list[SubmissionResult]) -> str | None:
    """The deepest folder holding every result's file (the folder that was graded), or None
    when they share none (absolute and relative paths mixed, other drives)."""
    folders = [os.path.dirname(os.path.normpath(r.file)) for r in results if r.file]
    if not folders:
        return None
    try:
        common = os.path.commonpath(folders)
    except ValueError:
        return None
    return common


def shown_path(path: str, base: str | None) -> str:
    """``path`` relative to ``base`` when it lies under it, else as stored; printable either way."""
    if base is not None and path:
        normal = os.path.normpath(path)
        if os.path.isabs(normal) == os.path.isabs(base):
            relative = os.path.relpath(normal, base) if base else normal
            if not relative.startswith(os.pardir):
                path = PurePath(relative).as_posix()
    return clean_name(path, 1000)


def grade_table(results: list[SubmissionResult], *, relative_to: str | None = None) -> Table:
    """One row per result; a column per check, in the order the checks ran, labelled with its
    maximum points (``step_is_strict_at_zero (max 1)``). Files are shown relative to
    ``relative_to`` (default: the graded folder, see ``graded_folder``) where they lie under it."""
    check_max: dict[str, float] = {}
    for result in results:
        for check in result.checks or ():  # a broken row is reported below, with the others' columns
            check_max[check.name] = max(check_max.get(check.name, 0.0), float(check.max_score or 0.0))
    base = relative_to if relative_to is not None else graded_folder(results)
    table = Table(columns=[Column(c, c) for c in FIXED_COLUMNS]
                  + [Column(name, f"{name} (max {format_points(most)})") for name, most in check_max.items()],
                  rows=[])
    for result in results:
        try:
            row = {"student": clean_name(result.student), "score": result.score, "max_score": result.max_score,
                   "graded_at": result.graded_at, "status": result.status, "file": shown_path(result.file, base),
                   "submitted_at": result.submitted_at, "submitted_at_source": result.submitted_at_source,
                   "days_late": result.days_late, "penalty": result.penalty,
                   "error": clean(result.error, MESSAGE_LIMIT, multiline=False) if result.error else None}
            scores = {c.name: c.score for c in result.checks}  # (None raises: reported, not guessed)
            row.update({name: scores.get(name) for name in check_max})
        except Exception as exc:  # noqa: BLE001 - one broken row must not take the others with it
            table.unplaced.append(Unplaced(clean_name(str(getattr(result, "student", "?"))),
                                           f"its gradebook row could not be read ({type(exc).__name__}: "
                                           f"{clean_name(str(exc), 200)})"))
            continue
        table.rows.append(row)
    return table


def to_csv(table: Table, *, quote_all: bool = False, bom: bool = False, multiline: frozenset = frozenset()) -> str:
    """The table as CSV: a header of labels, the head rows, then the rows; every cell through
    ``csv_cell`` (columns in ``multiline`` may keep line breaks inside their quotes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if quote_all else "\n",
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow([csv_cell(c.label) for c in table.columns])
    for row in table.head_rows + table.rows:
        writer.writerow([csv_cell(row.get(c.key), multiline=c.key in multiline) for c in table.columns])
    return ("\ufeff" if bom else "") + buffer.getvalue()


def to_json(table: Table) -> str:
    """The rows as a JSON list of objects keyed by column key; valid UTF-8 JSON whatever they hold."""
    rows = [{c.key: row.get(c.key) for c in table.columns} for row in table.rows]
    return dumps(rows, indent=2, ensure_ascii=False) + "\n"
