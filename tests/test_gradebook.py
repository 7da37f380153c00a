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


def statements_during(gradebook, action):
    """The SQL statements ``action`` runs on ``gradebook``'s database, and what it returns."""
    from sqlalchemy import event

    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(gradebook._engine, "before_cursor_execute", count)
    try:
        value = action()
    finally:
        event.remove(gradebook._engine, "before_cursor_execute", count)
    return seen, value


def test_latest_picks_the_newest_run_per_student_in_the_query(tmp_path):
    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        for n in range(40):
            gradebook.record(result(student=f"s{n:02d}", content_hash="old", score=0.0))
            gradebook.record(result(student=f"s{n:02d}", content_hash="new", score=1.0))
        gradebook.record(result(student="s07", content_hash="old", score=0.0))  # an older file regraded last
        statements, latest = statements_during(gradebook, lambda: gradebook.latest("perceptron"))
    assert [r.student for r in latest] == [f"s{n:02d}" for n in range(40)]
    assert {r.content_hash for r in latest if r.student != "s07"} == {"new"}
    assert next(r for r in latest if r.student == "s07").content_hash == "old"  # newest run, not newest file
    # One query picks the runs (grouped in SQL); two more load their checks and submissions.
    assert len(statements) == 3 and "max(grading_runs.id)" in statements[0] and "GROUP BY" in statements[0]


def test_a_batch_finds_its_graded_submissions_in_one_query(tmp_path):
    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        for n in range(60):
            gradebook.record(result(student=f"s{n:02d}", content_hash=f"h{n}"))
        students = [f"s{n:02d}" for n in range(80)]
        statements, graded = statements_during(gradebook, lambda: gradebook.graded("perceptron", students))
    assert sorted(graded) == sorted((f"s{n:02d}", f"h{n}") for n in range(60))
    assert len(statements) == 3  # however many files: the runs, then their checks and submissions


def test_open_must_exist_names_the_missing_file_and_creates_nothing(tmp_path):
    with pytest.raises(GradebookError, match=r"^no gradebook at .*typo.db; grading creates one \(grader grade "
                                             r"ASSIGNMENT ... --db .*typo.db\)$"):
        Gradebook.open(str(tmp_path / "typo.db"), must_exist=True)
    assert not (tmp_path / "typo.db").exists()


def test_a_gradebook_that_cannot_be_written_opens_read_only_and_is_left_as_it_was(tmp_path):
    path = tmp_path / "g.db"
    with Gradebook.open(str(path)) as gradebook:
        gradebook.record(result())
    before = path.read_bytes()
    path.chmod(0o444)  # even root's grader treats the file as read-only
    try:
        with Gradebook.open(str(path)) as gradebook:
            assert gradebook.read_only
            assert [r.score for r in gradebook.latest("perceptron")] == [1.0]
            with pytest.raises(GradebookError, match=r"g.db is read-only here: grade into a copy of it"):
                gradebook.record(result(content_hash="h2"))
    finally:
        path.chmod(0o644)
    assert path.read_bytes() == before


def _corrupt(path):
    """Overwrite pages in the middle of a SQLite file, leaving its header (and so its opening) intact."""
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 3 * page):
        data[start + 100:start + 400] = b"\xa5" * 300
    path.write_bytes(bytes(data))


def test_a_damaged_gradebook_is_one_clear_error_when_checked(tmp_path):
    path = tmp_path / "g.db"
    with Gradebook.open(str(path)) as gradebook:
        for n in range(200):
            gradebook.record(result(student=f"s{n:03d}", content_hash=f"h{n}",
                                    checks=[CheckResult(name=f"c{i}", score=1.0, max_score=1.0, status="passed",
                                                        message="m" * 50) for i in range(10)]))
    (tmp_path / "g.db-wal").unlink(missing_ok=True)
    _corrupt(path)
    with pytest.raises(GradebookError, match=r"g.db is damaged \(SQLite: .*\); nothing was read from it. Restore it "
                                             r"from a backup \(sqlite3 .*g.db .recover can save what is left\)"):
        Gradebook.open(str(path), check=True)


def test_an_interrupted_force_resumes_and_a_finished_one_starts_again(tmp_path, perceptron, course_root):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("correct.py", "bug_step_at_zero.py", "bug_bias_first.py"):
        shutil.copy(SAMPLES / "perceptron" / name, folder / name)
    files = find_submissions([folder], "perceptron")
    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        assert all(not r.cached for r in grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook))
        stream = grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook, force=True)
        first = next(stream)
        stream.close()  # Ctrl-C during the --force
        resumed = list(grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook, force=True))
        assert [r.student for r in resumed if r.cached] == [first.student]  # regraded by the interrupted run
        assert len([r for r in resumed if not r.cached]) == 2
        again = list(grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook, force=True))
        assert not any(r.cached for r in again)  # that --force finished: a new one regrades everything
        runs = gradebook.history("perceptron", "correct")
    assert len(runs) == 3 and {r.assignment_version for r in runs} == {perceptron.version}
    assert runs[-1].grader_version == "0.1.0" and runs[-1].numpy_version and runs[-1].torch_version
    with sqlite3.connect(tmp_path / "g.db") as db:
        batches = db.execute("select kind, finished_at is not null from batches order by id").fetchall()
    assert batches == [("grade", 1), ("force", 1), ("force", 1)]  # the interrupted one was resumed and finished


def test_a_submission_the_grader_failed_on_is_graded_again(tmp_path, perceptron, course_root):
    path = tmp_path / "ann.py"
    shutil.copy(SAMPLES / "perceptron" / "correct.py", path)
    files = find_submissions([path], "perceptron")
    from grader.intake.submission import content_hash

    failed = result(student="ann", content_hash=content_hash(path.read_bytes()), score=0.0)
    failed.status, failed.fault, failed.error = "error", "grader", "the grader failed on this file"
    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        gradebook.record(failed)
        rerun, = grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook)
    assert not rerun.cached and rerun.score == 32.0


def test_read_only_opening_reads_and_refuses_writes_on_sqlite_and_postgresql(gradebook_url):
    with Gradebook(gradebook_url) as gradebook:
        gradebook.record(result())
    with Gradebook(gradebook_url, read_only=True, check=True) as gradebook:
        assert [r.student for r in gradebook.latest("perceptron")] == ["ann"]
        with pytest.raises(GradebookError, match="read-only"):
            gradebook.record(result(content_hash="h2"))
    with Gradebook(gradebook_url) as gradebook:
        assert len(gradebook.history("perceptron", "ann")) == 1


def test_text_another_writer_stored_as_invalid_utf8_reads_as_replacement_characters(tmp_path):
    db = tmp_path / "g.db"
    with Gradebook.open(str(db)) as gradebook:
        gradebook.record(result(student="ann"))
    with sqlite3.connect(db) as raw:  # another tool writes bytes that are not UTF-8 into a text column
        raw.execute("UPDATE check_results SET message = CAST(X'6F6BFF' AS TEXT)")
    with Gradebook.open(str(db)) as gradebook:
        found, = gradebook.latest("perceptron")
    assert found.checks[0].message == "ok\ufffd"
