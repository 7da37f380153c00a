"""``grader regrade``: after staff change a check, what changes is shown first, then stored; interrupted, it resumes."""

from __future__ import annotations

import json
import shutil
import sqlite3

from click.testing import CliRunner

from grader.cli import cli
from grader.course.assignment import get_assignment
from grader.gradebook import Gradebook
from grader.grading.batch import Batch, regrade_files

from conftest import SAMPLES


def run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def runs(db) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("select count(*) from grading_runs").fetchone()[0]


def graded_class(make_course, tmp_path):
    course = make_course()
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("correct.py", "bug_step_at_zero.py", "bug_update_sign.py"):
        shutil.copy(SAMPLES / "perceptron" / name, subs / name)
    db = tmp_path / "g.db"
    assert run("--course", course, "grade", "perceptron", subs, "--db", db, "--jobs", "2").exit_code == 0
    return course, subs, db


def lenient_step(course) -> None:
    """Staff decide step(0) may be 0 or 1: the check now always passes."""
    checks = course / "assignments" / "perceptron" / "checks.py"
    text = checks.read_text()
    strict = ('    at_float_zero, at_int_zero = ctx.calls("step", [(0.0,), (0,)])\n'
              '    expect_equal(at_float_zero.get(), 0, name="step(0.0)")\n'
              '    expect_equal(at_int_zero.get(), 0, name="step(0)")\n')
    assert strict in text
    checks.write_text(text.replace(strict, "    pass\n"))


def test_regrade_shows_the_changes_first_then_stores_them_and_then_has_nothing_left(make_course, tmp_path):
    course, subs, db = graded_class(make_course, tmp_path)
    nothing = run("--course", course, "regrade", "perceptron", "--db", db)
    version = get_assignment("perceptron", course).version
    assert nothing.exit_code == 0 and nothing.stdout == (
        f"perceptron is at version {version[:12]}: 0 latest result(s) were graded with another version, "
        "0 of them can be regraded\n")
    lenient_step(course)
    version = get_assignment("perceptron", course).version
    preview = run("--course", course, "regrade", "perceptron", "--db", db, "--dry-run", "--jobs", "1")
    assert preview.exit_code == 0, preview.output
    assert preview.stdout.splitlines() == [
        f"perceptron is at version {version[:12]}: 3 latest result(s) were graded with another version, 3 of them "
        "can be regraded",
        "  student           before  after  change",
        "  bug_step_at_zero      18     19  +1",
        "1 score(s) would change, 2 stay the same; nothing stored (--dry-run)"]
    assert runs(db) == 3  # nothing stored

    stored = run("--course", course, "regrade", "perceptron", "--db", db, "--json", "--jobs", "1")
    lines = [json.loads(line) for line in stored.stdout.splitlines()]
    assert {(l["student"], l["previous_score"], l["score"], l["change"]) for l in lines} == {
        ("bug_step_at_zero", 18.0, 19.0, 1.0), ("correct", 32.0, 32.0, 0.0), ("bug_update_sign", 17.0, 17.0, 0.0)}
    assert {l["assignment_version"] for l in lines} == {version}
    assert runs(db) == 6
    with Gradebook.open(str(db)) as gradebook:
        history = gradebook.history("perceptron", "bug_step_at_zero")
    assert [r.score for r in history] == [18.0, 19.0]  # history kept
    again = run("--course", course, "regrade", "perceptron", "--db", db)
    assert again.stdout.startswith(f"perceptron is at version {version[:12]}: 0 latest result(s)")


def test_an_interrupted_regrade_finishes_the_rest(make_course, tmp_path):
    course, subs, db = graded_class(make_course, tmp_path)
    lenient_step(course)
    spec = get_assignment("perceptron", course)
    with Gradebook.open(str(db)) as gradebook:
        files, skipped = regrade_files(gradebook.stale("perceptron", spec.version))
        assert len(files) == 3 and skipped == []
        with Batch(spec, files, course_root=course) as batch:
            stream = batch.results(gradebook, mode="regrade")
            first = next(stream)
            stream.close()  # the TA's laptop dies here
    assert runs(db) == 4
    rest = run("--course", course, "regrade", "perceptron", "--db", db, "--json", "--jobs", "1")
    assert sorted(json.loads(l)["student"] for l in rest.stdout.splitlines()) == sorted(
        f.student for f in files if f.student != first.student)
    assert runs(db) == 6


def test_regrade_says_which_files_it_cannot_regrade(make_course, tmp_path):
    course, subs, db = graded_class(make_course, tmp_path)
    lenient_step(course)
    (subs / "correct.py").unlink()
    (subs / "bug_update_sign.py").write_text("# changed since\n")
    result = run("--course", course, "regrade", "perceptron", "--db", db, "--dry-run", "--jobs", "1")
    assert result.exit_code == 0
    assert f"  cannot regrade correct: {subs / 'correct.py'} is no longer there (or cannot be read): grade the " \
           "file again with grader grade\n" in result.stderr
    assert f"  cannot regrade bug_update_sign: {subs / 'bug_update_sign.py'} is not what was graded then" in result.stderr
    assert "3 latest result(s) were graded with another version, 1 of them can be regraded" in result.stdout


def test_regrade_refuses_a_damaged_or_missing_gradebook_in_one_line(tmp_path):
    missing = CliRunner().invoke(cli, ["regrade", "perceptron", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and missing.stderr == (
        f"GradebookError: no gradebook at {tmp_path / 'none.db'}; grading creates one "
        f"(grader grade ASSIGNMENT ... --db {tmp_path / 'none.db'})\n")
    db = tmp_path / "g.db"
    assert run("grade", "perceptron", SAMPLES / "perceptron", "--db", db, "--jobs", "2").exit_code == 0
    data = bytearray(db.read_bytes())
    for start in range(8192, len(data) - 4096, 4096):
        data[start + 100:start + 300] = b"\xa5" * 200
    db.write_bytes(bytes(data))
    damaged = CliRunner().invoke(cli, ["regrade", "perceptron", "--db", str(db)])
    assert damaged.exit_code == 1
    assert damaged.stderr.startswith(f"GradebookError: the gradebook {db} is damaged (SQLite: ")
    assert len(damaged.stderr.splitlines()) == 1
