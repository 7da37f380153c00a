"""Reading and writing the gradebook. Only the coordinating process writes.

Each stored result is one transaction: the student, the submission (student, assignment,
content hash), the run and all its check results appear together or not at all, so an
interrupted batch leaves no half-written submission and rerunning finishes the rest.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import bindparam, create_engine, event, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, selectinload

from grader.errors import GradebookError
from grader.gradebook.schema import prepare as prepare_schema
from grader.gradebook.models import AssignmentRow, CheckResultRow, GradingRun, Student, SubmissionRow
from grader.results import CheckResult, Note, SubmissionResult, Where

BUSY_TIMEOUT_MS = 10_000
#: Times a result's transaction is tried when it collides with another writer's.
WRITE_ATTEMPTS = 5


def database_url(db: str) -> str:
    """A SQLAlchemy URL for ``db``: a URL as given, or a path to a SQLite file.

    A bare ``postgresql://`` (or ``postgres://``) URL uses psycopg 3, the driver of the
    ``postgres`` extra, whichever SQLAlchemy 2 release is installed.
    """
    if "://" in db:
        scheme, rest = db.split("://", 1)
        return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def _switch_to_wal(cursor, busy_timeout_ms: int) -> None:
    """Put the database in WAL mode, once. The switch needs an exclusive lock for which SQLite
    does not wait (no busy handler), so two graders opening a new gradebook at the same moment
    would collide: retry it within the busy timeout instead."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _sqlite_pragmas(busy_timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _switch_to_wal(cursor, busy_timeout_ms)
        # With WAL, NORMAL never corrupts the database; a power cut may lose the last commits,
        # which a rerun regrades. It saves an fsync per stored submission.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return on_connect


def _collided(error: DBAPIError) -> bool:
    """Another writer got there first (the same new student, a deadlock): rerunning will succeed."""
    original = error.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
    if code in ("23505", "40001", "40P01", "SQLITE_CONSTRAINT_UNIQUE"):
        return True
    words = str(original).lower()
    return isinstance(error, IntegrityError) and ("unique" in words or "duplicate" in words)


def _utc(moment: str | None) -> datetime | None:
    """A naive UTC datetime (how the gradebook stores times) from an ISO string with offset."""
    if moment is None:
        return None
    return datetime.fromisoformat(moment).astimezone(timezone.utc).replace(tzinfo=None)


