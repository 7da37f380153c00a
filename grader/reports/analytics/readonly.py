"""The gradebook as analytics read it: opened read-only, and the latest run of each student.

Analytics must never change a course's grades: they open the gradebook through
``Gradebook.open(..., read_only=True)``, whose connection itself is read-only (SQLite opens the
file with ``mode=ro``, PostgreSQL sessions start read-only), so even a bug here could not write.
"""

from __future__ import annotations

from sqlalchemy import func, select

from grader.errors import GradebookError
from grader.gradebook import Gradebook
from grader.gradebook.models import AssignmentRow, GradingRun, Student, SubmissionRow
from grader.gradebook.reading import newest_run_ids


class ReadOnlyGradebook:
    """A gradebook database, read through a read-only connection."""

    def __init__(self, db: str, assignment: str | None = None):
        self._gradebook = Gradebook.open(db, must_exist=True, read_only=True, assignment=assignment)
        #: The database as people should see it: a SQLite path, or a URL without its password.
        self.where = self._gradebook.where
        self.engine = self._gradebook.engine

    def close(self) -> None:
        self._gradebook.close()

    def __enter__(self) -> "ReadOnlyGradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def errors(self):
        """Database failures as one readable ``GradebookError``."""
        return self._gradebook.errors()

    def execute(self, statement) -> list:
        """All rows of one read-only query."""
        with self.errors(), self.engine.connect() as connection:
            return connection.execute(statement).all()

    def require_grades(self, assignment: str) -> int:
        """The number of students with a grade for ``assignment``; a ``GradebookError`` if none."""
        count, = self.execute(select(func.count()).select_from(latest_runs(assignment)))[0]
        if not count:
            known = [name for name, in self.execute(select(AssignmentRow.name).order_by(AssignmentRow.name))]
            hint = f" (it has: {', '.join(known)})" if known else " (it has no grades at all)"
            raise GradebookError(f"the gradebook {self.where} has no grades for {assignment!r}{hint}")
        return count


def latest_runs(assignment: str):
    """A subquery of each student's most recent run of ``assignment``: ``run_id``, ``student``
    (the name), ``submission_id`` (that run's submission): the runs ``Gradebook.latest`` reads."""
    newest = newest_run_ids(assignment, SubmissionRow.student_id).subquery("newest")
    return (select(GradingRun.id.label("run_id"), Student.name.label("student"), GradingRun.submission_id)
            .join(SubmissionRow, GradingRun.submission_id == SubmissionRow.id)
            .join(Student, Student.id == SubmissionRow.student_id)
            .where(GradingRun.id.in_(select(newest.c[0])))).subquery("latest")
