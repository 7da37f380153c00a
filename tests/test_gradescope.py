"""Gradescope: the autograder zip, and runs in a folder laid out like Gradescope's /autograder."""

import json
import os
import shutil
import stat
import subprocess
import zipfile

import jsonschema
import nbformat
import pytest
from click.testing import CliRunner

from grader.gradescope import results as results_json_module, run as gradescope
from grader.cli import cli
from grader.sandbox.forkserver import ForkServer

from conftest import ROOT, SAMPLES, write

PERCEPTRON = SAMPLES / "perceptron"
METADATA = {  # the shape of Gradescope's submission_metadata.json (the parts we read, and some we do not)
    "id": 123456, "created_at": "2026-09-20T14:22:32.365935-07:00", "submission_method": "upload",
    "assignment": {"id": 25828, "title": "Perceptron", "total_points": "32.0"},
    "users": [{"email": "ann@example.edu", "id": 1234, "name": "Ann Example", "sid": "s-0042"}],
    "previous_submissions": [],
}
VISIBILITIES = ["hidden", "after_due_date", "after_published", "visible"]
FORMATS = ["text", "html", "simple_format", "md", "ansi"]
# Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/), as types.
RESULTS_SCHEMA = {
    "type": "object",
    "required": ["score", "execution_time", "output", "output_format", "stdout_visibility", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "integer", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "test_output_format": {"enum": FORMATS},
        "test_name_format": {"enum": FORMATS},
        "visibility": {"enum": VISIBILITIES},
        "stdout_visibility": {"const": "hidden"},
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "number", "score", "max_score", "status", "output", "output_format", "visibility"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"}, "name_format": {"enum": FORMATS},
                "number": {"type": "string"},
                "score": {"type": "number"}, "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]},
                "output": {"type": "string"}, "output_format": {"const": "md"},
                "tags": {"type": "array"}, "extra_data": {"type": "object"},
                "visibility": {"enum": ["visible", "after_published"]},
            }}},
    },
}


def run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def gradescope_root(tmp_path, *files, metadata=METADATA):
    """A folder laid out like Gradescope's /autograder, with ``files`` in submission/."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    for source, name in files:
        shutil.copy(source, root / "submission" / name)
    if metadata is not None:
        write(root / "submission_metadata.json", json.dumps(metadata))
    return root


def results_of(root):
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, RESULTS_SCHEMA)
    return data


def checks_by_name(data):
    return {t["name"]: t for t in data["tests"]}


@pytest.fixture(scope="module")
def hidden_checks(perceptron):
    return {c.name for c in perceptron.checks if c.visibility == "hidden"}


# --- runs -------------------------------------------------------------------------------------

def test_correct_file_gets_full_score_with_every_field(tmp_path, perceptron, hidden_checks):
    root = gradescope_root(tmp_path, (PERCEPTRON / "correct.py", "perceptron.py"))
    result = run("gradescope", "run", "perceptron", "--root", root)
    assert result.exit_code == 0, result.output
    assert f"perceptron: graded {root / 'submission' / 'perceptron.py'} for ann@example.edu: 32 / 32" in result.stdout
    assert f"wrote {root / 'results' / 'results.json'}" in result.stdout
    data = results_of(root)
    assert data["score"] == 32.0 and data["stdout_visibility"] == "hidden"
    assert [t["name"] for t in data["tests"]] == [c.name for c in perceptron.checks]
    assert [t["number"] for t in data["tests"]] == [str(n) for n in range(1, len(perceptron.checks) + 1)]
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in data["tests"])
    assert sum(t["max_score"] for t in data["tests"]) == 32
    tests = checks_by_name(data)
    assert {n for n, t in tests.items() if t["visibility"] == "after_published"} == hidden_checks
    assert {t["visibility"] for n, t in tests.items() if n not in hidden_checks} == {"visible"}
    assert tests["step_is_strict_at_zero"] == {
        "name": "step_is_strict_at_zero", "number": "1", "score": 1.0, "max_score": 1.0, "status": "passed",
        "output": "**step(0) is 0: the threshold is strict (z \\> 0).**\n\nPassed.",
        "output_format": "md", "visibility": "visible"}
    assert data["output"] == ("## Perceptron updates\n\nGraded as student id **ann@example.edu**: the email of your "
                              "Gradescope account.\n\nGraded your file perceptron.py.\n\n"
                              "**Public checks: 17 / 17 points.**\n\n9 hidden check(s) worth 15 points were graded "
                              "too; their results appear when grades are published.")
    assert data["extra_data"]["student"] == "ann@example.edu" and data["extra_data"]["file"] == "perceptron.py"


@pytest.fixture
def run_library(forkserver):
    """``gradescope.run`` on the bundled course, sharing the session's warm parent (fast)."""
    def go(root, **options):
        return gradescope.run("perceptron", course_root=ROOT, root=root, forkserver=forkserver, **options)
    return go


