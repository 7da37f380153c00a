"""Course pipeline outputs: due dates and penalties, JUnit XML, exit codes (LMS exports: test_exports.py)."""

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.errors import AssignmentError
from grader.course.lateness import LatePolicy, apply_lateness
from grader.results import SubmissionResult

from conftest import SAMPLES, write

UTC = timezone.utc
DUE = datetime(2026, 10, 1, 23, 59, tzinfo=UTC)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def policy(**late):
    return LatePolicy.from_config({"due": DUE, "late": late}, "assignment.toml")


def scored(score=30.0):
    return SubmissionResult(student="s", assignment="a", file="s.py", content_hash="h", score=score,
                            max_score=32.0, status="graded", error=None)


@pytest.mark.parametrize("late_by,expected_penalty", [
    (timedelta(minutes=-5), 0.0),          # on time
    (timedelta(minutes=10), 0.0),          # within the grace period
    (timedelta(hours=2), 3.2),             # one started day: 10% of 32
    (timedelta(days=2, hours=1), 9.6),     # three started days: 30%
    (timedelta(days=9), 16.0),             # capped at 50%
])
def test_penalty_per_started_day_with_grace_and_cap(late_by, expected_penalty):
    result = scored()
    apply_lateness(result, policy(penalty_per_day=0.1, max_penalty=0.5, grace_minutes=15), DUE + late_by)
    assert result.penalty == pytest.approx(expected_penalty)
    assert result.score == pytest.approx(30.0 - expected_penalty)
    assert result.submitted_at == (DUE + late_by).isoformat(timespec="seconds")


def test_zero_after_a_final_date_and_penalty_never_below_zero():
    result = scored(score=2.0)
    apply_lateness(result, policy(penalty_per_day=0.1, zero_after=DUE + timedelta(days=3)), DUE + timedelta(days=4))
    assert (result.score, result.penalty, result.days_late) == (0.0, 2.0, pytest.approx(4.0))


def test_no_policy_records_the_time_only():
    result = scored()
    apply_lateness(result, None, DUE)
    assert result.submitted_at and result.penalty == 0 and result.score == 30.0


def test_bad_policies_are_assignment_errors():
    with pytest.raises(AssignmentError, match=r"\[late\] is set but there is no due date"):
        LatePolicy.from_config({"late": {"penalty_per_day": 0.1}}, "x.toml")
    with pytest.raises(AssignmentError, match="fractions between 0 and 1"):
        policy(penalty_per_day=10)
    with pytest.raises(AssignmentError, match="unknown"):
        policy(penalty=0.1)


@pytest.fixture
def due_course(make_course):
    root = make_course()
    toml = root / "assignments" / "perceptron" / "assignment.toml"
    toml.write_text("due = 2026-10-01T23:59:00Z\n" + toml.read_text().replace(
        "[limits]", "[late]\npenalty_per_day = 0.25\nmax_penalty = 1.0\n\n[limits]"))
    return root


def test_grade_with_manifest_option_and_mtime_stores_and_exports_lateness(due_course, tmp_path):
    subs = tmp_path / "subs"
    for name in ("ontime", "late", "mtime"):
        (subs / name).mkdir(parents=True)
        shutil.copy(SAMPLES / "perceptron" / "correct.py", subs / name / "perceptron.py")
    manifest = write(tmp_path / "manifest.csv", "student,file,submitted_at\n"
                     "ontime,perceptron.py,2026-10-01T20:00:00Z\nlate,perceptron.py,2026-10-03T08:00:00Z\n")
    db = tmp_path / "g.db"
    result = run("--course", due_course, "grade", "perceptron", subs, "--db", db, "--manifest", manifest, "--jobs", "1")
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(
        run("--course", due_course, "export", "perceptron", "--db", db).stdout))}
    assert rows["ontime"]["score"] == "32.0" and rows["ontime"]["penalty"] == "0.0"
    assert rows["late"]["score"] == "16.0" and rows["late"]["penalty"] == "16.0"  # 2 started days x 25%
    assert rows["late"]["submitted_at"] == "2026-10-03T08:00:00+00:00"
    assert rows["mtime"]["submitted_at"] and float(rows["mtime"]["days_late"]) > 0  # files made today: late
    forced = run("--course", due_course, "grade", "perceptron", subs / "ontime", "--db", tmp_path / "g2.db",
                 "--submitted-at", "2026-10-02T10:00:00+00:00", "--json")
    assert json.loads(forced.stdout)["score"] == 24.0


def test_bad_manifest_and_bad_time_are_one_line_errors(due_course, tmp_path):
    bad = write(tmp_path / "m.csv", "who,when\nann,yesterday\n")
    result = run("--course", due_course, "grade", "perceptron", SAMPLES / "perceptron" / "correct.py",
                 "--db", tmp_path / "g.db", "--manifest", bad)
    assert result.exit_code == 1 and "the manifest needs the columns student,file,submitted_at" in result.stderr
    result = run("grade", "perceptron", SAMPLES / "perceptron" / "correct.py", "--db", tmp_path / "g.db",
                 "--submitted-at", "next tuesday")
    assert result.exit_code == 1
    assert result.stderr == ("UsageError: --submitted-at 'next tuesday' is not an ISO date and time "
                             "like 2026-10-01T23:59:00+02:00\n")


def test_junit_xml_has_a_suite_per_submission_and_a_case_per_check(tmp_path):
    out = tmp_path / "junit.xml"
    result = run("grade", "perceptron", SAMPLES / "perceptron" / "correct.py",
                 SAMPLES / "perceptron" / "bug_step_at_zero.py", SAMPLES / "perceptron" / "bug_syntax_error.py",
                 "--db", tmp_path / "g.db", "--junit", out, "--jobs", "1")
    assert result.exit_code == 0
    root = ET.parse(out).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"correct", "bug_step_at_zero", "bug_syntax_error"}
    assert suites["correct"].get("failures") == "0" and len(suites["correct"].findall("testcase")) == 17
    failure = suites["bug_step_at_zero"].find("testcase[@name='step_is_strict_at_zero']/failure")
    assert failure.get("message") == "step(0.0): 1 (yours), expected 0"
    assert suites["bug_syntax_error"].get("errors") == "17"
    assert "SyntaxError at line 5" in suites["bug_syntax_error"].find("system-err").text


def test_exit_codes(tmp_path, monkeypatch):
    assert run("grade", "perceptron", SAMPLES / "perceptron" / "bug_syntax_error.py",
               "--db", tmp_path / "g.db").exit_code == 0  # graded, whatever the score
    assert run("grade", "perceptron").exit_code == 1  # usage error: missing PATHS
    assert run("frobnicate").exit_code == 1
    assert run("check", "perceptron", SAMPLES / "perceptron" / "bug_update_sign.py").exit_code == 1

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr("grader.cli.course.list_assignments", broken)
    result = run("list")
    assert result.exit_code == 2
    assert "ZeroDivisionError: a bug of ours" in result.stderr and "This is a bug in grader" in result.stderr
