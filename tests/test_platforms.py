"""PrairieLearn's external grader and GitHub Classroom's autograding, in folders laid out as each
platform lays them out, from the one result model."""

import base64
import json
import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from grader.cli import cli
from grader.platforms import classroom, prairielearn

from conftest import ROOT, SAMPLES, write

PERCEPTRON = SAMPLES / "perceptron"


def run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def strict_json(text: str):
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))


# --- PrairieLearn -------------------------------------------------------------------------------

def grade_root(tmp_path, *files):
    """A folder laid out like PrairieLearn's /grade: student/, data/data.json, serverFilesCourse/, no results/."""
    root = tmp_path / "grade"
    (root / "student").mkdir(parents=True)
    (root / "serverFilesCourse").mkdir()
    write(root / "data" / "data.json", json.dumps({"params": {}, "correct_answers": {}, "submitted_answers": {},
                                                   "format_errors": {}, "partial_scores": {}, "score": 0}))
    for source, name in files:
        shutil.copy(source, root / "student" / name)
    return root


def pl_results(root):
    raw = (root / "results" / "results.json").read_bytes()
    assert len(raw) <= prairielearn.MAX_RESULTS_BYTES
    return strict_json(raw.decode("utf-8"))


@pytest.fixture(scope="module")
def pl_bug(tmp_path_factory, forkserver):
    root = grade_root(tmp_path_factory.mktemp("pl"), (PERCEPTRON / "bug_step_at_zero.py", "perceptron.py"))
    report = prairielearn.run("perceptron", course_root=ROOT, root=root, forkserver=forkserver)
    return report, pl_results(root)


def test_prairielearn_results_hold_the_fraction_and_a_test_per_check(pl_bug, perceptron):
    report, data = pl_bug
    assert report.failure is None and data["gradable"] is True
    assert data["score"] == pytest.approx(report.result.score / 32.0) and 0 < data["score"] < 1
    assert [t["name"] for t in data["tests"]] == [c.name for c in perceptron.checks]
    for test in data["tests"]:
        assert set(test) == {"name", "description", "points", "max_points", "message", "output"}
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["step_is_strict_at_zero"] == {
        "name": "step_is_strict_at_zero", "points": 0.0, "max_points": 1.0,
        "description": "step(0) is 0: the threshold is strict (z > 0).",
        "message": "step(0.0): 1 (yours), expected 0", "output": ""}
    hidden = [c for c in report.result.checks if c.visibility == "hidden" and c.status != "passed"]
    assert hidden and all(tests[c.name] == {"name": c.name, "points": 0.0, "max_points": c.max_score,
                                            "description": "Hidden check", "message": "Not passed.", "output": ""}
                          for c in hidden)
    assert all(c.message not in json.dumps(data) for c in hidden)  # hidden messages quote hidden inputs
    assert data["message"].startswith(f"Perceptron updates: {report.result.score:g} / 32 points.\nPublic checks: ")


def test_prairielearn_syntax_error_is_not_gradable_with_its_format_error(tmp_path, forkserver):
    root = grade_root(tmp_path, (PERCEPTRON / "bug_syntax_error.py", "perceptron.py"))
    prairielearn.run("perceptron", course_root=ROOT, root=root, forkserver=forkserver)
    data = pl_results(root)
    assert data["gradable"] is False and data["format_errors"] == ["SyntaxError at line 5: expected ':'"]


def test_prairielearn_command_always_writes_results(tmp_path):
    root = tmp_path / "grade"
    (root / "results").mkdir(parents=True)
    write(root / "results" / "results.json", '{"score": 1.0}')  # not ours: replaced
    nothing = run("prairielearn", "run", "perceptron", "--root", root)
    assert nothing.exit_code == 0
    data = pl_results(root)
    assert data["gradable"] is False and data["score"] == 0.0
    assert data["format_errors"] == ["no submission folder: nothing was submitted. Submit perceptron.py or perceptron.ipynb"]
    assert nothing.stdout.endswith(f"wrote {root / 'results' / 'results.json'}\n")
    broken = run("prairielearn", "run", "nope", "--root", root)
    assert broken.exit_code == 0 and broken.stdout.startswith("autograder failure: AssignmentError: unknown assignment")
    failed = pl_results(root)
    assert failed["gradable"] is False and "not a problem with your submission" in failed["format_errors"][0]


def test_prairielearn_results_are_cut_to_fit_one_megabyte():
    data = {"gradable": True, "score": 0.5, "message": "m",
            "tests": [{"name": f"t{i}", "points": 0, "max_points": 1, "message": "x" * 2000, "output": "y" * 5000}
                      for i in range(400)]}
    fitted = prairielearn.fit(data)
    assert len(json.dumps(fitted)) <= prairielearn.MAX_RESULTS_BYTES and len(fitted["tests"]) == 400
    assert {len(t["message"]) for t in fitted["tests"]} == {300} and {t["output"] for t in fitted["tests"]} == {""}


# --- GitHub Classroom -------------------------------------------------------------------------