class Gradebook:
    """A gradebook database at a SQLAlchemy URL (a SQLite file by default).

    Opening creates a new database's tables; one whose schema is older must be upgraded first,
    which ``upgrade=True`` (``grader db upgrade``) does (see ``grader.gradebook.schema``).
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, upgrade: bool = False):
        self.url = url
        self._busy_timeout_ms = busy_timeout_ms
        self._ids: dict[tuple[str, str], int] = {}  # (table, name) -> id of students and assignments
        self._titles: dict[str, str] = {}  # assignment -> title already stored
        self._where = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.split("@")[-1]
        with self._errors():
            self._engine: Engine = create_engine(url)
            pragmas = None
            if self._engine.dialect.name == "sqlite":
                pragmas = _sqlite_pragmas(busy_timeout_ms)
                event.listen(self._engine, "connect", pragmas)
            # Refusals name the database as --db takes it (a SQLite path, or the URL without password).
            db_option = self._where if url.startswith("sqlite:///") else \
                self._engine.url.render_as_string(hide_password=True)
            try:
                #: Where the schema stood before this open created or upgraded it.
                self.schema_before = prepare_schema(self._engine, where=db_option, upgrade=upgrade,
                                                    on_connect=pragmas)
            except BaseException:
                self._engine.dispose()
                raise

    @property
    def where(self) -> str:
        """The database as people should see it: a SQLite path, or a URL without its password."""
        return self._where

    @classmethod
    def open(cls, db: str, **options) -> "Gradebook":
        return cls(database_url(db), **options)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _errors(self):
        """Turn database failures into one readable GradebookError."""
        try:
            yield
        except (DBAPIError, ArgumentError, NoSuchModuleError, ModuleNotFoundError, OSError) as exc:
            if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("psycopg"):
                raise GradebookError(f"the gradebook {self._where} needs the PostgreSQL driver: "
                                     "pip install 'grader[postgres]'") from None
            original = getattr(exc, "orig", None) or exc
            text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
            if "locked" in text or "busy" in text:
                raise GradebookError(f"the gradebook {self._where} is locked by another process "
                                     f"(waited {self._busy_timeout_ms / 1000:g} s); try again when it has finished") from None
            if "unable to open" in text:
                raise GradebookError(f"cannot open the gradebook {self._where}: check that its folder exists "
                                     "and is writable") from None
            if "not a database" in text or "malformed" in text:
                raise GradebookError(f"{self._where} is not a gradebook (not a valid SQLite database)") from None
            raise GradebookError(f"gradebook {self._where}: {text}") from None

    # --- writing -----------------------------------------------------------------------------

    def _id_of(self, connection, table, name: str, known: dict) -> int:
        """The id of the student or assignment called ``name``, adding it if new.

        Ids are remembered across writes (rows are never deleted), but only once the
        transaction that saw them commits: ``known`` collects this transaction's."""
        key = (table.name, name)
        if key in self._ids:
            return self._ids[key]
        row_id = connection.scalar(_ID_BY_NAME[table.name], {"name": name})
        if row_id is None:
            row_id = connection.execute(_ADD_NAMED[table.name], {"name": name}).scalar_one()
        known[key] = row_id
        return row_id

    def record(self, result: SubmissionResult, *, title: str = "") -> SubmissionResult:
        """Store one result as a new run (one transaction); returns it with ``graded_at`` set."""
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with self._errors():
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                try:
                    self._write(result, title, now)
                    break
                except DBAPIError as error:
                    if attempt == WRITE_ATTEMPTS or not _collided(error):
                        raise
        result.graded_at = now.isoformat(timespec="seconds")
        return result

    def _write(self, result: SubmissionResult, title: str, now: datetime) -> None:
        # SQLAlchemy Core on prebuilt statements (below the class), not the ORM: the coordinator
        # writes every result of a batch while the workers grade, and building statements per
        # write cost ten times SQLite's own work for them.
        known: dict = {}
        with self._engine.begin() as connection:
            student_id = self._id_of(connection, _STUDENTS, result.student, known)
            assignment_id = self._id_of(connection, _ASSIGNMENTS, result.assignment, known)
            if title and self._titles.get(result.assignment) != title:
                connection.execute(_SET_TITLE, {"row_id": assignment_id, "new_title": title})
            submission = {"student_id": student_id, "assignment_id": assignment_id,
                          "content_hash": result.content_hash}
            submission_id = connection.scalar(_FIND_SUBMISSION, submission)
            if submission_id is None:
                submission_id = connection.execute(
                    _ADD_SUBMISSION, dict(submission, path=result.file, submitted_at=now)).scalar_one()
            run_id = connection.execute(_ADD_RUN, {
                "submission_id": submission_id, "graded_at": now, "score": result.score,
                "max_score": result.max_score, "status": result.status, "error": result.error,
                "error_where": _where_json(result.error_where), "fault": result.fault,
                "notes": json.dumps([asdict(note) for note in result.notes]), "output": result.output,
                "duration": result.duration, "submitted_at": _utc(result.submitted_at),
                "submitted_at_source": result.submitted_at_source, "days_late": result.days_late,
                "penalty": result.penalty}).scalar_one()
            if result.checks:
                connection.execute(_ADD_CHECK, [_check_row(run_id, i, c) for i, c in enumerate(result.checks)])
        self._ids.update(known)
        if title:
            self._titles[result.assignment] = title

    # --- reading -----------------------------------------------------------------------------

    @staticmethod
    def _runs(*columns):
        """A query over runs joined to their submission, student and assignment."""
        return (select(*columns)
                .join(SubmissionRow, GradingRun.submission_id == SubmissionRow.id)
                .join(Student, SubmissionRow.student_id == Student.id)
                .join(AssignmentRow, SubmissionRow.assignment_id == AssignmentRow.id)
                .options(selectinload(GradingRun.checks), selectinload(GradingRun.submission)))

    @staticmethod
    def _to_result(run: GradingRun, student: str, assignment: str) -> SubmissionResult:
        submission = run.submission
        return SubmissionResult(
            student=student, assignment=assignment, file=submission.path, content_hash=submission.content_hash,
            score=run.score, max_score=run.max_score, status=run.status, error=run.error,
            error_where=Where.from_dict(_json(run.error_where, None)), fault=run.fault,
            checks=[_to_check(c) for c in run.checks],
            notes=[Note.from_dict(n) for n in _json(run.notes, [])], output=run.output, duration=run.duration,
            graded_at=run.graded_at.isoformat(timespec="seconds"), cached=True,
            submitted_at=(run.submitted_at.replace(tzinfo=timezone.utc).isoformat(timespec="seconds")
                          if run.submitted_at else None),
            submitted_at_source=run.submitted_at_source,
            days_late=run.days_late or 0.0, penalty=run.penalty or 0.0)

    def graded(self, assignment: str) -> set[tuple[str, str]]:
        """(student, content hash) of every submission of ``assignment`` graded at least once."""
        with self._errors(), Session(self._engine) as session:
            rows = session.execute(
                select(Student.name, SubmissionRow.content_hash).select_from(SubmissionRow)
                .join(Student, SubmissionRow.student_id == Student.id)
                .join(AssignmentRow, SubmissionRow.assignment_id == AssignmentRow.id)
                .where(AssignmentRow.name == assignment, SubmissionRow.runs.any())).all()
            return {(student, digest) for student, digest in rows}

    def find(self, student: str, assignment: str, content_hash: str) -> SubmissionResult | None:
        """The latest run of exactly this content, or None if it was never graded."""
        with self._errors(), Session(self._engine) as session:
            run = session.scalars(
                self._runs(GradingRun)
                .where(Student.name == student, AssignmentRow.name == assignment,
                       SubmissionRow.content_hash == content_hash)
                .order_by(GradingRun.id.desc()).limit(1)).first()
            return None if run is None else self._to_result(run, student, assignment)

    def latest(self, assignment: str) -> list[SubmissionResult]:
        """Each student's most recent run for ``assignment``, ordered by student."""
        with self._errors(), Session(self._engine) as session:
            rows = session.execute(
                self._runs(GradingRun, Student.name)
                .where(AssignmentRow.name == assignment)
                .order_by(Student.name, GradingRun.id)).all()
            newest: dict[str, GradingRun] = {}
            for run, student in rows:
                newest[student] = run
            return [self._to_result(run, student, assignment) for student, run in newest.items()]

    def history(self, assignment: str, student: str) -> list[SubmissionResult]:
        """Every run of a student's submissions for ``assignment``, oldest first."""
        with self._errors(), Session(self._engine) as session:
            runs = session.scalars(
                self._runs(GradingRun)
                .where(AssignmentRow.name == assignment, Student.name == student)
                .order_by(GradingRun.id)).all()
            return [self._to_result(run, student, assignment) for run in runs]

    def assignments(self) -> list[str]:
        with self._errors(), Session(self._engine) as session:
            return list(session.scalars(select(AssignmentRow.name).order_by(AssignmentRow.name)))


