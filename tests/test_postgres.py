"""The gradebook on any SQLAlchemy URL: each test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import threading

from sqlalchemy import create_engine, func, select, text

from grader.gradebook import Gradebook, database_url
from grader.gradebook.models import GradingRun, Student
from grader.results import CheckResult, SubmissionResult

from conftest import SAMPLES

WRITES_PER_GRADER = 25


def _stored_view(result: SubmissionResult) -> dict:
    """What the gradebook keeps of a result."""
    data = result.to_dict()
    for key in ("graded_at", "cached", "student_seconds"):
        data.pop(key)
    return data


def _synthetic(student: str, assignment: str, content_hash: str, score: float) -> SubmissionResult:
    return SubmissionResult(student=student, assignment=assignment, file=f"{student}.py", content_hash=content_hash,
                            score=score, max_score=2.0, status="graded", error=None,
                            checks=[CheckResult(name="a", score=score, max_score=2.0,
                                                status="passed" if score else "failed", message="")])


def _count(url: str, column) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count(column))).scalar_one()
    finally:
        engine.dispose()


def test_graded_results_round_trip(gradebook_url, perceptron_grader):
    graded = [perceptron_grader.grade_file(SAMPLES / "perceptron" / name, name.split(".")[0])
              for name in ("correct.py", "bug_update_sign.py", "bug_syntax_error.py", "correct_nb.ipynb")]
    late = graded[1]
    late.submitted_at, late.days_late, late.penalty = "2026-11-20T10:30:00+00:00", 1.5, 3.0
    late.output += "\nünïcode ✓ and a tab\t"
    with Gradebook(gradebook_url) as gradebook:
        for result in graded:
            gradebook.record(result, title="Perceptron")
        for result in graded:
            found = gradebook.find(result.student, "perceptron", result.content_hash)
            assert found.cached and found.graded_at is not None
            assert _stored_view(found) == _stored_view(result)
        assert [r.student for r in gradebook.latest("perceptron")] == sorted(r.student for r in graded)
        gradebook.record(graded[0], title="Perceptron")  # a regrade adds a run
        assert len(gradebook.history("perceptron", "correct")) == 2
        assert gradebook.assignments() == ["perceptron"]


def _grader_process(url: str, assignment: str, ready, start) -> None:
    ready.set()
    start.wait(60)
    with Gradebook(url) as gradebook:  # both open the new database at once: one creates its tables
        for i in range(WRITES_PER_GRADER):
            gradebook.record(_synthetic(f"s{i:02}", assignment, f"{assignment}-{i}", float(i % 3)))


def test_two_graders_writing_at_once_lose_nothing(gradebook_url):
    context = multiprocessing.get_context("spawn")
    start, ready = context.Event(), [context.Event(), context.Event()]
    graders = [context.Process(target=_grader_process, args=(gradebook_url, name, flag, start))
               for name, flag in zip(("perceptron", "backprop"), ready)]
    for process in graders:
        process.start()
    assert all(flag.wait(60) for flag in ready)  # both have imported the grader: on your marks
    start.set()
    for process in graders:
        process.join(120)
    assert [p.exitcode for p in graders] == [0, 0]

    with Gradebook(gradebook_url) as gradebook:
        for name in ("perceptron", "backprop"):
            latest = gradebook.latest(name)
            assert [(r.student, r.score, r.content_hash) for r in latest] == \
                [(f"s{i:02}", float(i % 3), f"{name}-{i}") for i in range(WRITES_PER_GRADER)]
    assert _count(gradebook_url, Student.id) == WRITES_PER_GRADER  # the same students, created once
    assert _count(gradebook_url, GradingRun.id) == 2 * WRITES_PER_GRADER


def test_a_student_created_by_another_writer_meanwhile_is_not_an_error(gradebook_url):
    """The other writer's uncommitted row makes our insert wait, then collide; the write is rerun."""
    Gradebook(gradebook_url).close()
    other = create_engine(gradebook_url)
    with other.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.execute(text("INSERT INTO students (name) VALUES ('ann')"))
        committer = threading.Timer(0.5, connection.commit)
        committer.start()
        with Gradebook(gradebook_url) as gradebook:
            stored = gradebook.record(_synthetic("ann", "perceptron", "h1", 2.0))
        committer.join()
        assert stored.graded_at is not None
    other.dispose()
    assert _count(gradebook_url, Student.id) == 1
    assert _count(gradebook_url, GradingRun.id) == 1


def test_a_bare_postgresql_url_uses_psycopg_3():
    assert database_url("postgresql://ta@course-db/grades") == "postgresql+psycopg://ta@course-db/grades"
    assert database_url("postgres://ta@course-db/grades") == "postgresql+psycopg://ta@course-db/grades"
    assert database_url("postgresql+psycopg2://ta@h/g") == "postgresql+psycopg2://ta@h/g"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