def reporter_points(encoded: str) -> tuple[float, float, str]:
    """What autograding-grading-reporter does with one runner's result: base64-decode the JSON,
    add up the tests' scores over the runner's max_score (its NotifyClassroom), and fail the
    job when the status is fail or error (its main)."""
    results = json.loads(base64.b64decode(encoded).decode("utf-8"))
    return sum(t["score"] for t in results["tests"]), results["max_score"], results["status"]


def test_classroom_init_writes_the_workflow_classroom_reads(tmp_path):
    done = run("classroom", "init", "perceptron", "--course-repo", "dl-course/grader", "--token-secret",
               "COURSE_TOKEN", "--out", tmp_path)
    path = tmp_path / ".github" / "workflows" / "classroom.yml"
    assert done.exit_code == 0 and done.stdout == f"wrote {path}: commit it to the template repository of perceptron\n"
    flow = yaml.safe_load(path.read_text())
    assert flow["name"] == "Autograding Tests" and flow["on"] == ["push", "repository_dispatch"]
    assert flow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert list(flow["jobs"]) == ["run-autograding-tests"]
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    assert [s.get("uses", "").split("@")[0] for s in steps] == [
        "actions/checkout", "actions/checkout", "actions/setup-python", "", "",
        "classroom-resources/autograding-grading-reporter"]
    assert steps[1]["with"] == {"repository": "dl-course/grader", "ref": "main", "path": ".grader-course",
                                "token": "${{ secrets.COURSE_TOKEN }}"}
    assert steps[2]["with"] == {"python-version": "3.11"}
    install = steps[3]["run"]
    assert ("pip install --no-deps --index-url https://download.pytorch.org/whl/cpu "
            "-c .grader-course/constraints.txt torch") in install
    assert "pip install -c .grader-course/constraints.txt ./.grader-course" in install
    assert steps[4]["id"] == "grader" and steps[4]["run"] == "grader --course .grader-course classroom run perceptron ."
    assert steps[5]["env"] == {"GRADER_RESULTS": "${{ steps.grader.outputs.result }}"}
    assert steps[5]["with"] == {"runners": "grader"}
    for step in steps[3:5]:
        assert subprocess.run(["bash", "-n"], input=step["run"], text=True).returncode == 0
    again = run("classroom", "init", "perceptron", "--course-repo", "dl-course/grader", "--out", tmp_path)
    assert again.exit_code == 1 and again.stderr == f"UsageError: {path} already exists; pass --force to replace it\n"
    bad = run("classroom", "init", "perceptron", "--course-repo", "x; rm -rf /", "--out", tmp_path / "b", "--force")
    assert bad.exit_code == 1 and bad.stderr.startswith("UsageError: 'x; rm -rf /' is not OWNER/NAME")


def test_classroom_result_is_what_the_reporter_adds_up(tmp_path, forkserver, perceptron):
    repo = tmp_path / "repo"
    write(repo / "README.md", "my homework")
    shutil.copy(PERCEPTRON / "bug_step_at_zero.py", repo / "perceptron.py")
    report = classroom.run("perceptron", repo, course_root=ROOT, forkserver=forkserver)
    data = report.data
    assert report.failure is None and data["version"] == 1 and data["status"] == "fail"
    assert [t["name"] for t in data["tests"]] == [c.name for c in perceptron.checks]
    assert all(set(t) == {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
               for t in data["tests"])
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["step_is_strict_at_zero"]["status"] == "fail" and tests["step_is_strict_at_zero"]["score"] == 0
    assert tests["step_is_strict_at_zero"]["message"] == "step(0.0): 1 (yours), expected 0"
    hidden = {c.name for c in perceptron.checks if c.visibility == "hidden"}
    assert {tests[n]["message"] for n in hidden} <= {"hidden check", "hidden check: not passed"}
    points, most, status = reporter_points(classroom.encoded(data))
    assert (points, most, status) == (report.result.score, 32.0, "fail")


def test_classroom_run_command_writes_the_step_output(tmp_path):
    repo = tmp_path / "repo"
    shutil.copy(PERCEPTRON / "correct.py", write(repo / "notes.txt", "").parent / "perceptron.py")
    output = tmp_path / "github_output"
    write(output, "earlier=1\n")
    done = run("classroom", "run", "perceptron", repo, env={"GITHUB_OUTPUT": str(output)})
    assert done.exit_code == 0, done.output
    lines = output.read_text().splitlines()
    assert lines[0] == "earlier=1" and lines[1].startswith("result=") and len(lines) == 2
    assert reporter_points(lines[1][len("result="):]) == (32.0, 32.0, "pass")
    assert done.stdout.splitlines()[-1] == "Points 32/32" and "✓ step_is_strict_at_zero: 1 point(s)" in done.stdout
    nothing = run("classroom", "run", "perceptron", tmp_path / "empty", env={"GITHUB_OUTPUT": ""})
    assert nothing.exit_code == 0
    encoded = nothing.stdout.splitlines()[-1]
    assert encoded.startswith("result=")  # no step output file: printed instead
    assert reporter_points(encoded[len("result="):]) == (0, 32.0, "error")
