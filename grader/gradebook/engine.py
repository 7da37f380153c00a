"""Connecting to the gradebook's database: URLs, SQLite's settings, read-only opening, integrity,
and database failures turned into one readable ``GradebookError``.

Read-only (``export``, ``feedback``, or a gradebook file that cannot be written: ``chmod 444``,
a read-only mount): SQLite opens the file with ``mode=ro`` and sets nothing (no switch to WAL);
where SQLite cannot open it so (a WAL gradebook on a read-only mount has no ``-shm`` file to
share), it opens it ``immutable``, unless an unfinished ``-wal`` file holds grades not yet
in the file, which such an opening would silently miss: that is refused instead. PostgreSQL
sessions are made read-only.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from grader.errors import GradebookError

BUSY_TIMEOUT_MS = 10_000


def database_url(db: str) -> str:
    """A SQLAlchemy URL for ``db``: a URL as given, or a path to a SQLite file.

    A bare ``postgresql://`` (or ``postgres://``) URL uses psycopg 3, the driver of the
    ``postgres`` extra, whichever SQLAlchemy 2 release is installed.
    """
    if "://" in db:
        scheme, rest = db.split("://", 1)
        return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None (another database, or SQLite in memory)."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///"))


def not_writable(path: Path) -> bool:
    """Whether the gradebook file is meant to be read only: no write permission bit for anyone
    (``chmod 444``, which even root's processes should respect here), a read-only file system,
    or no permission for this process."""
    try:
        mode = path.stat().st_mode
        read_only_fs = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
    return read_only_fs or not (stat.S_IMODE(mode) & 0o222) or not os.access(path, os.W_OK)


def read_only_url(path: Path, *, immutable: bool = False) -> str:
    query = "mode=ro&uri=true" + ("&immutable=1" if immutable else "")
    return f"sqlite:///file:{quote(str(path))}?{query}"


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


def sqlite_pragmas(busy_timeout_ms: int, *, read_only: bool = False):
    def on_connect(dbapi_connection, _record) -> None:
        # Text another writer stored as bytes that are not UTF-8 reads as U+FFFD, not as an error
        # that would stop an export or feedback for the whole class.
        dbapi_connection.text_factory = lambda data: data.decode("utf-8", "replace")
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not read_only:
            _switch_to_wal(cursor, busy_timeout_ms)
            # With WAL, NORMAL never corrupts the database; a power cut may lose the last commits,
            # which a rerun regrades. It saves an fsync per stored submission.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return on_connect


def _pg_read_only(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.commit()


def make_engine(url: str, *, busy_timeout_ms: int, read_only: bool) -> tuple[Engine, object | None]:
    """An engine for ``url`` and the function that sets up its SQLite connections (or None)."""
    path = sqlite_path(url)
    if path is not None and read_only:
        engine = create_engine(read_only_url(path))
        if not _opens(engine):
            engine.dispose()
            wal = path.with_name(path.name + "-wal")
            if wal.is_file() and wal.stat().st_size > 0:
                raise GradebookError(f"the gradebook {path} has grades not yet written into it (its -wal file) and "
                                     "cannot be read where it is read-only; open it once where it can be written")
            engine = create_engine(read_only_url(path, immutable=True))
    else:
        engine = create_engine(url)
    pragmas = None
    if engine.dialect.name == "sqlite":
        pragmas = sqlite_pragmas(busy_timeout_ms, read_only=read_only)
        event.listen(engine, "connect", pragmas)
    elif read_only and engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _pg_read_only)
    return engine, pragmas


def _opens(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
        return True
    except DBAPIError as exc:
        if "unable to open" in str(exc.orig):
            return False
        return True  # another failure: let the real opening report it


def quick_check(engine: Engine, where: str) -> None:
    """``PRAGMA quick_check`` on a SQLite gradebook: a damaged file is one clear error, never
    exported as if fine. (Other databases check themselves.)"""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as connection:
            findings = [row[0] for row in connection.execute(text("PRAGMA quick_check(5)"))]
    except DBAPIError as exc:
        findings = [str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "unreadable"]
    if findings != ["ok"]:
        lines = [line.strip() for line in "\n".join(map(str, findings)).splitlines()]
        raise GradebookError(damaged(where, next((l for l in lines if l and not l.startswith("***")), "damaged")))


def damaged(where: str, finding: str) -> str:
    return (f"the gradebook {where} is damaged (SQLite: {finding}); nothing was read from it. Restore it from "
            f"a backup (sqlite3 {where} .recover can save what is left)")


@contextmanager
def translated_errors(where: str, busy_timeout_ms: int):
    """Turn database failures into one readable GradebookError."""
    try:
        yield
    except (DBAPIError, ArgumentError, NoSuchModuleError, ModuleNotFoundError, OSError) as exc:
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("psycopg"):
            raise GradebookError(f"the gradebook {where} needs the PostgreSQL driver: "
                                 "pip install 'grader[postgres]'") from None
        original = getattr(exc, "orig", None) or exc
        message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
        if "locked" in message or "busy" in message:
            raise GradebookError(f"the gradebook {where} is locked by another process "
                                 f"(waited {busy_timeout_ms / 1000:g} s); try again when it has finished") from None
        if "readonly" in message or "read-only" in message:
            raise GradebookError(f"the gradebook {where} is read-only here: grade into a copy of it, or "
                                 "where it can be written") from None
        if "unable to open" in message:
            raise GradebookError(f"cannot open the gradebook {where}: check that its folder exists "
                                 "and is writable") from None
        if "malformed" in message or "corrupt" in message:
            raise GradebookError(damaged(where, message)) from None
        if "not a database" in message:
            raise GradebookError(f"{where} is not a gradebook (not a valid SQLite database)") from None
        raise GradebookError(f"gradebook {where}: {message}") from None
