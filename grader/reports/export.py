"""The gradebook as a table: one row per student (latest run), one column per check."""

from __future__ import annotations

import csv
import io
import json

from grader.results import SubmissionResult

FIXED_COLUMNS = ["student", "score", "max_score", "graded_at", "status", "file", "submitted_at", "days_late", "penalty"]


def grade_table(results: list[SubmissionResult]) -> tuple[list[str], list[dict]]:
    """Columns and rows; check columns appear in the order the checks ran."""
    check_names: list[str] = []
    for result in results:
        for check in result.checks:
            if check.name not in check_names:
                check_names.append(check.name)
    rows = []
    for result in results:
        row = {"student": result.student, "score": result.score, "max_score": result.max_score,
               "graded_at": result.graded_at, "status": result.status, "file": result.file,
               "submitted_at": result.submitted_at, "days_late": result.days_late, "penalty": result.penalty}
        scores = {c.name: c.score for c in result.checks}
        row.update({name: scores.get(name) for name in check_names})
        rows.append(row)
    return FIXED_COLUMNS + check_names, rows


def to_csv(columns: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_json(columns: list[str], rows: list[dict]) -> str:
    return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2) + "\n"


def canvas_table(results: list[SubmissionResult]) -> tuple[list[str], list[dict]]:
    """The two columns a course LMS import wants: student and (final) score."""
    return ["student", "score"], [{"student": r.student, "score": r.score} for r in results]