def test_buggy_file_scores_less_and_hidden_details_stay_out(tmp_path, run_library, hidden_checks):
    root = gradescope_root(tmp_path, (PERCEPTRON / "bug_step_at_zero.py", "perceptron.py"))
    report = run_library(root)
    data = results_of(root)
    assert data == report.results
    assert 0 < data["score"] < 32 and data["score"] == report.result.score
    tests = checks_by_name(data)
    assert tests["step_is_strict_at_zero"]["status"] == "failed" and tests["step_is_strict_at_zero"]["score"] == 0
    assert tests["step_is_strict_at_zero"]["output"] == (
        "**step(0) is 0: the threshold is strict (z \\> 0).**\n\nNot passed: wrong answer.\n\n"
        "```text\nstep(0.0): 1 (yours), expected 0\n```")
    failed_hidden = [c for c in report.result.checks if c.name in hidden_checks and c.status != "passed"]
    assert failed_hidden, "the sample should fail some hidden checks"
    text = (root / "results" / "results.json").read_text()
    for check in failed_hidden:
        assert check.message and check.message not in text  # e.g. "step(z) for z of shape (4, 5): ..."
        assert tests[check.name]["output"].endswith("Not passed: wrong answer. The details of hidden checks are not shown.")
        assert tests[check.name]["visibility"] == "after_published"
    assert "shape (4, 5)" not in text
    assert "**Public checks: 11 / 17 points.**" in data["output"]


def test_notebook_is_graded_with_its_notes(tmp_path, run_library):
    root = gradescope_root(tmp_path, (PERCEPTRON / "correct_nb.ipynb", "correct_nb.ipynb"), metadata=None)
    report = run_library(root)
    data = results_of(root)
    assert data["score"] == 32.0 and report.student == "correct_nb"  # no metadata: the file's stem
    assert "Graded your file correct\\_nb.ipynb." in data["output"]
    assert ("**Notes on your file** (grading went on regardless):\n\n"
            "- code cell 1: IPython syntax not run: %matplotlib inline; \\!pip install numpy\n") in data["output"]
    assert ("- code cell 8: ModuleNotFoundError: No module named 'seaborn' (code cell 8, line 1). Plots are not available "
            "while grading (seaborn is not installed here), so the rest of this cell did not run; the rest of "
            "your submission was graded.\n") in data["output"]
    assert "- code cell 9: NameError: name 'w\\_final' is not defined (code cell 9, line 1)" in data["output"]


def test_message_naming_a_cell_says_where(tmp_path, run_library):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Perceptron"),
        nbformat.v4.new_code_cell((PERCEPTRON / "correct.py").read_text()),
        nbformat.v4.new_code_cell("def step(z):\n    raise RuntimeError('not *yet* <b>done</b>')\n", execution_count=5),
    ])
    root = gradescope_root(tmp_path)
    nbformat.write(notebook, str(root / "submission" / "perceptron.ipynb"))
    run_library(root, student_id="sid")
    data = results_of(root)
    assert data["extra_data"]["student"] == "s-0042"
    assert checks_by_name(data)["step_is_strict_at_zero"]["output"] == (
        "**step(0) is 0: the threshold is strict (z \\> 0).**\n\n"
        "Not passed: an error (an exception, a missing function or a crash).\n\n"
        "```text\nstep() raised RuntimeError: not *yet* <b>done</b> (In [5], line 2)\n```\n\n"
        "**Where in your file:** In \\[5\\], line 2")


def test_missing_submission_scores_zero_with_a_clear_message(tmp_path, perceptron):
    root = gradescope_root(tmp_path)
    write(root / "results" / "results.json", '{"score": 999}')  # left over: not ours, removed
    result = run("gradescope", "run", "perceptron", "--root", root)
    assert result.exit_code == 0
    assert ("perceptron: nothing graded for ann@example.edu: found no .py or .ipynb file: "
            "submit perceptron.py or perceptron.ipynb") in result.stdout
    data = results_of(root)
    assert data["score"] == 0.0
    assert data["output"] == ("## Perceptron updates\n\nGraded as student id **ann@example.edu**: the email of your "
                              "Gradescope account.\n\n**Nothing could be graded:**\n\n```text\n"
                              "found no .py or .ipynb file: submit perceptron.py or perceptron.ipynb\n```")
    assert len(data["tests"]) == len(perceptron.checks)
    assert all(t["score"] == 0 and t["status"] == "failed" for t in data["tests"])
    assert checks_by_name(data)["xor_never_converges"]["output"].endswith(
        "Not graded: your file could not be run (see the top of the results).")


