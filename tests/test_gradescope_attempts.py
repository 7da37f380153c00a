"""Gradescope runs: the attempt budget from previous_submissions, the student id and its source, leaderboards."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.course.assignment import get_assignment
from grader.gradescope import run as gradescope
from grader.gradescope.attempts import REFUSED, over_budget
from grader.gradescope.metadata import read_metadata
from grader.gradescope.results import results_json
from grader.results import CheckResult, SubmissionResult

from conftest import ROOT, SAMPLES, write
from test_gradescope import RESULTS_SCHEMA, gradescope_root

PACIFIC = timezone(timedelta(hours=-7))
NOW = datetime(2026, 9, 20, 14, 22, 32, tzinfo=PACIFIC)


def earlier(hours: float, score: float, **extra) -> dict:
    """A previous submission ``hours`` before NOW, as Gradescope lists it, with the results.json we wrote then."""
    results = {"score": score, "execution_time": 3, "output": f"## Perceptron updates\n\nscored {score:g}",
               "output_format": "md", "stdout_visibility": "hidden",
               "tests": [{"name": "step_is_strict_at_zero", "number": "1", "score": 1.0, "max_score": 1.0,
                          "status": "passed", "output": "kept", "output_format": "md", "visibility": "visible"}],
               "extra_data": {"student": "s-0042", **extra}}
    return {"submission_time": (NOW - timedelta(hours=hours)).isoformat(), "score": score, "results": results}


def metadata(*previous: dict) -> dict:
    """submission_metadata.json laid out as https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/"""
    return {
        "id": 123456, "created_at": NOW.isoformat(),
        "assignment": {"due_date": "2026-09-30T23:00:00.000000-07:00", "group_size": None, "group_submission": False,
                       "id": 25828, "course_id": 1234, "late_due_date": None,
                       "release_date": "2026-09-01T00:00:00.000000-07:00", "title": "Perceptron", "total_points": "32.0"},
        "submission_method": "upload",
        "users": [{"email": "ann@example.edu", "id": 1234, "name": "Ann Example", "sid": "s-0042"}],
        "previous_submissions": list(previous),
    }


@pytest.fixture
def course(make_course):
    root = make_course("perceptron")
    toml = root / "assignments" / "perceptron" / "assignment.toml"
    toml.write_text('attempts_per_day = 2\n' + toml.read_text() + '\n[gradescope]\nstudent_id = "sid"\n')
    return root


def test_within_the_budget_the_attempt_is_graded_as_the_configured_id(tmp_path, course, forkserver):
    # Two earlier today, but one was refused (it does not count) and one failed in the autograder.
    root = gradescope_root(tmp_path, (SAMPLES / "perceptron" / "correct.py", "perceptron.py"), metadata=metadata(
        earlier(30, 32.0), earlier(5, 20.0), earlier(2, 20.0, attempt=REFUSED), earlier(1, 0.0, status="autograder error")))
    report = gradescope.run("perceptron", course_root=course, root=root, forkserver=forkserver)
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, RESULTS_SCHEMA)
    assert report.refusal is None and data["score"] == 32.0 and report.student == "s-0042"
    assert data["output"].startswith("## Perceptron updates\n\nGraded as student id **s-0042**: the sid of your "
                                     "Gradescope account.\n\n")
    assert "leaderboard" not in data  # perceptron has none


def test_over_the_budget_nothing_runs_and_the_best_earlier_score_is_kept(tmp_path, course, monkeypatch):
    def must_not_grade(*args, **kwargs):
        raise AssertionError("an attempt over budget must not be graded")

    monkeypatch.setattr(gradescope, "_grade", must_not_grade)
    monkeypatch.setattr("grader.platforms.autograder.grade_one", must_not_grade)
    root = gradescope_root(tmp_path, (SAMPLES / "perceptron" / "correct.py", "perceptron.py"), metadata=metadata(
        earlier(30, 31.0), earlier(20, 12.0), earlier(9, 25.0), earlier(3, 18.0)))
    result = CliRunner().invoke(cli, ["--course", str(course), "gradescope", "run", "perceptron", "--root", str(root)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, RESULTS_SCHEMA)
    assert data["score"] == 31.0  # the best earlier one (30 h ago), not the latest
    assert data["tests"] == earlier(30, 31.0)["results"]["tests"]
    # Three graded in the last 24 hours (20 h, 9 h and 3 h ago), two allowed: the next attempt is graded once
    # only two are left in the window, when the one of 9 h ago leaves it, 15 h from now.
    assert data["extra_data"]["attempt"] == REFUSED and data["extra_data"]["attempts_in_24_hours"] == 3
    assert data["extra_data"]["next_attempt_at"] == (NOW + timedelta(hours=15)).isoformat()
    assert data["output"].startswith(
        "## Perceptron updates\n\nGraded as student id **s-0042**: the sid of your Gradescope account.\n\n"
        "**This attempt was not graded.** This assignment grades at most 2 attempts in any 24 hours, and you made 3 "
        "since 2026-09-19 18:22 UTC-07:00. **Your next attempt can be graded from 2026-09-21 05:22 UTC-07:00.**\n\n"
        "Your score stays the best of your earlier attempts: **31** (submitted 2026-09-19 08:22 UTC-07:00). Its "
        "results follow.\n\n---\n\n## Perceptron updates\n\nscored 31")
    assert "student id: s-0042 (the sid of your Gradescope account)" in result.stdout
    assert "perceptron: not graded: over the attempt budget (3 graded attempts in the last 24 hours, 2 allowed)" \
        in result.stdout


def test_the_budget_counts_a_rolling_day_before_the_submission_s_own_time(tmp_path):
    path = write(tmp_path / "m.json", json.dumps(metadata(earlier(23.9, 5.0), earlier(0.5, 7.0), earlier(24.1, 9.0))))
    refusal = over_budget(2, read_metadata(path))
    assert refusal.next_at == NOW + timedelta(hours=0.1) and refusal.best.score == 9.0
    assert over_budget(3, read_metadata(path)) is None and over_budget(None, read_metadata(path)) is None
    later = metadata(earlier(23.9, 5.0), earlier(0.5, 7.0))
    later["created_at"] = (NOW + timedelta(hours=1)).isoformat()  # a regrade decides from the submission's time
    assert over_budget(2, read_metadata(write(tmp_path / "l.json", json.dumps(later)))) is None


def test_the_id_field_comes_from_the_assignment_and_the_option_overrides_it(tmp_path, course, forkserver):
    root = gradescope_root(tmp_path, (SAMPLES / "perceptron" / "correct.py", "perceptron.py"), metadata=metadata())
    assert gradescope.run("perceptron", course_root=course, root=root, forkserver=forkserver,
                          student_id="email").student == "ann@example.edu"
    no_sid = metadata()
    no_sid["users"][0]["sid"] = None
    root = gradescope_root(tmp_path / "b", (SAMPLES / "perceptron" / "correct.py", "perceptron.py"), metadata=no_sid)
    report = gradescope.run("perceptron", course_root=course, root=root, forkserver=forkserver)
    assert (report.student, report.student_source) == ("ann@example.edu", "the email of your Gradescope account (its "
                                                                         "sid is not set)")
    toml = course / "assignments" / "perceptron" / "assignment.toml"
    toml.write_text(toml.read_text().replace('student_id = "sid"', 'student_id = "id"'))
    broken = gradescope.run("perceptron", course_root=course, root=root, forkserver=forkserver)
    assert broken.failure.endswith("[gradescope]: student_id must be one of email, sid, name, not 'id'")


def test_a_quiz_says_its_numbers_are_those_of_the_id_graded(tmp_path, forkserver):
    root = gradescope_root(tmp_path, (SAMPLES / "backprop" / "correct.py", "backprop.py"), metadata=metadata())
    gradescope.run("backprop", course_root=ROOT, root=root, forkserver=forkserver, student_id="sid")
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["output"].startswith(
        "## Backpropagation by hand\n\nGraded as student id **s-0042**: the sid of your Gradescope account. Your "
        "personal numbers (the quiz) are graded as this id's: the ones `grader release backprop --student` gives "
        "this id.\n\n")


def _lenet_result(parameters: int, within: float) -> SubmissionResult:
    check = CheckResult(name="hidden_test_accuracy", score=10, max_score=10, status="passed", message="",
                        visibility="hidden", metrics={"accuracy": 0.9861, "train_seconds": 2.25, "train_cpu_seconds": 2.2,
                                                      "parameters": parameters, "budget_exhausted": 0.0,
                                                      "within_parameter_bound": within})
    return SubmissionResult(student="ann", assignment="lenet", file="lenet.py", content_hash="h", score=20,
                            max_score=20, status="graded", error=None, checks=[check])


def test_a_lenet_run_emits_gradescope_s_leaderboard_entries():
    lenet = get_assignment("lenet", ROOT)
    data = results_json(_lenet_result(35_914, 1.0), lenet)
    jsonschema.validate(data, RESULTS_SCHEMA)
    assert data["leaderboard"] == [{"name": "Accuracy", "value": 0.9861},
                                   {"name": "Training seconds", "value": 2.25, "order": "asc"},
                                   {"name": "Parameters", "value": 35914, "order": "asc"}]
    too_big = results_json(_lenet_result(500_000, 0.0), lenet)
    assert "leaderboard" not in too_big
    assert too_big["output"].endswith("This submission is not on the leaderboard: a model over the parameter bound "
                                      "is not ranked.")
    crashed = _lenet_result(1, 1.0)
    crashed.checks[0].metrics = {}
    assert "leaderboard" not in results_json(crashed, lenet)


def test_the_bundle_leaves_the_id_field_to_the_assignment_unless_told(tmp_path, course):
    from grader.gradescope.bundle import run_script

    assert '--root "$ROOT"\n' in run_script("perceptron") and "--student-id" not in run_script("perceptron")
    assert '--root "$ROOT" --student-id sid\n' in run_script("perceptron", "sid")
    toml = course / "assignments" / "perceptron" / "assignment.toml"
    toml.write_text(toml.read_text().replace("attempts_per_day = 2", "attempts_per_day = 0"))
    built = CliRunner().invoke(cli, ["--course", str(course), "gradescope", "build", "perceptron", "--out",
                                     str(tmp_path / "a.zip")], catch_exceptions=False)
    assert built.exit_code == 1 and not (tmp_path / "a.zip").exists()
    assert built.stderr == f"AssignmentError: {toml}: attempts_per_day must be a positive integer, not 0\n"
