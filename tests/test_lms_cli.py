"""Grading LMS downloads through the command: the plan, the warnings, the stored times, the exported rows."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from grader.cli import cli

import lms
from conftest import SAMPLES


def run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def exported(course, db) -> dict:
    result = run("--course", course, "export", "perceptron", "--db", db, "--format", "csv")
    assert result.exit_code == 0, result.output
    return {row["student"]: row for row in csv.DictReader(io.StringIO(result.stdout))}


@pytest.fixture
def due_course(make_course):
    """The perceptron, due 2026-10-01 23:59 UTC, a quarter of the points off per started day late."""
    root = make_course()
    toml = root / "assignments" / "perceptron" / "assignment.toml"
    toml.write_text("due = 2026-10-01T23:59:00Z\n" + toml.read_text().replace(
        "[limits]", "[late]\npenalty_per_day = 0.25\nmax_penalty = 1.0\n\n[limits]"))
    return root


def test_a_canvas_download_dry_run_then_graded_then_exported(due_course, tmp_path):
    archive = lms.canvas_zip(tmp_path / "canvas.zip")
    db = tmp_path / "g.db"
    plan = run("--course", due_course, "grade", "perceptron", archive, "--db", db, "--dry-run")
    assert plan.exit_code == 0, plan.output
    lines = plan.stdout.splitlines()
    assert lines[0] == "Plan for perceptron (Perceptron updates): 6 student(s), 2 of them with an error (nothing graded: --dry-run)"
    assert f"  {archive}: read as canvas" in lines
    assert ("  12345 (smithjohn)        canvas.unpacked/smithjohn_12345_678950_perceptron-1.py  (Canvas user 12345: "
            "named after the module perceptron; the newest upload of perceptron.py)") in lines
    assert any(l.startswith("  23456 (lovelaceada)") and l.endswith("[LATE, per the LMS]") for l in lines)
    assert ("  canvas.unpacked/smithjohn_12345_678901_perceptron.py: an older upload of perceptron.py: "
            "canvas.unpacked/smithjohn_12345_678950_perceptron-1.py is newer (Canvas file 678950 after 678901)") in lines
    assert ("  ! 23456: the LMS marks it LATE without saying when, so no late penalty is applied; give its time with "
            "--manifest") in lines
    assert not db.exists()  # nothing graded, no gradebook made

    graded = run("--course", due_course, "grade", "perceptron", archive, "--db", db, "--json")
    assert graded.exit_code == 0, graded.output
    records = [json.loads(line) for line in graded.stdout.splitlines()]
    warnings = [r for r in records if "warning" in r]
    results = {r["student"]: r for r in records if "warning" not in r}
    assert records.index(warnings[-1]) < records.index(next(r for r in records if "warning" not in r))  # first
    assert {(w["kind"], w.get("reason"), w["student"]) for w in warnings} >= {
        ("late_without_time", None, "23456"), ("nothing_to_grade", None, "45678"), ("ignored", "older", "12345"),
        ("ignored", "archive", "67890"), ("unpacked", None, None)}
    assert all(set(w) <= {"warning", "kind", "reason", "student", "file"} for w in warnings)
    assert {s: (r["status"], r["score"]) for s, r in results.items()} == {
        "12345": ("graded", 32.0), "23456": ("graded", 32.0), "34567": ("graded", 32.0),
        "45678": ("error", 0.0), "56789": ("error", 0.0), "67890": ("error", 0.0)}
    assert results["23456"]["late_by_lms"] is True and results["23456"]["penalty"] == 0.0
    assert results["23456"]["submitted_at"] is None and results["12345"]["late_by_lms"] is False
    assert results["45678"]["fault"] == "submission" and "no .py or .ipynb file was handed in" in results["45678"]["error"]
    assert results["67890"]["error"] == "SyntaxError at line 5: expected ':'"

    rows = exported(due_course, db)
    assert sorted(rows) == ["12345", "23456", "34567", "45678", "56789", "67890"]
    assert rows["12345"]["file"] == "smithjohn_12345_678950_perceptron-1.py"  # relative to the graded folder
    assert (rows["12345"]["score"], rows["12345"]["submitted_at"], rows["12345"]["penalty"]) == ("32.0", "", "0.0")
    assert rows["45678"]["status"] == "error"

    again = run("--course", due_course, "grade", "perceptron", archive, "--db", db)
    assert again.exit_code == 0
    out = again.stdout
    assert out.index("Before the grades (--dry-run shows every choice and every file left out):") < out.index("┏")
    assert "  ! 45678: no .py or .ipynb file was handed in" in out
    assert "0 graded, 6 unchanged since their last grading (use --force to regrade)" in out


def test_a_gradescope_export_gives_ids_names_and_submission_times(due_course, tmp_path):
    archive = lms.gradescope_zip(tmp_path / "gs.zip")
    db = tmp_path / "g.db"
    graded = run("--course", due_course, "grade", "perceptron", archive, "--db", db, "--json", "--jobs", "2")
    assert graded.exit_code == 0, graded.output
    results = {r["student"]: r for r in map(json.loads, graded.stdout.splitlines()) if "warning" not in r}
    assert sorted(results) == ["9001", "9002", "9003", "submission_333"]
    assert (results["9001"]["submitted_at"], results["9001"]["submitted_at_source"]) == (
        "2026-10-01T20:00:00+00:00", "lms")
    assert (results["9002"]["score"], results["9002"]["penalty"]) == (16.0, 16.0)  # 2 started days late
    assert results["9003"]["file"] == results["9002"]["file"]  # a group's one file, a result for each
    assert results["submission_333"]["submitted_at_source"] == "mtime"  # no metadata: the zip's time
    rows = exported(due_course, db)
    assert (rows["9001"]["score"], rows["9001"]["days_late"], rows["9001"]["penalty"]) == ("32.0", "0.0", "0.0")
    assert rows["9003"]["submitted_at"] == "2026-10-03T06:30:00+00:00" and float(rows["9003"]["days_late"]) > 1


def test_a_moodle_download_with_an_ambiguous_folder_grades_the_rest(tmp_path):
    archive = lms.moodle_zip(tmp_path / "moodle.zip")
    db = tmp_path / "g.db"
    graded = run("grade", "perceptron", archive, "--db", db, "--jobs", "1")
    assert graded.exit_code == 0, graded.output
    assert ("  ! 1003: 2 files could each be the submission (moodle.unpacked/Walt Whit_1003_assignsubmission_file_/a.py, "
            "moodle.unpacked/Walt Whit_1003_assignsubmission_file_/b.py): keep the one to grade") in graded.stdout
    assert "    moodle.unpacked/Ada Lovelace_1001_assignsubmission_file_/scratch.py: another file beside the " \
           "submission" in graded.stdout
    rows = exported(SAMPLES.parent, db)
    assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {
        "1001": ("graded", "32.0"), "1002": ("graded", "32.0"), "1003": ("error", "0.0")}
    assert rows["1003"]["file"].endswith("Walt Whit_1003_assignsubmission_file_")  # the folder to fix


def test_an_nbgrader_course_and_a_roster(tmp_path):
    archive = lms.nbgrader_zip(tmp_path / "nb.zip")
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID\n    Points Possible,,\n\"Lovelace, Ada\",ada,S1\n\"Bee, Bob\",bob,S2\n"
                      "\"Curie, Marie\",marie,S3\n")
    result = run("grade", "perceptron", archive, "--db", tmp_path / "g.db", "--roster", roster, "--json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["student"]: r["score"] for r in records if "warning" not in r} == {"ada": 32.0, "bob": 32.0}
    assert {"warning": "1 student(s) on the roster have no submission: Curie, Marie", "kind": "roster_missing",
            "student": None, "file": None} in records


def test_hostile_member_names_are_left_out_and_the_rest_is_graded(tmp_path):
    archive = lms.make_zip(tmp_path / "evil.zip", {
        "../escape.py": lms.CORRECT, "/abs/perceptron.py": lms.CORRECT,
        b"caf\xe9/perceptron.py": lms.CORRECT, "ann/perceptron.py": lms.BUGGY},
        specials={"bob/perceptron.py": (lms.SYMLINK, b"/work/wt-intake/reference/perceptron.py")})
    result = run("grade", "perceptron", archive, "--db", tmp_path / "g.db", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "  evil.zip: ../escape.py: not unpacked: its path leads outside the folder (absolute, or with ..)" in lines
    assert "  evil.zip: bob/perceptron.py: not unpacked: a symbolic link (never unpacked)" in lines
    stored = next(l for l in lines if "the member caf\ufffd/perceptron.py was stored as" in l)
    assert "\x1b" not in result.stdout and stored.startswith("  evil.zip: the member")
    graded = run("grade", "perceptron", archive, "--db", tmp_path / "g.db", "--json", "--jobs", "1")
    results = {r["student"]: r["score"] for r in map(json.loads, graded.stdout.splitlines()) if "warning" not in r}
    assert results["ann"] == 18.0 and len(results) == 2 and not (tmp_path / "escape.py").exists()
    odd, = [s for s in results if s != "ann"]
    assert odd.startswith("caf\ufffd~") and results[odd] == 32.0


def test_a_zip_bomb_is_one_line_and_grades_nothing(tmp_path):
    archive = lms.make_zip(tmp_path / "bomb.zip", {"perceptron.py": b"x"})
    lms.set_declared_size(archive, "perceptron.py", 3 * 2**30)
    result = CliRunner().invoke(cli, ["grade", "perceptron", str(archive), "--db", str(tmp_path / "g.db")])
    assert result.exit_code == 1
    assert result.stderr == (f"ArchiveError: {archive} would unpack to 3072 MiB, over the 2048 MiB limit (a zip bomb, "
                             "or too big to grade from)\n")
    assert not (tmp_path / "g.db").exists() and not (tmp_path / "bomb.unpacked").exists()


def test_a_batch_the_grader_failed_on_exits_3_with_one_line(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("ann", "bob"):
        shutil.copy(SAMPLES / "perceptron" / "correct.py", subs / f"{name}.py")
    from grader.grading.grader import Grader

    real = Grader._grade

    def flaky(self, submission, started):
        if submission.student == "bob":
            raise ZeroDivisionError("a bug of ours")
        return real(self, submission, started)

    monkeypatch.setattr(Grader, "_grade", flaky)
    result = run("grade", "perceptron", subs, "--db", tmp_path / "g.db", "--jobs", "1")
    assert result.exit_code == 3
    assert result.stderr.endswith("1 submission(s) could not be graded because of the grader, not the students: the "
                                  "grader's log (above, on stderr) has the details; rerun the same command to grade "
                                  "them again (exit code 3)\n")
    monkeypatch.setattr(Grader, "_grade", real)
    rerun = run("grade", "perceptron", subs, "--db", tmp_path / "g.db", "--jobs", "1")
    assert rerun.exit_code == 0 and "1 graded, 1 unchanged" in rerun.stdout  # bob graded again, ann kept


def test_export_works_on_a_read_only_gradebook(tmp_path):
    db = tmp_path / "g.db"
    run("grade", "perceptron", SAMPLES / "perceptron" / "correct.py", "--db", db, "--jobs", "1")
    before = db.read_bytes()
    db.chmod(0o444)
    try:
        assert exported(SAMPLES.parent, db)["correct"]["score"] == "32.0"
        refused = CliRunner().invoke(cli, ["grade", "perceptron", str(SAMPLES / "perceptron" / "bug_update_sign.py"),
                                           "--db", str(db), "--jobs", "1"])
        assert refused.exit_code == 1
        assert refused.stderr.startswith(f"GradebookError: the gradebook {db} cannot be written (read-only)")
    finally:
        db.chmod(0o644)
    assert db.read_bytes() == before


def test_export_on_a_read_only_mount(tmp_path):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("no mount namespaces here to make a read-only mount")
    folder = tmp_path / "grades"
    folder.mkdir()
    db = folder / "g.db"
    run("grade", "perceptron", SAMPLES / "perceptron" / "correct.py", "--db", db, "--jobs", "1")
    assert not (folder / "g.db-wal").exists()  # closed cleanly: on a read-only mount no -shm can be made
    script = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
              f"{sys.executable} -c 'from grader.cli import main; main()' export perceptron --db {db}")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith("correct,32.0,32.0,")