def test_syntax_error_is_reported_at_the_top(tmp_path, run_library):
    root = gradescope_root(tmp_path, (PERCEPTRON / "bug_syntax_error.py", "perceptron.py"))
    run_library(root)
    data = results_of(root)
    assert data["score"] == 0.0
    assert "**Nothing could be graded:**\n\n```text\nSyntaxError at line 5: expected ':'\n```" in data["output"]


def test_no_submission_folder_and_unknown_assignment_still_write_results(tmp_path):
    root = tmp_path / "autograder"
    result = run("gradescope", "run", "perceptron", "--root", root)
    assert result.exit_code == 0
    assert results_of(root)["output"].endswith("no submission folder: nothing was submitted. "
                                               "Submit perceptron.py or perceptron.ipynb\n```")
    broken = run("gradescope", "run", "nope", "--root", root)
    assert broken.exit_code == 0
    assert broken.stdout.startswith("autograder failure: AssignmentError: unknown assignment 'nope'")
    data = results_of(root)
    assert data["score"] == 0.0 and data["tests"] == []
    assert data["output"].startswith("**The autograder could not grade your submission.** This is not a problem")


HOSTILE = '''
import json, os

RESULTS = {results!r}
FAKE = {{"score": 999.0, "output": "full marks, trust me", "tests": []}}


def forge(marker):
    try:
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, "w") as out:
            json.dump(FAKE, out)
        open(RESULTS + "." + marker, "w").close()
    except OSError as exc:
        print("could not forge:", type(exc).__name__)


print(json.dumps(FAKE))
forge("at-load")
_honest_step = step


def step(z):
    forge("in-check")
    print(json.dumps(FAKE))
    return _honest_step(z)
'''


@pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "not-isolated"])
def test_submission_cannot_write_or_fake_results(tmp_path, isolated, forkserver):
    root = gradescope_root(tmp_path)
    results = root / "results" / "results.json"
    source = (PERCEPTRON / "correct.py").read_text() + HOSTILE.format(results=str(results))
    write(root / "submission" / "perceptron.py", source)
    if isolated:  # as run_autograder runs it: every isolation layer this host allows
        report = gradescope.run("perceptron", course_root=ROOT, root=root, forkserver=forkserver)
    else:  # no isolation at all: the sandbox sees and may write the results folder
        with ForkServer(("numpy", "torch"), isolate=False) as unisolated:
            report = gradescope.run("perceptron", course_root=ROOT, root=root, forkserver=unisolated)
        assert (root / "results" / "results.json.in-check").exists()  # the forgery really happened
    assert report.failure is None, report.failure
    not_passed = [(c.name, c.status, c.message) for c in report.result.checks if c.status != "passed"]
    assert not not_passed and report.result.score == 32.0, not_passed
    assert '{"score": 999.0, "output": "full marks, trust me", "tests": []}' in report.result.output
    data = results_of(root)
    assert data["score"] == 32.0
    # (not merely "999": the content hash in extra_data may hold those digits)
    assert '"score": 999' not in results.read_text() and "trust me" not in results.read_text()
    assert data["extra_data"]["student"] == "ann@example.edu"


# --- picking the file and the student ------------------------------------------------------------

def test_find_submission_prefers_the_module_name(tmp_path):
    folder = tmp_path / "submission"
    write(folder / "scratch.py", "")
    write(folder / "hw" / "perceptron.ipynb", "{}")
    assert gradescope.find_submission(folder, "perceptron") == folder / "hw" / "perceptron.ipynb"
    write(folder / "perceptron.ipynb", "{}")
    assert gradescope.find_submission(folder, "perceptron") == folder / "perceptron.ipynb"
    write(folder / "perceptron.py", "")
    assert gradescope.find_submission(folder, "perceptron") == folder / "perceptron.py"
    write(folder / ".ipynb_checkpoints" / "other.py", "")
    lone = tmp_path / "lone"
    write(lone / "my_homework.ipynb", "{}")
    write(lone / "notes.txt", "")
    assert gradescope.find_submission(lone, "perceptron") == lone / "my_homework.ipynb"


