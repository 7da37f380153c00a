"""A gradebook opened for reading only, and the latest run of each student.

Analytics must never change a course's grades, so they do not go through ``Gradebook`` (which
creates a new database's tables): the connection itself is read-only. SQLite opens the file
with ``mode=ro``; PostgreSQL sessions start with ``default_transaction_read_only``, so even a
bug here could not write.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from grader.errors import GradebookError
from grader.gradebook.models import AssignmentRow, GradingRun, Student, SubmissionRow
from grader.gradebook.schema import schema_state
from grader.gradebook.store import BUSY_TIMEOUT_MS, database_url


class ReadOnlyGradebook:
    """A gradebook database, read through a read-only connection."""

    def __init__(self, db: str):
        url = database_url(db)
        #: The database as people should see it: a SQLite path, or a URL without its password.
        self.where = db if "://" not in db else url.split("@")[-1]
        with self.errors():
            if url.startswith("sqlite:///"):
                path = Path(url.removeprefix("sqlite:///"))
                if not path.is_file():
                    raise GradebookError(f"no gradebook at {db}; grade something first (grader grade ASSIGNMENT ... --db {db})")
                self.engine: Engine = create_engine("sqlite://", creator=_sqlite_read_only(path), poolclass=NullPool)
            else:
                options = {"connect_args": {"options": "-c default_transaction_read_only=on"}} \
                    if url.startswith("postgresql") else {}
                self.engine = create_engine(url, poolclass=NullPool, **options)
            try:
                with self.engine.connect() as connection:
                    state = schema_state(connection)
            except BaseException:
                self.engine.dispose()
                raise
        if state.kind == "new":
            self.close()
            raise GradebookError(f"{self.where} holds no gradebook yet; grade something first")
        if state.kind != "current":
            self.close()
            revision = f"schema revision {state.revision}" if state.revision else "a schema from before versions"
            raise GradebookError(f"the gradebook {self.where} has {revision}; this grader reads only its own "
                                 f"schema: run grader db upgrade --db {db} (back the gradebook up first)")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "ReadOnlyGradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def errors(self):
        """Database failures as one readable ``GradebookError``."""
        try:
            yield
        except (DBAPIError, ArgumentError, NoSuchModuleError, ModuleNotFoundError, OSError) as exc:
            if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("psycopg"):
                raise GradebookError(f"the gradebook {self.where} needs the PostgreSQL driver: "
                                     "pip install 'grader[postgres]'") from None
            original = getattr(exc, "orig", None) or exc
            text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
            if "not a database" in text or "malformed" in text:
                raise GradebookError(f"{self.where} is not a gradebook (not a valid SQLite database)") from None
            raise GradebookError(f"gradebook {self.where}: {text}") from None

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


def _sqlite_read_only(path: Path):
    # A URI so that SQLite itself refuses writes; quote() keeps odd characters of the path (?, #, %).
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"

    def connect():
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return connection

    return connect


def latest_runs(assignment: str):
    """A subquery of each student's most recent run of ``assignment``: ``run_id``, ``student``
    (the name), ``submission_id`` (that run's submission). The same runs as ``Gradebook.latest``."""
    newest = (select(SubmissionRow.student_id, func.max(GradingRun.id).label("run_id"))
              .join(GradingRun, GradingRun.submission_id == SubmissionRow.id)
              .join(AssignmentRow, SubmissionRow.assignment_id == AssignmentRow.id)
              .where(AssignmentRow.name == assignment)
              .group_by(SubmissionRow.student_id)).subquery("newest")
    return (select(newest.c.run_id, Student.name.label("student"), GradingRun.submission_id)
            .join(Student, Student.id == newest.c.student_id)
            .join(GradingRun, GradingRun.id == newest.c.run_id)).subquery("latest")
