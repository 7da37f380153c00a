"""Interrupting a batch (kill -9, Ctrl-C) loses nothing and leaves nothing behind; a rerun finishes it."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES
from procs import parent

GRADER = Path(sys.executable).parent / "grader"
SUBMISSIONS = 12


@pytest.fixture
def batch(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    source = (SAMPLES / "perceptron" / "correct.py").read_text()
    for i in range(SUBMISSIONS):
        # A slow top level, so the batch is surely still running when interrupted.
        (folder / f"s{i:02d}.py").write_text(f"import time\ntime.sleep(0.4)\n# student {i}\n" + source)
    return folder


def runs_and_checks(db: Path) -> tuple[int, int, set]:
    if not db.exists():
        return 0, 0, set()
    with sqlite3.connect(db) as conn:
        try:
            runs = conn.execute("select count(*) from grading_runs").fetchone()[0]
            checks = conn.execute("select count(*) from check_results").fetchone()[0]
            students = {row[0] for row in conn.execute(
                "select s.name from grading_runs r join submissions sub on r.submission_id = sub.id "
                "join students s on sub.student_id = s.id")}
        except sqlite3.OperationalError:  # tables not created yet
            return 0, 0, set()
    return runs, checks, students


def start(batch, db, marker, scratch):
    env = dict(os.environ, GRADER_TEST_MARKER=marker, TMPDIR=str(scratch))
    return subprocess.Popen([str(GRADER), "grade", "perceptron", str(batch), "--db", str(db), "--jobs", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_runs(db, at_least, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs_and_checks(db)[0] >= at_least:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    pytest.fail(f"fewer than {at_least} results stored within {timeout} s")


def leftovers(marker: str) -> list[str]:
    """Processes of that batch still alive: workers (by environment) or warm parents orphaned by them."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker.encode() in environ or ("grader.sandbox.zygote" in cmdline and parent(int(pid)) == 1):
            found.append(f"{pid}: {cmdline[:100]}")
    return found


def assert_nothing_left(marker):
    deadline = time.monotonic() + 10
    while leftovers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(marker) == []


def assert_complete_and_unduplicated(db):
    runs, checks, students = runs_and_checks(db)
    assert runs == SUBMISSIONS and len(students) == SUBMISSIONS
    assert checks == SUBMISSIONS * 17  # every stored run has all its check results


@pytest.mark.parametrize("how", ["kill -9", "ctrl-c"])
def test_interrupted_batch_finishes_on_rerun_with_nothing_lost_or_duplicated(batch, tmp_path, how):
    db = tmp_path / "g.db"
    marker = f"interrupt-{os.getpid()}-{how}"
    scratch = tmp_path / "scratch"  # where the grader makes the sandboxes' private folders
    scratch.mkdir()
    process = start(batch, db, marker, scratch)
    wait_for_runs(db, 2, process)
    if how == "kill -9":
        process.kill()
    else:
        os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    if how == "ctrl-c":
        assert process.returncode == 130
        assert "Interrupted: results stored so far are kept" in stderr
    stored, checks, _ = runs_and_checks(db)
    assert 2 <= stored < SUBMISSIONS
    assert checks == stored * 17  # no half-written submission
    assert_nothing_left(marker)

    rerun = start(batch, db, marker, scratch)
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert f"{SUBMISSIONS - stored} graded, {stored} unchanged" in stdout
    assert_complete_and_unduplicated(db)
    assert_nothing_left(marker)
    assert list(scratch.iterdir()) == []  # no sandbox folder survives, even those of the killed run