def test_find_submission_errors_say_what_to_do(tmp_path):
    folder = tmp_path / "submission"
    write(folder / "a.py", "")
    write(folder / "b.ipynb", "{}")
    with pytest.raises(gradescope.SubmissionError) as several:
        gradescope.find_submission(folder, "perceptron")
    assert str(several.value) == ("found several files and none named perceptron.py or perceptron.ipynb "
                                  "(a.py, b.ipynb): submit perceptron.py or perceptron.ipynb")
    write(folder / "x" / "perceptron.py", "")
    write(folder / "y" / "perceptron.py", "")
    with pytest.raises(gradescope.SubmissionError, match=r"several files are named perceptron.py \(x/perceptron.py, "
                                                          r"y/perceptron.py\); submit only one"):
        gradescope.find_submission(folder, "perceptron")


def test_symbolic_links_are_never_graded(tmp_path, course_root):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "perceptron.py").symlink_to(course_root / "reference" / "perceptron.py")
    with pytest.raises(gradescope.SubmissionError) as error:
        gradescope.find_submission(folder, "perceptron")
    assert str(error.value) == ("found no .py or .ipynb file (symbolic links are not graded: perceptron.py): "
                                "submit perceptron.py or perceptron.ipynb")


def test_student_from_metadata(tmp_path):
    path = write(tmp_path / "m.json", json.dumps(METADATA))
    assert gradescope.student_from_metadata(path) == "ann@example.edu"
    assert gradescope.student_from_metadata(path, prefer="sid") == "s-0042"
    assert gradescope.student_from_metadata(path, prefer="name") == "Ann Example"
    no_sid = write(tmp_path / "n.json", json.dumps({"users": [{"email": "bo@example.edu", "sid": None}]}))
    assert gradescope.student_from_metadata(no_sid, prefer="sid") == "bo@example.edu"
    for text in ("not json", "{}", '{"users": []}', '{"users": ["x"]}'):
        assert gradescope.student_from_metadata(write(tmp_path / "bad.json", text)) is None
    assert gradescope.student_from_metadata(tmp_path / "missing.json") is None


def test_markdown_helpers():
    assert results_json_module.md_text("w_1 * x <script> [link](u) # 1") == "w\\_1 \\* x \\<script\\> \\[link\\](u) \\# 1"
    assert results_json_module.md_text("- item\n1. first") == "\\- item\n1\\. first"
    assert results_json_module.md_code_block("a ``` b") == "````text\na ``` b\n````"


# --- the bundle ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    result = run("gradescope", "build", "perceptron", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out} (")
    return out


