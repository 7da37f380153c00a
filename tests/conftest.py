"""Shared fixtures: the bundled course, one warm sandbox parent per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.course.assignment import get_assignment
from grader.gradebook import database_url
from grader.grading.grader import Grader
from grader.sandbox.forkserver import ForkServer

import pgserver

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="session")
def course_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def forkserver():
    server = ForkServer(("numpy", "torch")).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def perceptron(course_root):
    return get_assignment("perceptron", course_root)


@pytest.fixture(scope="session")
def perceptron_grader(perceptron, forkserver):
    with Grader(perceptron, forkserver=forkserver) as grader:
        yield grader


@pytest.fixture
def make_course(tmp_path, course_root):
    """A private copy of one bundled assignment, with its assignment.toml edited as asked."""

    def make(name: str = "perceptron", **limits) -> Path:
        root = tmp_path / "course"
        (root / "reference").mkdir(parents=True, exist_ok=True)
        shutil.copytree(course_root / "assignments" / name, root / "assignments" / name)
        shutil.copy(course_root / "reference" / f"{name}.py", root / "reference" / f"{name}.py")
        if limits:
            toml = root / "assignments" / name / "assignment.toml"
            text = toml.read_text()
            head, _, _ = text.partition("[limits]")
            lines = [f"{key} = {value!r}" if not isinstance(value, (list, tuple)) else
                     f"{key} = {list(value)!r}".replace("'", '"') for key, value in limits.items()]
            toml.write_text(head + "[limits]\n" + "\n".join(lines) + "\n")
        return root

    return make


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the suite's own; skipped without its binaries, except in CI where that fails."""
    reason = pgserver.unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must test PostgreSQL: .ci/run installs it)")
        pytest.skip(reason)
    server = pgserver.PostgresServer(pgserver.find_bindir()).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def gradebook_url(request, tmp_path) -> str:
    """A new, empty gradebook database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return database_url(str(tmp_path / "gradebook.db"))
    return request.getfixturevalue("postgres").create_database()
