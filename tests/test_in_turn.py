"""Files graded in turn (``Grader.grade_files``): the next file's sandbox loads while this one's
checks run, and nothing about a result may show it."""

from __future__ import annotations

import textwrap
import time

import pytest

from grader.course.assignment import get_assignment
from grader.grading.grader import Grader

from conftest import SAMPLES, write
from procs import children

CORRECT = (SAMPLES / "perceptron" / "correct.py").read_text()
BUDGET = 4.0


@pytest.fixture
def in_turn(make_course, forkserver):
    """Perceptron with a 4 s budget per submission and 2 s per unit or check."""
    root = make_course(check_timeout=2.0, load_timeout=2.0, submission_budget=BUDGET, warm_imports=["numpy"])
    with Grader(get_assignment("perceptron", root), forkserver=forkserver) as graded:
        yield graded


def _summary(result):
    return (result.status, result.score, result.error, result.fault, [n.text for n in result.notes],
            [(c.name, c.status, c.score, c.message, c.reason) for c in result.checks])


def test_files_graded_in_turn_get_the_results_they_get_alone(in_turn, tmp_path):
    files = [
        write(tmp_path / "correct.py", CORRECT),
        write(tmp_path / "syntax.py", CORRECT + "\ndef broken(:\n"),
        write(tmp_path / "other.py", (SAMPLES / "conv" / "correct.py").read_text()),
        write(tmp_path / "hangs.py", CORRECT.replace("def extend(X):", "import time\ntime.sleep(30)\n\n\ndef extend(X):")),
        write(tmp_path / "wrong.py", CORRECT.replace("int(z > 0)", "int(z >= 0)")),
        write(tmp_path / "empty.py", ""),
    ]
    alone = [in_turn.grade_file(path, path.stem) for path in files]
    in_order = list(in_turn.grade_files((path, path.stem) for path in files))
    assert [r.student for r in in_order] == [path.stem for path in files]
    assert [_summary(r) for r in in_order] == [_summary(r) for r in alone]
    # What the files are: so the comparison above compares something.
    assert alone[0].score == alone[0].max_score
    assert alone[1].status == "error" and alone[2].status == "error" and alone[5].status == "error"
    assert any("skipped" in note.text for note in alone[3].notes) and alone[3].score == alone[3].max_score
    assert 0 < alone[4].score < alone[4].max_score


def test_a_preloaded_submission_has_its_whole_budget_when_its_turn_comes(in_turn, tmp_path):
    # The first file spends its whole budget (a slow top level, then calls that hang), while the
    # second one's sandbox waits, loaded, for its turn.
    hungry = write(tmp_path / "hungry.py", "import time\ntime.sleep(1.5)\n"
                   + CORRECT.replace("def step(z):", "def step(z):\n    time.sleep(10)\n\n\ndef _unused(z):"))
    correct = write(tmp_path / "after.py", CORRECT)
    started = time.monotonic()
    first, second = in_turn.grade_files([(hungry, "hungry"), (correct, "after")])
    assert time.monotonic() - started > BUDGET  # the first did use up its budget
    assert any(c.reason == "budget" for c in first.checks)
    assert second.score == second.max_score, [(c.name, c.message) for c in second.checks if c.status != "passed"]


def test_stopping_part_way_leaves_no_sandbox_behind(in_turn, tmp_path):
    files = [write(tmp_path / f"s{i}.py", CORRECT) for i in range(3)]
    results = in_turn.grade_files((path, path.stem) for path in files)
    first = next(results)  # the second file's sandbox is loading now
    assert first.score == first.max_score
    results.close()
    warm_parent = in_turn._forkserver.warm_parent_pid
    deadline = time.monotonic() + 5
    while len(children(warm_parent)) > 1 and time.monotonic() < deadline:  # the one made ahead stays
        time.sleep(0.05)
    assert len(children(warm_parent)) <= 1


def test_a_hostile_file_loading_ahead_cannot_touch_the_one_being_graded(in_turn, tmp_path):
    """The next file's top level runs while this one's checks do: in a sandbox of its own (PID,
    mount, network and IPC namespaces), so forking all it may and signalling every pid it can
    name reaches nothing of the submission being graded."""
    if not in_turn._loads_ahead:
        pytest.skip("this host does not load the next file ahead")
    hostile = textwrap.dedent("""
        import os, signal, time
        for _ in range(200):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
            except OSError:
                break
        for pid in range(-1, 4000):
            if pid not in (0, os.getpid()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    """)
    first = write(tmp_path / "first.py", CORRECT)
    second = write(tmp_path / "second.py", hostile + CORRECT)
    graded, attacker = in_turn.grade_files([(first, "first"), (second, "second")])
    assert graded.score == graded.max_score, [(c.name, c.message) for c in graded.checks if c.status != "passed"]
    assert attacker.status == "graded"