def test_bundle_holds_the_package_and_only_one_assignment(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        infos = {i.filename: i for i in archive.infolist()}
        constraints = archive.read("constraints.txt").decode()
        setup = archive.read("setup.sh").decode()
    for required in ("setup.sh", "run_autograder", "pyproject.toml", "constraints.txt", "README.md",
                     "grader/__init__.py", "grader/cli/__init__.py", "grader/gradescope/run.py", "grader/sandbox/zygote.py",
                     "assignments/perceptron/assignment.toml", "assignments/perceptron/checks.py",
                     "assignments/perceptron/stub.py", "reference/perceptron.py"):
        assert required in names
    top = {"setup.sh", "run_autograder", "pyproject.toml", "constraints.txt", "README.md"}
    for name in names:
        assert name in top or name.startswith(("grader/", "assignments/perceptron/")) or name == "reference/perceptron.py"
        assert "__pycache__" not in name and not name.endswith(".pyc") and "/." not in name
    assert not [n for n in names if n.startswith(("samples/", "tests/", ".venv/", ".git/", "bench/", "docs/"))]
    assert not [n for n in names if n.endswith(".db")]
    for name in ("setup.sh", "run_autograder"):
        mode = infos[name].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, name
    assert stat.S_IMODE(infos["reference/perceptron.py"].external_attr >> 16) == 0o644
    assert "torch==2.13.0" in constraints
    assert ('pip install --no-deps --index-url "$TORCH_INDEX_URL" -c "$SOURCE/constraints.txt" torch' in setup
            and "https://download.pytorch.org/whl/cpu" in setup)
    assert 'pip install -c "$SOURCE/constraints.txt" "$SOURCE"' in setup


def test_bundle_scripts_are_valid_bash(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as archive:
        for name in ("setup.sh", "run_autograder"):
            script = write(tmp_path / name, archive.read(name).decode())
            assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0, name


def unpack(bundle, root):
    """What Gradescope does with the zip: unpack it in ROOT/source (unzip keeps the modes)."""
    (root / "source").mkdir(parents=True)
    subprocess.run(["unzip", "-q", str(bundle), "-d", str(root / "source")], check=True)
    (root / "submission").mkdir()
    (root / "results").mkdir()


def test_run_autograder_grades_with_only_what_the_bundle_holds(bundle, tmp_path):
    root = tmp_path / "autograder"
    unpack(bundle, root)
    assert os.access(root / "source" / "run_autograder", os.X_OK)
    (root / "venv").symlink_to(ROOT / ".venv")  # what setup.sh installs, here the test's environment
    shutil.copy(PERCEPTRON / "bug_bias_first.py", root / "submission" / "perceptron.py")
    write(root / "submission_metadata.json", json.dumps(METADATA))
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_ROOT": str(root)}, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "for ann@example.edu: 29 / 32" in done.stdout
    assert results_of(root)["score"] == 29.0


def test_run_autograder_without_the_grader_still_writes_results(bundle, tmp_path):
    root = tmp_path / "autograder"
    unpack(bundle, root)
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_ROOT": str(root)}, timeout=60)
    assert done.returncode == 0
    assert "venv/bin/grader is missing: did setup.sh fail?" in done.stdout
    data = results_of(root)
    assert data["score"] == 0.0 and "please tell the course staff" in data["output"]


def test_build_errors_are_one_line(tmp_path):
    result = run("gradescope", "build", "nope", "--out", tmp_path / "a.zip")
    assert result.exit_code == 1 and result.stderr.startswith("AssignmentError: unknown assignment 'nope'")
    assert not (tmp_path / "a.zip").exists()


# --- results.json whatever happens ------------------------------------------------------------

def hostile_result():
    from grader.results import CheckResult, Note, SubmissionResult, Where

    text = "\x1b[31m\ud800 [x](javascript:alert(1)) <img src=x onerror=alert(1)> ``` ~~~\n# heading\x00"
    checks = [CheckResult(f"step{text}", float("nan"), 1.0, "failed", text, where=Where(text, cell=1, line=1)),
              CheckResult("hidden", float("inf"), 2.0, "error", "secret " + text, visibility="hidden")]
    return SubmissionResult(student=text, assignment="perceptron", file=f"/x/{text}.py", content_hash="h",
                            score=float("nan"), max_score=3.0, status="graded", error=None, checks=checks,
                            notes=[Note(text)], duration=float("nan"))


def strict_json(path):
    raw = path.read_bytes()
    data = json.loads(raw.decode("utf-8", errors="strict"),
                      parse_constant=lambda name: pytest.fail(f"{name} in results.json"))
    jsonschema.validate(data, RESULTS_SCHEMA)
    return data


def test_results_json_is_valid_json_whatever_the_result_holds(tmp_path, perceptron):
    path = tmp_path / "results" / "results.json"
    gradescope.write_results(path, results_json_module.results_json(hostile_result(), perceptron))
    data = strict_json(path)
    assert data["score"] == 0.0 and [t["score"] for t in data["tests"]] == [0.0, 0.0]
    assert "\ud800" not in path.read_text() and "secret" not in json.dumps(data)
    output = data["tests"][0]["output"]
    assert "\x00" not in output and "\x1b" not in output
    fence, where = output.split("````text\n")[1].split("\n````\n\n")  # the message: verbatim in a fence
    assert "<img src=x" in fence and "\n# heading" in fence
    assert where.startswith("**Where in your file:** ") and "\\<img" in where and "\\[x\\]" in where


def test_a_result_whose_building_raises_still_gives_a_results_json(tmp_path, run_library, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug of ours")

    monkeypatch.setattr(gradescope, "results_json", broken)
    root = gradescope_root(tmp_path, (PERCEPTRON / "correct.py", "perceptron.py"))
    report = run_library(root)
    assert "KeyError: 'a bug of ours'" in report.failure
    data = results_of(root)
    assert data["score"] == 0.0 and data["tests"] == []
    assert data["output"].endswith("```text\nKeyError: 'a bug of ours'\n```")


def test_run_exits_0_with_results_even_if_its_log_cannot_be_printed(tmp_path, monkeypatch):
    def unprintable(*args):
        raise UnicodeEncodeError("ascii", "é", 0, 1, "the log's terminal takes ASCII only")

    monkeypatch.setattr("grader.cli.gradescope.log_lines", unprintable)
    root = tmp_path / "autograder"
    result = run("gradescope", "run", "perceptron", "--root", root)
    assert result.exit_code == 0
    assert result.stdout == "(the rest of the log could not be printed: UnicodeEncodeError)\n"
    assert strict_json(root / "results" / "results.json")["score"] == 0.0


def test_the_cli_defaults_match_the_library():
    from grader.cli import gradescope as cli_gradescope
    from grader.gradescope import run as runner

    assert cli_gradescope.DEFAULT_ROOT == str(runner.DEFAULT_ROOT)
