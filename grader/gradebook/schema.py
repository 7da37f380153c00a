"""The gradebook's schema and its version: Alembic, configured in code (no alembic.ini).

What opening a database does (``Gradebook(url)``):

- an empty database (new SQLite file, empty PostgreSQL database) is created at the newest
  revision, so a TA's first ``grader grade`` just works;
- a database made before migrations existed (``create_all``: the tables, no ``alembic_version``)
  whose tables are those of the newest revision is stamped with it: a record, no table changes;
- anything that needs its tables changed is refused until ``grader db upgrade`` (which
  ``Gradebook(url, upgrade=True)`` runs): a database at an older revision, or a pre-migrations
  one without the lateness columns. Changing the schema of a course's grades is a deliberate step
  (back it up first; on a shared server, TAs still on an older grader stop working after it);
- a database at a revision this grader does not know was upgraded by a newer grader: refused.

Creating and upgrading hold a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory
lock) and look again once they have it, so graders opening a new database at once agree.
"""

from __future__ import annotations

import functools
import shlex
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from grader.errors import GradebookError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic is imported only where a schema is created, checked in depth or upgraded: opening a
# gradebook that is already at HEAD reads one row instead (importing Alembic is ~0.1 s of
# every `grader grade`).

#: The first revision: the schema ``create_all`` made before the gradebook had migrations.
INITIAL = "0001"
#: The newest revision in migrations/versions (a test holds the two together).
HEAD = "0005"
TABLES = frozenset({"students", "assignments", "submissions", "grading_runs", "check_results"})
#: Columns of ``grading_runs`` that pre-migrations databases made before due dates lack:
#: (name, type, server default for the rows already there).
LATENESS_COLUMNS = (("submitted_at", sa.DateTime(), None), ("days_late", sa.Float(), "0"),
                    ("penalty", sa.Float(), "0"))
#: PostgreSQL advisory lock held while the schema is created or upgraded (any constant will do).
PG_LOCK_KEY = 0x6772616465627B1


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """Alembic's configuration for the gradebook: the migrations shipped in this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "grader.gradebook:migrations")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def head_revision() -> str:
    """The newest revision this grader knows."""
    return _scripts().get_current_head()


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands."""

    #: current | new | unversioned | unversioned-old | behind | ahead | foreign
    kind: str
    #: The revision in ``alembic_version`` (None when there is none).
    revision: str | None
    #: Grader tables missing from a database that has only some of them (``foreign``).
    missing: tuple[str, ...] = ()


