"""``grader release``: the stub, its notebook, the README and the assignment's data/, and what it refuses."""

from __future__ import annotations

import os
import shutil

from click.testing import CliRunner

from grader.cli import cli

from conftest import write


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _with_data(make_course, *files: tuple[str, bytes]):
    root = make_course("perceptron")
    for name, data in files:
        path = root / "assignments" / "perceptron" / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_every_file_of_data_is_copied_flat_next_to_the_stub_and_hidden_never(make_course, tmp_path):
    root = _with_data(make_course, ("points.csv", b"x,y\n1,2\n"), ("LICENSE.txt", b"CC BY 4.0\n"), (".DS_Store", b"x"))
    write(root / "assignments" / "perceptron" / "hidden" / "answers.csv", "1,0,1\n")
    out = tmp_path / "bundle"
    result = run("--course", root, "release", "perceptron", "--out", out)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"wrote {out / name}" for name in (
        "perceptron.py", "perceptron.ipynb", "README.md", "LICENSE.txt", "points.csv")]
    assert sorted(p.name for p in out.iterdir()) == ["LICENSE.txt", "README.md", "perceptron.ipynb", "perceptron.py",
                                                     "points.csv"]
    assert (out / "points.csv").read_bytes() == b"x,y\n1,2\n"
    assert "Its data files are next to it: `LICENSE.txt`, `points.csv`." in (out / "README.md").read_text()


def test_data_files_count_in_the_overwrite_refusal(make_course, tmp_path):
    root = _with_data(make_course, ("points.csv", b"new\n"))
    out = tmp_path / "bundle"
    write(out / "points.csv", "the student's own edits\n")
    refused = run("--course", root, "release", "perceptron", "--out", out)
    assert refused.exit_code == 1
    assert refused.stderr == (f"UsageError: {out} already has points.csv; release would overwrite it (add --force to "
                              "replace, or release into another folder)\n")
    assert sorted(p.name for p in out.iterdir()) == ["points.csv"]  # nothing written
    os.symlink(out / "elsewhere.csv", out / "link.csv")
    (root / "assignments" / "perceptron" / "data" / "link.csv").write_text("data\n")
    assert run("--course", root, "release", "perceptron", "--out", out, "--force").exit_code == 0
    assert (out / "points.csv").read_text() == "new\n"
    assert not (out / "link.csv").is_symlink() and not (out / "elsewhere.csv").exists()  # replaced, not written through


def test_a_data_file_named_like_the_stub_or_a_sub_folder_is_the_course_s_error(make_course, tmp_path):
    root = _with_data(make_course, ("README.md", b"# the data\n"))
    clash = run("--course", root, "release", "perceptron", "--out", tmp_path / "a")
    assert clash.exit_code == 1 and not (tmp_path / "a").exists()
    assert clash.stderr == ("AssignmentError: perceptron/data/ has README.md, which the release writes itself (the "
                            "stub, its notebook or the README): rename it\n")
    (root / "assignments" / "perceptron" / "data" / "README.md").unlink()
    (root / "assignments" / "perceptron" / "data" / "more").mkdir()
    nested = run("--course", root, "release", "perceptron", "--out", tmp_path / "b")
    assert nested.exit_code == 1 and not (tmp_path / "b").exists()
    assert nested.stderr == (f"AssignmentError: {root / 'assignments' / 'perceptron' / 'data' / 'more'} is a folder: a "
                             "release copies only the files directly in perceptron/data/ (flat, next to the stub)\n")
    shutil.rmtree(root / "assignments" / "perceptron" / "data" / "more")
    os.symlink(root / "reference" / "perceptron.py", root / "assignments" / "perceptron" / "data" / "answers.py")
    linked = run("--course", root, "release", "perceptron", "--out", tmp_path / "c")
    assert linked.exit_code == 1 and "answers.py is a symbolic link" in linked.stderr


def test_backprop_without_a_student_says_it_released_the_lecture_s_numbers(tmp_path):
    result = run("release", "backprop", "--out", tmp_path / "lecture")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == (
        "released the lecture's numbers, not a student's own: release each student's with --student ID (they check "
        "theirs with grader check backprop FILE --student ID)")
    readme = (tmp_path / "lecture" / "README.md").read_text()
    assert readme.startswith("# Backpropagation by hand (the lecture's numbers; staff release each student's own "
                             "with --student ID)\n")
    assert "    grader check backprop backprop.py --student YOUR_ID\n" in readme and "your numbers" not in readme
    own = run("release", "backprop", "--out", tmp_path / "ann", "--student", "ann")
    assert own.exit_code == 0 and "lecture" not in own.stdout
    readme = (tmp_path / "ann" / "README.md").read_text()
    assert readme.startswith("# Backpropagation by hand (your personal version, student ann)\n")
    assert "    grader check backprop backprop.py --student ann\n" in readme
