"""Time belongs to the grader: a per-submission budget covers loading, reloads and every check,
and nothing a submission sends moves a deadline."""

from __future__ import annotations

import time

import pytest

from grader.course.assignment import get_assignment
from grader.grading.grader import Grader

from conftest import SAMPLES, write

CORRECT = (SAMPLES / "perceptron" / "correct.py").read_text()
BUDGET = 4.0


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory, forkserver, course_root):
    """Perceptron with a 4 s budget per submission and 2 s per unit or check."""
    import shutil

    root = tmp_path_factory.mktemp("budget") / "course"
    shutil.copytree(course_root / "assignments" / "perceptron", root / "assignments" / "perceptron")
    (root / "reference").mkdir()
    shutil.copy(course_root / "reference" / "perceptron.py", root / "reference" / "perceptron.py")
    toml = root / "assignments" / "perceptron" / "assignment.toml"
    toml.write_text(toml.read_text().split("[limits]")[0] + "[limits]\ncheck_timeout = 2\nload_timeout = 2\n"
                    f"submission_budget = {BUDGET}\nwarm_imports = [\"numpy\"]\n")
    with Grader(get_assignment("perceptron", root), forkserver=forkserver) as graded:
        yield graded


def grade(grader, tmp_path, source, name):
    started = time.monotonic()
    result = grader.grade_file(write(tmp_path / f"{name}.py", source), name)
    return result, time.monotonic() - started


def test_many_slow_top_level_lines_end_at_the_budget_not_at_their_sum(budgeted, tmp_path):
    # Eight lines of 1.5 s each: each under the 2 s unit limit, 12 s together.
    source = "import time\n" + "time.sleep(1.5)\n" * 8 + CORRECT
    result, took = grade(budgeted, tmp_path, source, "slow_lines")
    assert took < BUDGET + 2.5, took
    assert {c.status for c in result.checks} == {"timeout"} and {c.reason for c in result.checks} == {"budget"}
    assert result.checks[0].message.startswith("not finished: the submission's time budget of 4 s (loading, "
                                               "reloads and every check together) ran out")
    assert result.score == 0


def test_a_slow_load_that_crashes_in_every_check_is_bounded_by_the_budget(budgeted, tmp_path):
    # Each crash forces a reload of the slow top level for the next check: 0.8 s per check.
    source = "import time\ntime.sleep(0.8)\n" + CORRECT + "\nimport os\ndef step(z):\n    os._exit(3)\n"
    result, took = grade(budgeted, tmp_path, source, "slow_reloads")
    assert took < BUDGET + 2.5, took
    reasons = [c.reason for c in result.checks]
    assert "crashed" in reasons and "budget" in reasons  # crashed while it could, then out of budget
    assert all(c.status == "timeout" for c in result.checks if c.reason == "budget")
    assert any(c.message.startswith("not run: the submission's time budget of 4 s") for c in result.checks)


def test_forged_unit_events_do_not_buy_more_time(budgeted, tmp_path):
    # A top-level loop that keeps announcing "the next unit is starting", which used to reset the
    # load deadline every time. Forty more units give it indices to announce.
    forge = ("import json, os, struct, sys, time\n"
             "i = sys._getframe(0).f_globals.get('_i', 1)\n"
             "while True:\n"
             "    h = json.dumps({'event': 'unit', 'index': min(i, 40)}).encode()\n"
             "    os.write(3, struct.pack('>Q', len(h)) + h)\n"
             "    i += 1\n"
             "    time.sleep(0.5)\n")
    source = forge + "x = 0\n" * 40 + CORRECT
    result, took = grade(budgeted, tmp_path, source, "forged_units")
    assert took < BUDGET + 2.5, took
    assert result.score == 0 and all(c.status in ("error", "timeout") for c in result.checks)


def test_one_slow_student_leaves_the_next_one_untouched(budgeted, tmp_path):
    _, took = grade(budgeted, tmp_path, "import time\n" + "time.sleep(1.5)\n" * 8 + CORRECT, "slow")
    result, _ = grade(budgeted, tmp_path, CORRECT, "next")
    assert took < BUDGET + 2.5 and result.score == result.max_score
