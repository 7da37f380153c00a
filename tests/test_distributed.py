"""Grading on a Dask cluster: a real scheduler and two workers on loopback, results as a local run's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from grader.grading.batch import grade_batch
from grader.intake.discover import find_submissions
from grader.cli import cli
from grader.errors import AssignmentError, ClusterError
from grader.gradebook import Gradebook

from conftest import SAMPLES

START_SECONDS = 60


def _volatile_free(data: dict) -> dict:
    """A result without what differs between two runs of the same grading: times."""
    data = dict(data)
    for key in ("duration", "student_seconds", "graded_at"):
        data.pop(key, None)
    data["checks"] = [{k: v for k, v in check.items() if k != "duration"} for check in data["checks"]]
    return data


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the worker and its sandbox parents
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a local Dask scheduler with two single-threaded workers; torn down after the module."""
    try:
        from distributed import Client
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Dask is not installed; CI must test it (the test extra has dask and distributed)")
        pytest.skip("Dask is not installed: pip install -c constraints.txt -e '.[test]'")
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    quiet = {"cwd": folder, "start_new_session": True, "stdin": subprocess.DEVNULL}
    processes = [subprocess.Popen(
        dask + ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(scheduler_file)],
        stdout=open(folder / "scheduler.log", "w"), stderr=subprocess.STDOUT, **quiet)]
    try:
        deadline = time.monotonic() + START_SECONDS
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if time.monotonic() > deadline or processes[0].poll() is not None:
                pytest.fail(f"the Dask scheduler did not start:\n{(folder / 'scheduler.log').read_text()[-2000:]}")
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written whole, but give it a moment
        address = json.loads(scheduler_file.read_text())["address"]
        for number in (1, 2):
            processes.append(subprocess.Popen(
                dask + ["worker", address, "--no-nanny", "--nthreads", "1", "--host", "127.0.0.1",
                        "--no-dashboard", "--death-timeout", "60", "--local-directory", str(folder / f"w{number}")],
                stdout=open(folder / f"worker{number}.log", "w"), stderr=subprocess.STDOUT, **quiet))
        with Client(address, timeout=START_SECONDS, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture
def submissions(tmp_path) -> Path:
    """The perceptron samples, copied: graded from a folder the workers are never told about."""
    folder = tmp_path / "submissions"
    shutil.copytree(SAMPLES / "perceptron", folder)
    return folder


def test_cluster_results_are_those_of_a_local_run(scheduler, submissions, perceptron, perceptron_grader,
                                                  course_root, tmp_path):
    files = find_submissions([submissions], perceptron.module)
    assert len(files) == 8
    local = {f.student: _volatile_free(perceptron_grader.grade_file(f.path, f.student).to_dict()) for f in files}

    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        remote = list(grade_batch(perceptron, files, course_root=course_root, gradebook=gradebook,
                                  scheduler=scheduler))
        stored = {r.student: r for r in gradebook.latest("perceptron")}
    # A batch records what each run was graded with; grading one file alone records nothing.
    assert {r.assignment_version for r in remote} == {perceptron.version}
    recorded = dict.fromkeys(("graded_at", "assignment_version", "grader_version", "numpy_version", "torch_version"))
    assert {r.student: _volatile_free(r.to_dict()) | recorded for r in remote} == \
        {student: data | recorded for student, data in local.items()}
    assert {s: r.score for s, r in stored.items()} == {s: d["score"] for s, d in local.items()}
    assert local["correct"]["score"] == local["correct"]["max_score"] and local["bug_syntax_error"]["status"] == "error"


def test_grade_command_with_a_scheduler_prints_what_a_local_run_prints(scheduler, submissions, perceptron,
                                                                        perceptron_grader, tmp_path):
    files = find_submissions([submissions], perceptron.module)
    local = {f.student: perceptron_grader.grade_file(f.path, f.student).to_json() for f in files}
    out = CliRunner().invoke(cli, ["grade", "perceptron", str(submissions), "--db", str(tmp_path / "g.db"),
                                   "--scheduler", scheduler, "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    # The command adds file times and what it graded with.
    lateness = ("submitted_at", "submitted_at_source", "days_late", "penalty",
                "assignment_version", "grader_version", "numpy_version", "torch_version")
    assert {line["student"]: {k: v for k, v in line.items() if k not in lateness} for line in lines} == \
        {student: {k: v for k, v in data.items() if k not in lateness} for student, data in local.items()}
    again = CliRunner().invoke(cli, ["grade", "perceptron", str(submissions), "--db", str(tmp_path / "g.db"),
                                     "--scheduler", scheduler], catch_exceptions=False)
    assert "0 graded, 8 unchanged since their last grading" in again.stdout  # nothing sent to the cluster


def test_without_dask_the_option_says_how_to_install_it(submissions, tmp_path):
    code = ("import sys; sys.modules['distributed'] = None; from grader.cli import main; "
            f"sys.argv = ['grader', 'grade', 'perceptron', {str(submissions / 'correct.py')!r}, "
            f"'--db', {str(tmp_path / 'g.db')!r}, '--scheduler', 'tcp://127.0.0.1:1']; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "UsageError: --scheduler needs Dask: pip install 'grader[dask]' (on the workers too)")


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch):
    pytest.importorskip("distributed")
    import grader.grading.distributed as cluster
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    with pytest.raises(ClusterError, match=rf"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        cluster._connect(f"tcp://127.0.0.1:{port}")


def test_a_worker_needs_the_same_course(make_course, monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    from grader.grading.distributed import GraderPlugin, assignment_fingerprint

    course = make_course("perceptron")
    fingerprint = assignment_fingerprint(course, "perceptron")
    worker = SimpleNamespace(address="tcp://10.0.0.7:4000")
    monkeypatch.delenv("GRADER_COURSE", raising=False)

    missing = GraderPlugin(str(tmp_path / "elsewhere"), "perceptron", "all", fingerprint)
    with pytest.raises(AssignmentError, match=r"Dask worker tcp://10.0.0.7:4000 has no course folder with "
                                              r"assignments/perceptron .*start the worker with GRADER_COURSE="):
        missing.setup(worker)

    monkeypatch.setenv("GRADER_COURSE", str(course))  # the course at another path on the worker
    GraderPlugin(str(tmp_path / "elsewhere"), "perceptron", "all", fingerprint).setup(worker)

    checks = course / "assignments" / "perceptron" / "checks.py"
    checks.write_text(checks.read_text() + "\n# edited on one machine only\n")
    with pytest.raises(AssignmentError, match="differs from the coordinator's for perceptron"):
        GraderPlugin(str(course), "perceptron", "all", fingerprint).setup(worker)
