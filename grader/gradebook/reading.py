"""Queries the gradebook answers, and rows turned back into results.

"Newest" is decided in SQL, with a grouped subquery (the highest run id per student, or per
submission) that SQLite and PostgreSQL run alike: no query returns every run for Python to
sort through.
"""

from __future__ import annotations

import json
from datetime import timezone

from sqlalchemy import Select, func, or_, select
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


def _json(text: str | None, default):
    """A JSON column's value; ``default`` when it is empty (or not JSON: rows from before it was)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