def _check_row(run_id: int, position: int, check: CheckResult) -> dict:
    where = check.where
    return {"run_id": run_id, "position": position, "name": check.name, "score": check.score,
            "max_score": check.max_score, "status": check.status, "message": check.message,
            "visibility": check.visibility, "description": check.description, "duration": check.duration,
            "reason": check.reason, "metrics": json.dumps(check.metrics),
            "where_label": where.label[:300] if where else None, "where_cell": where.cell if where else None,
            "where_line": where.line if where else None, "where_source": where.source if where else None,
            "fingerprint": check.fingerprint}


def _to_check(row: CheckResultRow) -> CheckResult:
    where = (Where(row.where_label, row.where_cell, row.where_line, row.where_source or "")
             if row.where_label is not None else None)
    return CheckResult(name=row.name, score=row.score, max_score=row.max_score, status=row.status,
                       message=row.message, visibility=row.visibility, description=row.description,
                       duration=row.duration, reason=row.reason, where=where, metrics=_json(row.metrics, {}),
                       fingerprint=row.fingerprint)


def _where_json(where: Where | None) -> str | None:
    return None if where is None else json.dumps(asdict(where))


def _json(text: str | None, default):
    """A JSON column's value; ``default`` when it is empty (or not JSON: rows from before it was)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


# --- the statements a write runs, built once -------------------------------------------------

_STUDENTS, _ASSIGNMENTS = Student.__table__, AssignmentRow.__table__
_SUBMISSIONS, _RUNS, _CHECKS = SubmissionRow.__table__, GradingRun.__table__, CheckResultRow.__table__
_ID_BY_NAME = {table.name: select(table.c.id).where(table.c.name == bindparam("name"))
               for table in (_STUDENTS, _ASSIGNMENTS)}
_ADD_NAMED = {table.name: insert(table).values(name=bindparam("name")).returning(table.c.id)
              for table in (_STUDENTS, _ASSIGNMENTS)}
_SET_TITLE = (update(_ASSIGNMENTS).where(_ASSIGNMENTS.c.id == bindparam("row_id"))
              .where(_ASSIGNMENTS.c.title != bindparam("new_title")).values(title=bindparam("new_title")))
_FIND_SUBMISSION = select(_SUBMISSIONS.c.id).where(
    _SUBMISSIONS.c.student_id == bindparam("student_id"), _SUBMISSIONS.c.assignment_id == bindparam("assignment_id"),
    _SUBMISSIONS.c.content_hash == bindparam("content_hash"))
_ADD_SUBMISSION = insert(_SUBMISSIONS).returning(_SUBMISSIONS.c.id)
_ADD_RUN = insert(_RUNS).returning(_RUNS.c.id)
_ADD_CHECK = insert(_CHECKS)
