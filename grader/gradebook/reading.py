"""Queries the gradebook answers, and rows turned back into results.

"Newest" is decided in SQL, with a grouped subquery (the highest run id per student, or per
submission) that SQLite and PostgreSQL run alike: no query returns every run for Python to
sort through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import JSON, Select, cast, func, or_, select, type_coerce
from sqlalchemy.orm import selectinload

from grader.gradebook.models import AssignmentRow, CheckResultRow, GradingRun, Student, SubmissionRow
from grader.results import CheckResult, Note, SubmissionResult, Where


def runs(*columns) -> Select:
    """Runs joined to their submission, student and assignment, with their checks loaded."""
    return (select(*columns)
            .join(SubmissionRow, GradingRun.submission_id == SubmissionRow.id)
            .join(Student, SubmissionRow.student_id == Student.id)
            .join(AssignmentRow, SubmissionRow.assignment_id == AssignmentRow.id)
            .options(selectinload(GradingRun.checks), selectinload(GradingRun.submission)))


def newest_run_ids(assignment: str, per, *conditions) -> Select:
    """The id of the newest run of ``assignment`` per ``per`` (a column: the student, the submission)."""
    return (select(func.max(GradingRun.id))
            .join(SubmissionRow, GradingRun.submission_id == SubmissionRow.id)
            .join(Student, SubmissionRow.student_id == Student.id)
            .join(AssignmentRow, SubmissionRow.assignment_id == AssignmentRow.id)
            .where(AssignmentRow.name == assignment, *conditions)
            .group_by(per))


def latest(assignment: str) -> Select:
    """Each student's newest run, by student."""
    return (runs(GradingRun, Student.name)
            .where(GradingRun.id.in_(newest_run_ids(assignment, SubmissionRow.student_id)))
            .order_by(Student.name))


def stale(assignment: str, version: str) -> Select:
    """Each student's newest run, where it was graded with another assignment version than
    ``version`` (or before versions were recorded)."""
    return latest(assignment).where(or_(GradingRun.assignment_version.is_(None),
                                        GradingRun.assignment_version != version))


def newest_per_submission(assignment: str, students: list[str]) -> Select:
    """The newest run of each submission (student, content) of these students."""
    return (runs(GradingRun, Student.name)
            .where(GradingRun.id.in_(newest_run_ids(assignment, SubmissionRow.id, Student.name.in_(students)))))


def in_batch(batch_id: int) -> Select:
    """(student, content hash) of every submission a batch stored a run of."""
    return (select(Student.name, SubmissionRow.content_hash).select_from(GradingRun)
            .join(SubmissionRow, GradingRun.submission_id == SubmissionRow.id)
            .join(Student, SubmissionRow.student_id == Student.id)
            .where(GradingRun.batch_id == batch_id))


@dataclass(frozen=True)
class RankedRun:
    """A student's best run by a leaderboard's metrics (``ranked``)."""

    #: The student id as graded.
    student: str
    #: 1 for the best; students whose metrics are all equal share a rank (1, 2, 2, 4).
    rank: int
    #: The run's metrics, in the order asked for (None where the run did not record one).
    values: tuple[float | None, ...]
    #: The run's id, its time (UTC, ISO) and the file it graded.
    run_id: int
    graded_at: str
    file: str


def metric_value(name: str, dialect: str):
    """A check result's metric ``name`` (stored in its JSON ``metrics``) as a float, in SQL: SQLite's
    ``json_extract``, PostgreSQL's ``->>`` on the text cast to JSON. NULL where it is missing."""
    document = type_coerce(CheckResultRow.metrics, JSON) if dialect == "sqlite" else cast(CheckResultRow.metrics, JSON)
    return document[name].as_float()


