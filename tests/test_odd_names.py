"""File names of any bytes are graded, shown safely and never stop the class."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from grader.cli import cli
from grader.gradebook import Gradebook

from conftest import SAMPLES

CORRECT = (SAMPLES / "perceptron" / "correct.py").read_bytes()
NAMES = [b"ann\xff\xfe.py", b"bob\nsmith.py", b"\x1b[31mred\x07.py", b"c" * 252 + b".py", b"tab\there.py",
         b"\xed\xa0\x80surrogate.py", b"plain.py"]


def test_odd_file_names_are_graded_and_shown_safely(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in NAMES:
        with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
            handle.write(CORRECT)
    db = tmp_path / "g.db"
    result = CliRunner().invoke(cli, ["grade", "perceptron", str(folder), "--db", str(db), "--json", "--jobs", "2"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(NAMES)
    graded = [json.loads(line) for line in lines]
    assert all(r["status"] == "graded" and r["score"] == r["max_score"] for r in graded), graded
    students = {r["student"] for r in graded}
    assert len(students) == len(NAMES)  # no two odd names collapse into one student
    for text in [r["student"] for r in graded] + [r["file"] for r in graded]:
        assert text.isprintable() and "\x1b" not in text and "\n" not in text, repr(text)
        text.encode("utf-8")  # valid: no lone surrogates
    assert "plain" in students and all(len(s) <= 140 for s in students)
    with Gradebook.open(str(db)) as gradebook:
        assert {r.student for r in gradebook.latest("perceptron")} == students

    summary = CliRunner().invoke(cli, ["grade", "perceptron", str(folder), "--db", str(db)], catch_exceptions=False)
    assert summary.exit_code == 0 and "\x1b" not in summary.output and "\x07" not in summary.output
    assert f"{len(NAMES)} unchanged since their last grading" in summary.output
