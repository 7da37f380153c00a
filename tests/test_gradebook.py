"""The gradebook: idempotent grading, kept history, atomic writes, clear errors."""

import shutil
import sqlite3

import pytest

from grader.grading.batch import grade_batch
from grader.intake.discover import find_submissions
from grader.errors import GradebookError
from grader.gradebook import Gradebook
from grader.results import CheckResult, Note, SubmissionResult, Where

from conftest import SAMPLES


def result(student="ann", content_hash="h1", score=1.0, checks=None):
    checks = checks if checks is not None else [
        CheckResult(name="a", score=score, max_score=1.0, status="passed" if score else "failed", message="")]
    return SubmissionResult(student=student, assignment="perceptron", file=f"{student}.py",
                            content_hash=content_hash, score=score, max_score=1.0, status="graded",
                            error=None, checks=checks, notes=[Note("cell 3: NameError", Where("cell 3", 3))])


def table_count(path, table):
    with sqlite3.connect(path) as db:
        return db.execute(f"select count(*) from {table}").fetchone()[0]


def test_record_and_find_round_trip(tmp_path):
    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        stored = gradebook.record(result())
        assert stored.graded_at is not None
        found = gradebook.find("ann", "perceptron", "h1")
        assert found.cached and found.score == 1.0 and found.notes == [Note("cell 3: NameError", Where("cell 3", 3))]
        assert found.checks[0].name == "a"
        assert gradebook.find("ann", "perceptron", "other") is None


def test_sqlite_gradebook_uses_wal(tmp_path):
    Gradebook.open(str(tmp_path / "g.db")).close()
    with sqlite3.connect(tmp_path / "g.db") as db:
        assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_regrade_adds_a_run_and_keeps_history(tmp_path):
    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        gradebook.record(result(score=0.0))
        gradebook.record(result(score=1.0))  # same content regraded (--force)
        gradebook.record(result(content_hash="h2", score=0.0))  # a new version of the file
        history = gradebook.history("perceptron", "ann")
        assert [r.score for r in history] == [0.0, 1.0, 0.0]
        latest = gradebook.latest("perceptron")
        assert len(latest) == 1 and latest[0].content_hash == "h2"
    assert table_count(tmp_path / "g.db", "submissions") == 2
    assert table_count(tmp_path / "g.db", "grading_runs") == 3


def test_a_failed_write_leaves_no_partial_rows(tmp_path):
    path = tmp_path / "g.db"
    with Gradebook.open(str(path)) as gradebook:
        broken = result(checks=[CheckResult(name=None, score=0, max_score=1, status="failed", message="")])
        with pytest.raises(GradebookError):
            gradebook.record(broken)
    for table in ("students", "submissions", "grading_runs", "check_results"):
        assert table_count(path, table) == 0, table


def test_a_locked_database_is_one_clear_error(tmp_path):
    path = tmp_path / "g.db"
    Gradebook.open(str(path)).close()
    blocker = sqlite3.connect(path)
    blocker.execute("begin exclusive")
    try:
        with Gradebook.open(str(path), busy_timeout_ms=200) as gradebook:
            with pytest.raises(GradebookError, match=r"is locked by another process \(waited 0.2 s\)"):
                gradebook.record(result())
    finally:
        blocker.rollback()
        blocker.close()
    assert table_count(path, "grading_runs") == 0


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(GradebookError, match="is not a gradebook"):
        Gradebook.open(str(path))


def test_an_unwritable_location(tmp_path):
    with pytest.raises(GradebookError, match="cannot open the gradebook"):
        Gradebook.open(str(tmp_path / "no" / "such" / "folder" / "g.db"))


def test_bad_url():
    with pytest.raises(GradebookError):
        Gradebook.open("nosuchdialect://user@host/db")


def test_batch_is_idempotent_and_an_interrupted_batch_finishes_on_rerun(tmp_path, perceptron, course_root):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("correct.py", "bug_step_at_zero.py", "bug_bias_first.py", "bug_no_early_stop.py"):
        shutil.copy(SAMPLES / "perceptron" / name, folder / name)
    files = find_submissions([folder], "perceptron")
    db = tmp_path / "g.db"
    with Gradebook.open(str(db)) as gradebook:
        stream = grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook, jobs=1)
        first = [next(stream), next(stream)]
        stream.close()  # the TA's laptop dies here
    assert table_count(db, "grading_runs") == 2
    assert table_count(db, "check_results") == sum(len(r.checks) for r in first)

    with Gradebook.open(str(db)) as gradebook:
        rerun = list(grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook, jobs=1))
        assert sorted(r.student for r in rerun if r.cached) == sorted(r.student for r in first)
        assert len([r for r in rerun if not r.cached]) == 2
        again = list(grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook, jobs=1))
        assert all(r.cached for r in again)
        forced = list(grade_batch(perceptron, files[:1], course_root=course_root, gradebook=gradebook,
                                  jobs=1, force=True))
        assert not forced[0].cached
    assert table_count(db, "submissions") == 4
    assert table_count(db, "grading_runs") == 5