def ranked(assignment: str, check: str, metrics: list[tuple[str, str]], dialect: str,
           require: str | None = None) -> Select:
    """Each student's best graded run of ``assignment`` by ``check``'s ``metrics`` ((name, "desc" |
    "asc"), most important first; ties by the earlier run), ranked across students, best first
    (students with equal metrics share a rank, the earlier run listed first).

    Only runs whose check recorded the first metric count (and, with ``require``, a metric of that
    name other than 0). Choosing the best run and ranking are window functions: one query, whatever
    the number of runs."""
    values = [metric_value(name, dialect).label(f"m{i}") for i, (name, _) in enumerate(metrics)]
    order = [v.desc().nulls_last() if direction == "desc" else v.asc().nulls_last()
             for v, (_, direction) in zip(values, metrics)]
    conditions = [AssignmentRow.name == assignment, CheckResultRow.name == check, GradingRun.status == "graded",
                  metric_value(metrics[0][0], dialect).is_not(None)]
    if require is not None:
        conditions.append(func.coalesce(metric_value(require, dialect), 0.0) != 0.0)
    runs_ = (select(Student.name.label("student"), GradingRun.id.label("run_id"), GradingRun.graded_at,
                    SubmissionRow.path, *values,
                    func.row_number().over(partition_by=Student.id, order_by=[*order, GradingRun.id.asc()])
                    .label("place"))
             .select_from(CheckResultRow)
             .join(GradingRun, CheckResultRow.run_id == GradingRun.id)
             .join(SubmissionRow, GradingRun.submission_id == SubmissionRow.id)
             .join(Student, SubmissionRow.student_id == Student.id)
             .join(AssignmentRow, SubmissionRow.assignment_id == AssignmentRow.id)
             .where(*conditions)).subquery("runs")
    best = [runs_.c[f"m{i}"] for i in range(len(metrics))]
    best_order = [v.desc().nulls_last() if direction == "desc" else v.asc().nulls_last()
                  for v, (_, direction) in zip(best, metrics)]
    return (select(runs_.c.student, func.rank().over(order_by=best_order).label("rank"), runs_.c.run_id,
                   runs_.c.graded_at, runs_.c.path, *best)
            .where(runs_.c.place == 1)
            .order_by(*best_order, runs_.c.run_id))


def ranked_run(row) -> RankedRun:
    student, rank, run_id, graded_at, path, *values = row
    return RankedRun(student=student, rank=int(rank), values=tuple(None if v is None else float(v) for v in values),
                     run_id=int(run_id), graded_at=graded_at.isoformat(timespec="seconds"), file=path)


def newest_labels(assignment: str, check: str) -> Select:
    """(student, labels JSON) of ``check`` in each student's newest graded run of ``assignment``."""
    newest = newest_run_ids(assignment, SubmissionRow.student_id, GradingRun.status == "graded")
    return (select(Student.name, CheckResultRow.labels).select_from(CheckResultRow)
            .join(GradingRun, CheckResultRow.run_id == GradingRun.id)
            .join(SubmissionRow, GradingRun.submission_id == SubmissionRow.id)
            .join(Student, SubmissionRow.student_id == Student.id)
            .where(GradingRun.id.in_(newest), CheckResultRow.name == check))


def to_result(run: GradingRun, student: str, assignment: str) -> SubmissionResult:
    submission = run.submission
    return SubmissionResult(
        student=student, assignment=assignment, file=submission.path, content_hash=submission.content_hash,
        score=run.score, max_score=run.max_score, status=run.status, error=run.error,
        error_where=Where.from_dict(_json(run.error_where, None)), fault=run.fault,
        checks=[to_check(c) for c in run.checks],
        notes=[Note.from_dict(n) for n in _json(run.notes, [])], output=run.output, duration=run.duration,
        graded_at=run.graded_at.isoformat(timespec="seconds"), cached=True,
        submitted_at=(run.submitted_at.replace(tzinfo=timezone.utc).isoformat(timespec="seconds")
                      if run.submitted_at else None),
        submitted_at_source=run.submitted_at_source,
        days_late=run.days_late or 0.0, penalty=run.penalty or 0.0, late_by_lms=run.late_by_lms,
        assignment_version=run.assignment_version, grader_version=run.grader_version,
        numpy_version=run.numpy_version, torch_version=run.torch_version)


def to_check(row: CheckResultRow) -> CheckResult:
    where = (Where(row.where_label, row.where_cell, row.where_line, row.where_source or "")
             if row.where_label is not None else None)
    return CheckResult(name=row.name, score=row.score, max_score=row.max_score, status=row.status,
                       message=row.message, visibility=row.visibility, description=row.description,
                       duration=row.duration, reason=row.reason, where=where, metrics=_json(row.metrics, {}),
                       labels=_json(row.labels, {}),
                       fingerprint=row.fingerprint)


def json_value(text: str | None, default):
    """A JSON column's value as a dict, list or number; ``default`` when empty, not JSON, or of
    another type than ``default``."""
    value = _json(text, default)
    return value if isinstance(value, type(default)) else default


def _json(text: str | None, default):
    """A JSON column's value; ``default`` when it is empty (or not JSON: rows from before it was)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
