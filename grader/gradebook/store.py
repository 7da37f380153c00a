"""Reading and writing the gradebook. Only the coordinating process writes.

Each stored result is one transaction: the student, the submission (student, assignment,
content hash), the run and all its check results appear together or not at all, so an
interrupted batch leaves no half-written submission and rerunning finishes the rest.

Runs belong to a batch: the command that stored them (``grader grade``, ``grade --force``,
``grader regrade``), with the assignment version it graded with and whether it finished. An
unfinished ``--force`` batch is resumed by the next ``--force`` at the same version: what it
regraded already is not regraded again.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from grader.errors import GradebookError
import grader.gradebook.reading as queries
from grader.gradebook.schema import prepare as prepare_schema
from grader.gradebook.engine import (BUSY_TIMEOUT_MS, database_url, make_engine, not_writable, quick_check,
                                     sqlite_path, translated_errors)
from grader.gradebook.models import AssignmentRow, BatchRow, CheckResultRow, GradingRun, Student, SubmissionRow
from grader.results import CheckResult, SubmissionResult, Where

__all__ = ["Gradebook", "database_url"]

#: Times a result's transaction is tried when it collides with another writer's.
WRITE_ATTEMPTS = 5


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


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Gradebook:
    """A gradebook database at a SQLAlchemy URL (a SQLite file by default).

    Opening creates a new database's tables; one whose schema is older must be upgraded first,
    which ``upgrade=True`` (``grader db upgrade``) does (see ``grader.gradebook.schema``).
    ``read_only`` opens it for reading only (see ``grader.gradebook.engine``); ``check`` runs
    SQLite's ``quick_check`` first, so a damaged file is one clear error.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, upgrade: bool = False,
                 read_only: bool = False, check: bool = False):
        self.url = url
        self.read_only = read_only
        self._busy_timeout_ms = busy_timeout_ms
        self._ids: dict[tuple[str, str], int] = {}  # (table, name) -> id of students and assignments
        self._titles: dict[str, str] = {}  # assignment -> title already stored
        self._where = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.split("@")[-1]
        with self._errors():
            self._engine, pragmas = make_engine(url, busy_timeout_ms=busy_timeout_ms, read_only=read_only)
            # Refusals name the database as --db takes it (a SQLite path, or the URL without password).
            db_option = self._where if url.startswith("sqlite:///") else \
                self._engine.url.render_as_string(hide_password=True)
            try:
                if check:
                    quick_check(self._engine, db_option)
                #: Where the schema stood before this open created or upgraded it.
                self.schema_before = prepare_schema(self._engine, where=db_option, upgrade=upgrade,
                                                    read_only=read_only, on_connect=pragmas)
            except BaseException:
                self._engine.dispose()
                raise

    @property
    def where(self) -> str:
        """The database as people should see it: a SQLite path, or a URL without its password."""
        return self._where

    @classmethod
    def open(cls, db: str, *, must_exist: bool = False, read_only: bool | None = None, assignment: str | None = None,
             **options) -> "Gradebook":
        """The gradebook ``--db`` names (a SQLite path or a URL). ``must_exist``: a SQLite file that
        is not there is an error rather than a new gradebook (the command's ``assignment``, if it
        has one, goes into the hint). ``read_only`` None (the default): read-only when the file
        cannot be written (``chmod 444``, a read-only mount)."""
        path = sqlite_path(database_url(db))
        if must_exist and path is not None and not path.is_file():
            if assignment is not None:
                raise GradebookError(f"no gradebook at {db}; grade something first (grader grade {assignment} ...)")
            raise GradebookError(f"no gradebook at {db}; grading creates one (grader grade ASSIGNMENT ... --db {db})")
        if read_only is None:
            read_only = path is not None and path.is_file() and not_writable(path)
        return cls(database_url(db), read_only=read_only, **options)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def errors(self):
        """Database failures inside the block as one readable ``GradebookError``."""
        return translated_errors(self._where, self._busy_timeout_ms)

    _errors = errors

    @property
    def engine(self) -> Engine:
        """The database engine, for read-only queries of the reports (analytics)."""
        return self._engine

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

    def record(self, result: SubmissionResult, *, title: str = "", batch: int | None = None) -> SubmissionResult:
        """Store one result as a new run of ``batch`` (one transaction); returns it with ``graded_at`` set."""
        now = _now()
        with self._errors():
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                try:
                    self._write(result, title, now, batch)
                    break
                except DBAPIError as error:
                    if attempt == WRITE_ATTEMPTS or not _collided(error):
                        raise
        result.graded_at = now.isoformat(timespec="seconds")
        return result

    def _write(self, result: SubmissionResult, title: str, now: datetime, batch: int | None) -> None:
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
                "penalty": result.penalty, "late_by_lms": result.late_by_lms, "batch_id": batch,
                "assignment_version": result.assignment_version, "grader_version": result.grader_version,
                "numpy_version": result.numpy_version, "torch_version": result.torch_version}).scalar_one()
            if result.checks:
                connection.execute(_ADD_CHECK, [_check_row(run_id, i, c) for i, c in enumerate(result.checks)])
        self._ids.update(known)
        if title:
            self._titles[result.assignment] = title

    # --- batches -----------------------------------------------------------------------------

    def start_batch(self, assignment: str, kind: str, version: str | None) -> int:
        """A new batch (``grade``, ``force`` or ``regrade``) of ``assignment``; returns its id."""
        with self._errors():
            known: dict = {}
            with self._engine.begin() as connection:
                assignment_id = self._id_of(connection, _ASSIGNMENTS, assignment, known)
                batch = connection.execute(insert(_BATCHES).returning(_BATCHES.c.id), {
                    "assignment_id": assignment_id, "kind": kind, "assignment_version": version,
                    "started_at": _now()}).scalar_one()
            self._ids.update(known)
            return batch

    def unfinished_batch(self, assignment: str, kind: str, version: str | None) -> int | None:
        """The newest batch of this kind and version that never finished (it was interrupted), if any."""
        with self._errors(), Session(self._engine) as session:
            return session.scalar(
                select(BatchRow.id).join(AssignmentRow, BatchRow.assignment_id == AssignmentRow.id)
                .where(AssignmentRow.name == assignment, BatchRow.kind == kind,
                       BatchRow.assignment_version == version, BatchRow.finished_at.is_(None))
                .order_by(BatchRow.id.desc()).limit(1))

    def batch_submissions(self, batch: int) -> set[tuple[str, str]]:
        """(student, content hash) of every submission the batch stored a run of."""
        with self._errors(), Session(self._engine) as session:
            return {(student, digest) for student, digest in session.execute(queries.in_batch(batch))}

    def finish_batch(self, batch: int) -> None:
        with self._errors(), self._engine.begin() as connection:
            connection.execute(update(_BATCHES).where(_BATCHES.c.id == batch).values(finished_at=_now()))

    # --- reading -----------------------------------------------------------------------------

    def _results(self, query) -> list[SubmissionResult]:
        with self._errors(), Session(self._engine) as session:
            return [queries.to_result(run, student, name) for run, student, name in session.execute(
                query.add_columns(AssignmentRow.name))]

    def graded(self, assignment: str, students: list[str]) -> dict[tuple[str, str], SubmissionResult]:
        """The newest run of every submission of these students, by (student, content hash): one
        query (and one for their check results), however many files a batch has."""
        found = {}
        for start in range(0, len(students), 5000):  # well under any database's bound on parameters
            for result in self._results(queries.newest_per_submission(assignment, students[start:start + 5000])):
                found[(result.student, result.content_hash)] = result
        return found

    def find(self, student: str, assignment: str, content_hash: str) -> SubmissionResult | None:
        """The latest run of exactly this content, or None if it was never graded."""
        return self.graded(assignment, [student]).get((student, content_hash))

    def latest(self, assignment: str) -> list[SubmissionResult]:
        """Each student's most recent run for ``assignment``, ordered by student."""
        return self._results(queries.latest(assignment))

    def stale(self, assignment: str, version: str) -> list[SubmissionResult]:
        """Each student's most recent run, where it was graded with another assignment version."""
        return self._results(queries.stale(assignment, version))

    def history(self, assignment: str, student: str) -> list[SubmissionResult]:
        """Every run of a student's submissions for ``assignment``, oldest first."""
        return self._results(queries.runs(GradingRun, Student.name)
                             .where(AssignmentRow.name == assignment, Student.name == student)
                             .order_by(GradingRun.id))

    def ranked(self, assignment: str, *, check: str, metrics: list[tuple[str, str]],
               require: str | None = None) -> list[queries.RankedRun]:
        """Each student's best run by ``check``'s ``metrics`` ((name, "desc" | "asc"), most important
        first), ranked, best first (``grader.gradebook.reading.ranked``)."""
        with self._errors(), Session(self._engine) as session:
            query = queries.ranked(assignment, check, metrics, self._engine.dialect.name, require)
            return [queries.ranked_run(row) for row in session.execute(query)]

    def newest_labels(self, assignment: str, check: str) -> dict[str, dict]:
        """The labels ``check`` recorded in each student's newest graded run, by student."""
        with self._errors(), Session(self._engine) as session:
            return {student: queries.json_value(text, {})
                    for student, text in session.execute(queries.newest_labels(assignment, check))}

    def has_grades(self, assignment: str) -> bool:
        """Whether any run of ``assignment`` is stored."""
        with self._errors(), Session(self._engine) as session:
            return session.scalar(queries.newest_run_ids(assignment, AssignmentRow.id).limit(1)) is not None

    def assignments(self) -> list[str]:
        with self._errors(), Session(self._engine) as session:
            return list(session.scalars(select(AssignmentRow.name).order_by(AssignmentRow.name)))


def _check_row(run_id: int, position: int, check: CheckResult) -> dict:
    where = check.where
    return {"run_id": run_id, "position": position, "name": check.name, "score": check.score,
            "max_score": check.max_score, "status": check.status, "message": check.message,
            "visibility": check.visibility, "description": check.description, "duration": check.duration,
            "reason": check.reason, "metrics": json.dumps(check.metrics), "labels": json.dumps(check.labels),
            "where_label": where.label[:300] if where else None, "where_cell": where.cell if where else None,
            "where_line": where.line if where else None, "where_source": where.source if where else None,
            "fingerprint": check.fingerprint}


def _where_json(where: Where | None) -> str | None:
    return None if where is None else json.dumps(asdict(where))


# --- the statements a write runs, built once -------------------------------------------------

_STUDENTS, _ASSIGNMENTS = Student.__table__, AssignmentRow.__table__
_SUBMISSIONS, _RUNS, _CHECKS = SubmissionRow.__table__, GradingRun.__table__, CheckResultRow.__table__
_BATCHES = BatchRow.__table__
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
