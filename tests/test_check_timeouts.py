"""``@check(timeout=...)``: seconds, or a function of the assignment's settings, worked out when grading starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from grader.checks import check
from grader.cli import cli
from grader.course.assignment import get_assignment
from grader.grading.grader import Grader

from conftest import write

CHECKS = '''
from grader.checks import check


@check(points=1, timeout=lambda settings: settings["training"]["budget_seconds"] + 0.5)
def waits(ctx):
    """Waits as long as the student's function does."""
    ctx.student.wait()


@check(points=1)
def quick(ctx):
    """Uses the default limit."""
    ctx.student.wait()


@check(points=1, timeout=7)
def fixed(ctx):
    """A number of seconds, as before."""
'''


def _course(root, budget="1", checks=CHECKS):
    write(root / "assignments" / "slow" / "assignment.toml",
          f'title = "Slow"\nmodule = "slow"\n\n[training]\nbudget_seconds = {budget}\n\n[limits]\ncheck_timeout = 5\n'
          'warm_imports = []\n')
    write(root / "assignments" / "slow" / "stub.py", "def wait():\n    raise NotImplementedError\n")
    write(root / "assignments" / "slow" / "checks.py", checks)
    write(root / "reference" / "slow.py", "def wait():\n    pass\n")
    return root


def test_check_takes_seconds_or_a_function_of_the_settings_and_refuses_anything_else():
    def body(ctx):
        """Body."""

    made = check(points=1, timeout=lambda settings: 2 * settings["t"])(body).__grader_check__
    assert made.time_limit({"t": 4}, 10) == 8.0
    assert check(points=1, timeout=3)(body).__grader_check__.time_limit({}, 10) == 3.0
    assert check(points=1)(body).__grader_check__.time_limit({}, 10) == 10.0
    for wrong in (0, -1, True, "30"):
        with pytest.raises(ValueError, match="timeout must be a positive number of seconds or a function"):
            check(points=1, timeout=wrong)
    with pytest.raises(ValueError, match=r"^the timeout of check body failed on the assignment's settings: "
                                         r"KeyError: 't'$"):
        made.time_limit({}, 10)
    with pytest.raises(ValueError, match=r"^the timeout of check body gave -8; expected a positive number"):
        made.time_limit({"t": -4}, 10)


def test_the_grader_applies_the_limit_the_settings_give(tmp_path):
    root = _course(tmp_path)
    student = write(tmp_path / "ann.py", "import time\n\ndef wait():\n    time.sleep(3)\n")
    with Grader(get_assignment("slow", root)) as grader:
        assert grader.time_limits == {"waits": 1.5, "quick": 5.0, "fixed": 7.0}
        result = grader.grade_file(student, "ann")
    waits, quick, fixed = result.checks
    assert (waits.status, waits.reason) == ("timeout", "timeout") and "1.5 s" in waits.message
    assert quick.status == "passed" and fixed.status == "passed"  # 3 s is within the default 5 s


def test_a_timeout_function_that_fails_on_the_settings_stops_grading_before_it_starts(tmp_path):
    root = _course(tmp_path, budget='"soon"')
    student = write(tmp_path / "ann.py", "def wait():\n    pass\n")
    result = CliRunner().invoke(cli, ["--course", str(root), "check", "slow", str(student)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr == (f"AssignmentError: {root / 'assignments' / 'slow' / 'checks.py'}: the timeout of check "
                             "waits failed on the assignment's settings: TypeError: can only concatenate str (not "
                             "\"float\") to str\n")