def _stored_revision(connection: Connection) -> str | None:
    """The revision in ``alembic_version``, read without Alembic (None if there is no such table)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def schema_state(connection: Connection) -> SchemaState:
    revision = _stored_revision(connection)
    if revision == HEAD:
        return SchemaState("current", revision)
    if revision is not None:
        from alembic.util.exc import CommandError

        try:
            known = _scripts().get_revision(revision) is not None
        except CommandError:
            known = False
        return SchemaState("behind" if known else "ahead", revision)
    inspector = inspect(connection)
    tables = TABLES & set(inspector.get_table_names())
    if not tables:
        return SchemaState("new", None)
    if tables != TABLES:
        return SchemaState("foreign", None, tuple(sorted(TABLES - tables)))
    columns = {c["name"] for c in inspector.get_columns("grading_runs")}
    old = any(name not in columns for name, _, _ in LATENESS_COLUMNS)
    return SchemaState("unversioned-old" if old else "unversioned", None)


def _refusal(state: SchemaState, where: str) -> GradebookError:
    fix = f"run: grader db upgrade --db {shlex.quote(where)} (back the gradebook up first)"
    if state.kind == "ahead":
        return GradebookError(f"the gradebook {where} has schema revision {state.revision}, newer than this "
                              f"grader knows (newest {head_revision()}); upgrade grader to use it")
    if state.kind == "foreign":
        return GradebookError(f"{where} has some of the gradebook's tables but not {', '.join(state.missing)}; "
                              "it is not a gradebook this grader can use")
    if state.kind == "behind":
        return GradebookError(f"the gradebook {where} has schema revision {state.revision}, this grader needs "
                              f"{head_revision()}; {fix}")
    return GradebookError(f"the gradebook {where} was made by an older grader before schema versions; {fix}")


@contextmanager
def _schema_lock(engine: Engine, on_connect: Callable | None) -> Iterator[Connection]:
    """One transaction that no other grader can be creating or upgrading the schema in."""
    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    if engine.dialect.name != "sqlite" or in_memory:  # an in-memory database has one user
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield connection
        return
    # pysqlite begins transactions lazily and never before DDL: take the write lock ourselves.
    locked = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(locked, "connect")
    def manual_transactions(dbapi_connection, record) -> None:
        dbapi_connection.isolation_level = None
        if on_connect is not None:
            on_connect(dbapi_connection, record)
        # SQLite alters a table by copying it and dropping the original, which enforced foreign
        # keys refuse while other tables' rows point at it (check results at their runs). Off
        # for the migration (it can only be switched outside a transaction); checked after it.
        dbapi_connection.execute("PRAGMA foreign_keys = OFF")

    @event.listens_for(locked, "begin")
    def begin_immediate(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with locked.begin() as connection:
            yield connection
    finally:
        locked.dispose()


def _adopt_pre_migrations(connection: Connection, state: SchemaState) -> None:
    """Bring a ``create_all`` database to revision INITIAL: the lateness columns, then the stamp."""
    from alembic import command
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    if state.kind == "unversioned-old":
        operations = Operations(MigrationContext.configure(connection))
        present = {c["name"] for c in inspect(connection).get_columns("grading_runs")}
        for name, type_, default in LATENESS_COLUMNS:
            if name not in present:
                operations.add_column("grading_runs", sa.Column(name, type_, nullable=default is None,
                                                                server_default=default))
    command.stamp(alembic_config(connection=connection), INITIAL)


def prepare(engine: Engine, *, where: str, upgrade: bool = False, read_only: bool = False,
            on_connect: Callable | None = None) -> SchemaState:
    """Make sure the database at ``engine`` has this grader's schema; returns where it stood before.

    ``upgrade`` also migrates databases that need their tables changed (``grader db upgrade``);
    without it they are refused with a ``GradebookError`` that says so. ``read_only`` changes
    nothing: anything but a gradebook at this grader's revision is refused. ``on_connect`` sets
    up each new SQLite connection (pragmas) of the engine used while holding the lock.
    """
    with engine.connect() as connection:
        state = schema_state(connection)
    if state.kind == "current":
        return state
    if read_only:
        if state.kind == "new":
            raise GradebookError(f"{where} holds no gradebook; grading creates one (grader grade ASSIGNMENT ... "
                                 f"--db {shlex.quote(where)})")
        raise _refusal(state, where)
    if upgrade:
        allowed = {"new", "unversioned", "unversioned-old", "behind"}
    else:  # no table changes: create a new database, or stamp one that create_all made just like head
        allowed = {"new", "unversioned"} if HEAD == INITIAL else {"new"}
    # A half-made look (tables without their stamp) can be another grader creating the gradebook
    # this very moment, between two of the inspector's queries: look again under the lock.
    if state.kind not in allowed and state.kind not in ("unversioned", "foreign"):
        raise _refusal(state, where)
    with _schema_lock(engine, on_connect) as connection:
        state = schema_state(connection)  # again: another grader may have been first
        if state.kind not in allowed | {"current"}:
            raise _refusal(state, where)
        if state.kind == "new":
            _create_at_head(connection)
            return state
        if state.kind in ("unversioned", "unversioned-old"):
            _adopt_pre_migrations(connection, state)
        if state.kind != "current":
            from alembic import command

            command.upgrade(alembic_config(connection=connection), "head")
            if connection.dialect.name == "sqlite" and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                raise GradebookError(f"upgrading {where} would leave rows pointing at rows that do not exist; "
                                     "nothing was changed")
        return state


def _create_at_head(connection: Connection) -> None:
    """A new database: the models' tables and the HEAD stamp, as running every migration would
    leave it (a test compares the two) but without loading Alembic and the migration scripts,
    which took 0.2 s of a TA's first ``grader grade``."""
    from grader.gradebook.models import Base

    Base.metadata.create_all(connection)
    version = sa.Table("alembic_version", sa.MetaData(),
                       sa.Column("version_num", sa.String(32), nullable=False),
                       sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
    version.create(connection)
    connection.execute(version.insert().values(version_num=HEAD))
