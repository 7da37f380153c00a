"""A throwaway PostgreSQL server for the tests: initdb and pg_ctl in a temporary folder, loopback only.

Uses the binaries of Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``) or
any ``pg_ctl`` on PATH. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user (or ``nobody``) in a folder it owns. Trust authentication, no fsync: test data only.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

START_SECONDS = 60


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl, newest version first; None if PostgreSQL is absent."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in Path(p).parent.parent.name.split(".") if x.isdigit()])
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    """Why a server cannot be started here, or None."""
    if find_bindir() is None:
        return ("PostgreSQL server binaries not found (no initdb under /usr/lib/postgresql/*/bin or on PATH); "
                "install them: apt-get install postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed: pip install -c constraints.txt -e '.[test]'"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One server with a superuser ``grader``; ``create_database()`` gives each test its own database."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.folder: Path | None = None
        self.port = 0
        self._user: str | None = None

    def _run(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self._user, "--"] if self._user else []
        done = subprocess.run(prefix + list(command), cwd=self.folder, capture_output=True, text=True,
                              timeout=START_SECONDS)
        if done.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n"
                               + (log.read_text()[-2000:] if log.exists() else ""))
        return done

    def start(self) -> "PostgresServer":
        if os.geteuid() == 0:
            names = {entry.pw_name for entry in pwd.getpwall()}
            self._user = "postgres" if "postgres" in names else "nobody"
        # /tmp as root: the server's user must reach its folder, which a private $TMPDIR may forbid.
        self.folder = Path(tempfile.mkdtemp(prefix="grader-pg-", dir="/tmp" if self._user else None))
        if self._user:
            account = pwd.getpwnam(self._user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        try:
            self._run(str(self.bindir / "initdb"), "-D", str(self.folder / "data"), "-U", "grader",
                      "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
            for attempt in range(3):  # the port picked may be taken before the server binds it
                self.port = _free_port()
                options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -F "
                           "-c max_connections=40 -c shared_buffers=16MB")
                try:
                    self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-l",
                              str(self.folder / "server.log"), "-w", "-t", str(START_SECONDS), "-o", options, "start")
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://grader@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="grader", dbname="postgres",
                             autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.folder is None:
            return
        if (self.folder / "data" / "postmaster.pid").exists():
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                          "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
