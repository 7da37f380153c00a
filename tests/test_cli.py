"""The grader command through click's CliRunner, on real files."""

import csv
import io
import json
import shutil

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import cli

from conftest import SAMPLES, write

PERCEPTRON = SAMPLES / "perceptron"
JSON_KEYS = {"student", "assignment", "file", "score", "max_score", "status", "error", "checks"}
CHECK_KEYS = {"name", "score", "max_score", "status", "message"}
# Additions to design.md's shape: structured places and reasons, notes, lateness, whether it was
# graded now, the versions it was graded with.
ADDED_KEYS = {"fault", "error_where", "notes", "submitted_at", "submitted_at_source", "days_late", "penalty",
              "late_by_lms", "unchanged", "assignment_version", "grader_version", "numpy_version", "torch_version"}
ADDED_CHECK_KEYS = {"where", "reason", "metrics", "labels"}


def run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def all_commands(group, prefix=()):
    import click

    context = click.Context(group)
    for name in group.list_commands(context):  # commands load on demand: ask the group for each
        command = group.get_command(context, name)
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


def test_the_walk_finds_every_command():
    assert len(list(all_commands(cli))) >= 20 and ("gradescope", "run") in [p for p, _ in all_commands(cli)]


@pytest.mark.parametrize("path,command", list(all_commands(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_and_dash_h_works(path, command):
    assert command.help and command.help.strip()
    result = run(*path, "-h")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    assert " ".join(command.help.split()[:6]) in " ".join(result.stdout.split())  # help text, rewrapped


def test_list_shows_titles_and_points():
    result = run("list")
    assert result.exit_code == 0
    line = next(l for l in result.stdout.splitlines() if "perceptron" in l and "Perceptron updates" in l)
    assert "32" in line and "17" in line and "15" in line


def test_check_correct_file_exits_zero_with_feedback():
    result = run("check", "perceptron", PERCEPTRON / "correct.py")
    assert result.exit_code == 0, result.output
    assert "17 / 17 points" in result.stdout
    assert "✓ step_is_strict_at_zero (1/1)" in result.stdout
    assert "9 more hidden check(s)" in result.stdout
    assert "xor_never_converges" not in result.stdout  # hidden checks are not run or named


def test_check_buggy_file_exits_one_and_says_what_is_wrong():
    result = run("check", "perceptron", PERCEPTRON / "bug_step_at_zero.py")
    assert result.exit_code == 1
    assert "✗ step_is_strict_at_zero (0/1)" in result.stdout
    assert "step(0.0): 1 (yours), expected 0" in result.stdout


def test_check_notebook_with_failing_cells_still_grades():
    result = run("check", "perceptron", PERCEPTRON / "correct_nb.ipynb")
    assert result.exit_code == 0, result.output
    # Never run, so its cells are named by their place among the code cells, with the line shown.
    assert ("   • code cell 8: ModuleNotFoundError: No module named 'seaborn' (code cell 8, line 1). Plots are not "
            "available while grading (seaborn is not installed here), so the rest of this cell did not run; the "
            "rest of your submission was graded.\n"
            "     ↳ code cell 8, line 1: import seaborn as sns  # a plot, while I work on it\n") in result.stdout
    assert ("   • code cell 9: NameError: name 'w_final' is not defined (code cell 9, line 1)\n"
            "     ↳ code cell 9, line 1: print(w_final)  # scratch cell left over from debugging\n") in result.stdout


def test_check_file_with_syntax_error_shows_the_line():
    result = run("check", "perceptron", PERCEPTRON / "bug_syntax_error.py")
    assert result.exit_code == 1
    assert result.stdout == (f"perceptron: {PERCEPTRON / 'bug_syntax_error.py'} — 0 / 17 points\n"
                             "✗ SyntaxError at line 5: expected ':'\n"
                             "  ↳ line 5: def step(z)\n"
                             "Nothing could be graded: fix this first.\n")


def test_check_empty_file_and_file_for_another_assignment(tmp_path):
    empty = run("check", "perceptron", write(tmp_path / "perceptron.py", "\n"))
    assert empty.exit_code == 1
    assert empty.stdout == (f"perceptron: {tmp_path / 'perceptron.py'} — 0 / 17 points\n"
                            "✗ the file is empty: save your work in your editor, then submit the saved file again\n"
                            "Nothing could be graded: fix this first.\n")
    other = run("check", "conv", PERCEPTRON / "correct.py")
    assert other.exit_code == 1
    assert other.stdout == (f"conv: {PERCEPTRON / 'correct.py'} — 0 / 31 points\n"
                            "✗ the file defines none of conv's functions (conv_output_size, conv2d_output_shape, "
                            "pool2d_output_shape, …) but it defines perceptron's (step, activation, extend, …): is it "
                            "the file for perceptron?\n"
                            "Nothing could be graded: fix this first.\n")


def test_check_broken_notebook(tmp_path):
    path = write(tmp_path / "nb.ipynb", "{ this is not json")
    result = run("check", "perceptron", path)
    assert result.exit_code == 1
    assert "✗ not a valid notebook: " in result.stdout


def test_check_errors_are_one_line():
    result = run("check", "nope", PERCEPTRON / "correct.py")
    assert result.exit_code == 1
    assert result.stderr == "AssignmentError: unknown assignment 'nope' (available: " + \
        result.stderr.split("(available: ")[1]
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run("check", "perceptron", "no_such_file.py")
    assert missing.exit_code == 1 and missing.stderr == ("SubmissionError: no_such_file.py: no such file; give the path of your .py file "
                                                   "or .ipynb notebook\n")


def test_grade_json_is_one_object_per_line_and_nothing_else(tmp_path):
    result = run("grade", "perceptron", PERCEPTRON, "--db", tmp_path / "g.db", "--json", "--jobs", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(list(PERCEPTRON.iterdir()))
    objects = [json.loads(line) for line in lines]
    for obj in objects:
        assert set(obj) == JSON_KEYS | ADDED_KEYS
        assert obj["assignment"] == "perceptron" and obj["max_score"] == 32
        for check in obj["checks"]:
            assert set(check) == CHECK_KEYS | ADDED_CHECK_KEYS
            assert check["status"] in {"passed", "failed", "error", "timeout"}
    scores = {o["student"]: o for o in objects}
    assert scores["correct"]["score"] == 32 and scores["correct_nb"]["score"] == 32
    assert scores["bug_syntax_error"]["status"] == "error"
    assert scores["bug_syntax_error"]["error"] == "SyntaxError at line 5: expected ':'"
    assert all(scores[s]["score"] < 32 for s in scores if s.startswith("bug_"))


def test_grade_table_then_unchanged_then_force(tmp_path):
    db = tmp_path / "g.db"
    first = run("grade", "perceptron", PERCEPTRON / "correct.py", PERCEPTRON / "bug_bias_first.py", "--db", db, "--jobs", "1")
    assert first.exit_code == 0
    assert "2 graded; gradebook: " in first.stdout
    row = next(l for l in first.stdout.splitlines() if "bug_bias_first" in l)
    assert "29" in row and "extend_vector_and_matrix" in row
    second = run("grade", "perceptron", PERCEPTRON / "correct.py", PERCEPTRON / "bug_bias_first.py", "--db", db)
    assert "0 graded, 2 unchanged since their last grading (use --force to regrade)" in second.stdout
    forced = run("grade", "perceptron", PERCEPTRON / "correct.py", "--db", db, "--force")
    assert "1 graded; gradebook" in forced.stdout


def test_grade_student_folders_take_the_folder_name(tmp_path):
    for student, sample in (("alice", "correct.py"), ("bob", "bug_update_sign.py")):
        (tmp_path / "subs" / student).mkdir(parents=True)
        shutil.copy(PERCEPTRON / sample, tmp_path / "subs" / student / "perceptron.py")
    (tmp_path / "subs" / ".ipynb_checkpoints").mkdir()
    result = run("grade", "perceptron", tmp_path / "subs", "--db", tmp_path / "g.db", "--json")
    students = {json.loads(l)["student"]: json.loads(l)["score"] for l in result.stdout.splitlines()}
    assert students == {"alice": 32.0, "bob": 17.0}


def test_grade_errors(tmp_path):
    result = run("grade", "perceptron", tmp_path / "nothing_here", "--db", tmp_path / "g.db")
    assert result.exit_code == 1 and "UsageError: " in result.stderr and "no such file or folder" in result.stderr
    (tmp_path / "empty").mkdir()
    empty = run("grade", "perceptron", tmp_path / "empty", "--db", tmp_path / "g.db")
    assert empty.exit_code == 1 and "no .py or .ipynb submissions found" in empty.stderr
    notdb = write(tmp_path / "notes.db", "not a database\n" * 200)
    bad = run("grade", "perceptron", PERCEPTRON / "correct.py", "--db", notdb)
    assert bad.exit_code == 1 and bad.stderr.startswith("GradebookError: ") and "is not a gradebook" in bad.stderr


def test_export_csv_and_json_latest_run_per_student(tmp_path):
    db = tmp_path / "g.db"
    run("grade", "perceptron", PERCEPTRON / "correct.py", PERCEPTRON / "bug_step_at_zero.py", "--db", db, "--jobs", "1")
    result = run("export", "perceptron", "--db", db, "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["student"] for r in rows] == ["bug_step_at_zero", "correct"]
    assert list(rows[0])[:4] == ["student", "score", "max_score", "graded_at"]
    assert rows[0]["step_is_strict_at_zero (max 1)"] == "0.0" and rows[1]["step_is_strict_at_zero (max 1)"] == "1.0"
    assert rows[1]["score"] == "32.0" and rows[1]["graded_at"]
    as_json = json.loads(run("export", "perceptron", "--db", db, "--format", "json").stdout)
    assert [r["student"] for r in as_json] == ["bug_step_at_zero", "correct"]
    assert as_json[0]["xor_never_converges"] == 0.0
    out = tmp_path / "grades.csv"
    written = run("export", "perceptron", "--db", db, "--out", out)
    assert out.read_text() == result.stdout and "wrote 2 students" in written.stderr


def test_export_without_grades_is_an_error(tmp_path):
    missing = run("export", "perceptron", "--db", tmp_path / "none.db")
    assert missing.exit_code == 1 and "no gradebook at" in missing.stderr
    run("grade", "perceptron", PERCEPTRON / "correct.py", "--db", tmp_path / "g.db", "--jobs", "1")
    other = run("export", "conv", "--db", tmp_path / "g.db")
    assert other.exit_code == 1 and "has no grades for 'conv'" in other.stderr


def test_release_writes_stub_notebook_and_readme_and_nothing_hidden(tmp_path, course_root):
    result = run("release", "perceptron", "--out", tmp_path / "bundle")
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == ["README.md", "perceptron.ipynb", "perceptron.py"]
    stub = (tmp_path / "bundle" / "perceptron.py").read_text()
    assert stub == (course_root / "assignments" / "perceptron" / "stub.py").read_text()
    notebook = nbformat.read(str(tmp_path / "bundle" / "perceptron.ipynb"), as_version=4)
    nbformat.validate(notebook)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "def train_perceptron(X, y, w0=None, max_epochs=100):" in code
    everything = "".join(p.read_text() for p in (tmp_path / "bundle").iterdir())
    assert "xor_never_converges" not in everything and "np.hstack([X, np.ones" not in everything
    assert "grader check perceptron perceptron.py" in (tmp_path / "bundle" / "README.md").read_text()


def test_release_of_the_stub_scores_zero(tmp_path):
    run("release", "perceptron", "--out", tmp_path / "bundle")
    result = run("check", "perceptron", tmp_path / "bundle" / "perceptron.ipynb")
    assert result.exit_code == 1 and "0 / 17 points" in result.stdout


def test_release_student_variant_requires_variants(tmp_path):
    result = run("release", "perceptron", "--out", tmp_path / "b", "--student", "ann")
    assert result.exit_code == 1
    assert result.stderr == "UsageError: perceptron has no per-student variants; release it without --student\n"


def test_list_names_a_broken_assignment_and_still_lists_the_others(make_course):
    root = make_course("perceptron")
    (root / "assignments" / "broken").mkdir()
    (root / "assignments" / "broken" / "assignment.toml").write_text('title = "Half written"\n')
    (root / "assignments" / "broken" / "checks.py").write_text("from grader.checks import check\nundefined_name\n")
    result = run("--course", root, "list")
    assert result.exit_code == 0
    broken = next(l for l in result.stdout.splitlines() if "Half written" in l)
    assert "broken:" in broken and "NameError" in " ".join(result.stdout.split())
    assert any("perceptron" in l and "32" in l for l in result.stdout.splitlines())


def test_a_symbolic_link_to_the_reference_is_not_graded(tmp_path, course_root):
    (tmp_path / "subs" / "mallory").mkdir(parents=True)
    (tmp_path / "subs" / "mallory" / "perceptron.py").symlink_to(course_root / "reference" / "perceptron.py")
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(course_root / "reference" / "perceptron.py", tmp_path / "elsewhere" / "perceptron.py")
    (tmp_path / "subs" / "eve").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    result = run("grade", "perceptron", tmp_path / "subs", "--db", tmp_path / "g.db", "--json", "--jobs", "1")
    assert result.exit_code == 0
    graded = {o["student"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert graded["mallory"]["score"] == 0 and graded["eve"]["score"] == 0
    assert graded["mallory"]["error"] == "perceptron.py is a symbolic link; submit the file itself"
    assert graded["eve"]["error"] == "eve is a symbolic link; submit the file itself"


def test_check_warns_about_missing_isolation_layers_and_still_grades(monkeypatch):
    import functools

    import grader.sandbox.forkserver
    from grader.sandbox.forkserver import ForkServer

    # grader check starts its warm parent itself, before the grading side's imports
    monkeypatch.setattr(grader.sandbox.forkserver, "ForkServer", functools.partial(ForkServer, disable=("network",)))
    result = run("check", "perceptron", PERCEPTRON / "correct.py")
    assert result.exit_code == 0 and "17 / 17 points" in result.stdout
    assert result.stderr.startswith("warning: this host does not allow every sandbox layer (missing: no network")
    assert "your code still runs in a separate, resource-limited process" in result.stderr


def _console(tmp_path, *args):
    """The installed console entry point (grader.cli:main), with an exit handler registered first."""
    import subprocess
    import sys

    script = ("import atexit, sys, grader.cli\n"
              "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
              f"sys.argv = ['grader', *{list(map(str, args))!r}]\n"
              "grader.cli.main()\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_the_console_command_ends_with_its_exit_code_its_output_flushed_and_exit_handlers_run(tmp_path):
    # main() skips the interpreter's teardown (os._exit): nothing it prints or registers may be lost.
    db = tmp_path / "g.db"
    graded = _console(tmp_path, "grade", "perceptron", PERCEPTRON / "correct.py", "--db", db, "--json")
    assert graded.returncode == 0, graded.stderr
    assert json.loads(graded.stdout)["score"] == 32.0  # buffered stdout (a pipe) arrived in full
    assert "exit handler ran" in graded.stderr

    exported = _console(tmp_path, "export", "perceptron", "--db", db, "--format", "json")
    assert exported.returncode == 0 and json.loads(exported.stdout)[0]["student"] == "correct"

    unknown = _console(tmp_path, "grade", "nosuch", PERCEPTRON / "correct.py", "--db", db)
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == ["AssignmentError: unknown assignment 'nosuch' (available: backprop, "
                                           "conv, lenet, perceptron, training)", "exit handler ran"]


def test_the_console_command_grades_with_one_blas_thread_unless_the_user_set_one(tmp_path):
    # At --jobs 1 the command's own process grades: numpy's OpenBLAS pool must be one thread, as in the
    # workers (a second one spins on the sandboxes' core), and numpy must not have loaded before.
    import os
    import subprocess
    import sys

    script = ("import atexit, os, sys, grader.cli\n"
              "assert 'numpy' not in sys.modules\n"
              "atexit.register(lambda: print('blas', os.environ.get('OPENBLAS_NUM_THREADS'), "
              "len(os.listdir('/proc/self/task')), file=sys.stderr))\n"
              f"sys.argv = ['grader', 'grade', 'perceptron', {str(PERCEPTRON / 'correct.py')!r}, '--db', "
              f"{str(tmp_path / 'g.db')!r}, '--jobs', '1', '--json']\n"
              "grader.cli.main()\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    default = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert default.returncode == 0, default.stderr
    assert default.stderr.splitlines()[-1] == "blas 1 1"  # no BLAS thread beside the main one
    chosen = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=dict(env, OPENBLAS_NUM_THREADS="2"))
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stderr.splitlines()[-1].startswith("blas 2 ")


def test_release_refuses_to_overwrite_a_students_files_without_force(tmp_path):
    bundle = tmp_path / "bundle"
    assert run("release", "perceptron", "--out", bundle).exit_code == 0
    (bundle / "perceptron.py").write_text("# my solved homework\n")
    again = run("release", "perceptron", "--out", bundle)
    assert again.exit_code == 1
    assert again.stderr == (f"UsageError: {bundle} already has perceptron.py, perceptron.ipynb, README.md; release "
                            "would overwrite them (add --force to replace, or release into another folder)\n")
    assert (bundle / "perceptron.py").read_text() == "# my solved homework\n"
    assert run("release", "perceptron", "--out", bundle, "--force").exit_code == 0
    assert (bundle / "perceptron.py").read_text() != "# my solved homework\n"


def test_grade_dry_run_grades_nothing_and_json_plans_are_one_object_per_student(tmp_path):
    subs = tmp_path / "subs"
    for student, sample in (("alice", "correct.py"), ("bob", "bug_update_sign.py")):
        (subs / student).mkdir(parents=True)
        shutil.copy(PERCEPTRON / sample, subs / student / "perceptron.py")
    write(subs / "bob" / "scratch.py", "x = 1\n")
    result = run("grade", "perceptron", subs, "--db", tmp_path / "g.db", "--dry-run", "--json")
    assert result.exit_code == 0 and not (tmp_path / "g.db").exists()
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0] == {"warning": "ignored subs/bob/scratch.py: another file beside the submission "
                                     "(subs/bob/perceptron.py)", "kind": "ignored", "reason": "not_the_submission",
                          "student": "bob", "file": "subs/bob/scratch.py"}
    plans = {r["student"]: r for r in records[1:]}
    assert plans["alice"]["file"] == "subs/alice/perceptron.py" and plans["alice"]["error"] is None
    assert plans["alice"]["reason"] == "in the folder alice/: named after the module perceptron"
    assert plans["bob"]["submitted_at_source"] == "mtime"
