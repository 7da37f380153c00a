"""The sandboxed runner with real misbehaving submissions: every outcome is reported, none sinks the batch."""

import os
import tempfile
import time

import pytest

from grader.course.assignment import get_assignment
from grader.grading.grader import Grader
from grader.sandbox import isolation
from grader.sandbox.forkserver import ForkServer
from grader.sandbox.session import SubmissionSandbox
from grader.intake.submission import python_submission

from conftest import SAMPLES, write

CORRECT = (SAMPLES / "perceptron" / "correct.py").read_text()
ACTIVATION_CHECKS = {"all_seven_activations", "unknown_activation_raises", "activations_on_random_inputs"}


@pytest.fixture
def quick_grader(make_course, forkserver):
    """Perceptron with a 1 s check limit and a 2 s load limit, sharing the session's warm parent."""
    root = make_course(check_timeout=1.0, load_timeout=2.0, memory_mb=512, output_bytes=4096)
    with Grader(get_assignment("perceptron", root), forkserver=forkserver) as grader:
        yield grader


def grade_source(grader, tmp_path, source, name="student"):
    return grader.grade_file(write(tmp_path / f"{name}.py", source), name)


def by_name(result):
    return {c.name: c for c in result.checks}


def assert_only_activation_checks_lost(result):
    checks = by_name(result)
    for name, check in checks.items():
        if name in ACTIVATION_CHECKS:
            assert check.score == 0, name
        else:
            assert check.status == "passed", (name, check.message)


def test_infinite_loop_in_a_function_times_out_and_a_fresh_process_serves_the_rest(quick_grader, tmp_path):
    started = time.monotonic()
    result = grade_source(quick_grader, tmp_path, CORRECT + "\ndef activation(name, z):\n    while True:\n        pass\n")
    checks = by_name(result)
    assert checks["all_seven_activations"].status == "timeout"
    assert checks["all_seven_activations"].message == \
        "activation() did not finish within the 1 s time limit of this check"
    assert_only_activation_checks_lost(result)
    assert time.monotonic() - started < 10


def test_infinite_loop_at_import_skips_that_statement_only(quick_grader, tmp_path):
    source = CORRECT.replace("def extend(X):", "while True:\n    pass\n\n\ndef extend(X):")
    result = grade_source(quick_grader, tmp_path, source)
    assert result.score == result.max_score
    assert any("did not finish within 2 s (skipped)" in note.text for note in result.notes), result.notes


def test_os_exit_in_a_function_is_a_crash_with_its_reason(quick_grader, tmp_path):
    result = grade_source(quick_grader, tmp_path, CORRECT + "\nimport os\ndef activation(name, z):\n    os._exit(3)\n")
    check = by_name(result)["all_seven_activations"]
    assert check.status == "error"
    assert check.message == ("your code stopped the sandbox during activation(): "
                             "it exited with status 3 (os._exit or a crash)")
    assert_only_activation_checks_lost(result)


def test_segfault_is_reported_as_such(quick_grader, tmp_path):
    source = CORRECT + "\nimport ctypes\ndef activation(name, z):\n    ctypes.string_at(0)\n"
    check = by_name(grade_source(quick_grader, tmp_path, source))["all_seven_activations"]
    assert check.message.endswith("crashed with a segmentation fault (SIGSEGV)")


def test_running_out_of_cpu_time_is_reported_as_such_not_as_a_mystery_kill(make_course, forkserver, tmp_path):
    # As PID 1 of its namespace the sandbox never sees the soft limit's SIGXCPU, only the hard
    # limit's SIGKILL, which alone would read like the out-of-memory killer.
    root = make_course(check_timeout=20.0, load_timeout=20.0, cpu_seconds=1)
    with Grader(get_assignment("perceptron", root), forkserver=forkserver) as grader:
        source = CORRECT + "\ndef activation(name, z):\n    while True:\n        pass\n"
        check = by_name(grade_source(grader, tmp_path, source))["all_seven_activations"]
    assert check.status == "error"
    assert check.message == ("your code stopped the sandbox during activation(): "
                             "it used more than 1 s of CPU time")


def test_sys_exit_in_a_function_is_an_error_not_a_crash(quick_grader, tmp_path):
    source = CORRECT + "\nimport sys\ndef activation(name, z):\n    sys.exit(4)\n"
    check = by_name(grade_source(quick_grader, tmp_path, source))["all_seven_activations"]
    assert check.status == "error"
    assert check.message.startswith("activation() raised SystemExit: sys.exit(4) was called (student.py, line ")


def test_student_exception_names_type_message_and_line(quick_grader, tmp_path):
    source = CORRECT + "\ndef activation(name, z):\n    return undefined_name\n"
    result = grade_source(quick_grader, tmp_path, source)
    line = source.count("\n") - 0  # the return line is the last line
    assert by_name(result)["all_seven_activations"].message == \
        f"activation() raised NameError: name 'undefined_name' is not defined (student.py, line {line})"


def test_unsupported_return_type_fails_the_check(quick_grader, tmp_path):
    source = CORRECT + "\ndef activation(name, z):\n    return (v for v in z)\n"
    check = by_name(grade_source(quick_grader, tmp_path, source))["all_seven_activations"]
    assert check.status == "failed"
    assert check.message == "activation('linear', z): unsupported return type generator; expected a numpy array"


def test_missing_function_is_named(quick_grader, tmp_path):
    source = CORRECT.replace("def activation(", "def activation_typo(")
    check = by_name(grade_source(quick_grader, tmp_path, source))["all_seven_activations"]
    assert (check.status, check.message) == ("error", "activation is not defined in your submission")


def test_in_place_modification_of_an_argument_fails_the_check(quick_grader, tmp_path):
    source = CORRECT.replace("def activation(", "def correct_activation(") + (
        "\ndef activation(name, z):\n    out = correct_activation(name, z)\n"
        "    if name == 'relu':\n        np.maximum(z, 0, out=z)\n    return out\n")
    checks = by_name(grade_source(quick_grader, tmp_path, source))
    assert checks["activations_on_random_inputs"].message == (
        "activation() modified its argument z in place; leave inputs unchanged: work on a copy (e.g. z.copy()) "
        "or build a new array")


def test_output_is_captured_and_capped(quick_grader, tmp_path):
    source = "print('hello from the student')\nimport sys\nsys.stdout.write('x' * 100000)\n" + CORRECT
    result = grade_source(quick_grader, tmp_path, source)
    assert result.output.startswith("hello from the student\n")
    assert "more bytes of output dropped]" in result.output
    assert len(result.output) < 4096 + 100
    assert result.score == result.max_score



def test_a_call_that_prints_more_than_a_pipe_holds_is_answered(quick_grader, tmp_path):
    # Each step() call prints 200 kB (a pipe holds 64 kB): the child would block on a full pipe,
    # and every check calling step() time out, unless the grader drains the pipe while it waits.
    source = CORRECT + "\n_correct_step = step\ndef step(z):\n    print('s' * 200_000)\n    return _correct_step(z)\n"
    result = grade_source(quick_grader, tmp_path, source)
    assert result.score == result.max_score, [(c.name, c.message) for c in result.checks if c.status != "passed"]
    assert result.output.startswith("s" * 4096)
    assert "more bytes of output dropped]" in result.output


def test_what_the_last_call_printed_is_kept(quick_grader, tmp_path):
    # The last check's train_perceptron() prints just before the sandbox is closed: its text is
    # in the pipe by the time its answer arrives, and closing takes it without waiting for the end.
    source = CORRECT.replace("def train_perceptron(", "def _correct_train(", 1) + (
        "\ndef train_perceptron(*args, **kwargs):\n    print('TRAINED', kwargs.get('max_epochs'))\n"
        "    return _correct_train(*args, **kwargs)\n")
    result = grade_source(quick_grader, tmp_path, source)
    assert result.score == result.max_score
    assert result.output.rstrip().endswith("TRAINED 3"), result.output[-200:]  # max_epochs_respected's last call


def test_memory_limit_turns_a_huge_allocation_into_a_memory_error(quick_grader, tmp_path):
    source = CORRECT + "\ndef activation(name, z):\n    big = np.ones((4096, 1024, 1024), dtype=np.uint8)\n    return big\n"
    check = by_name(grade_source(quick_grader, tmp_path, source))["all_seven_activations"]
    assert check.status == "error"
    assert "MemoryError" in check.message


def test_stdin_is_closed_and_cwd_is_a_private_scratch_folder_removed_afterwards(quick_grader, tmp_path):
    source = CORRECT + (
        "\nimport os\nprint('CWD=' + os.getcwd())\n"
        "try:\n    input()\nexcept EOFError:\n    print('STDIN=closed')\n"
        "open('left_behind.txt', 'w').write('x')\n")
    before = set(os.listdir(tempfile.gettempdir()))
    result = grade_source(quick_grader, tmp_path, source)
    assert "STDIN=closed" in result.output
    cwd = result.output.split("CWD=")[1].split("\n")[0]
    if quick_grader._forkserver.private_root:  # a tmpfs of its own: nothing on the host at all
        assert cwd == isolation.SANDBOX_HOME
    else:
        assert "grader-sandbox-" in cwd and not os.path.exists(cwd)
    assert not list(tmp_path.rglob("left_behind.txt"))
    assert set(os.listdir(tempfile.gettempdir())) - before <= {p for p in os.listdir(tempfile.gettempdir())
                                                               if p.startswith("pytest-")}
    assert result.score == result.max_score


def test_secret_environment_variables_never_reach_the_sandbox(perceptron, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "s3cr3t-token")
    source = CORRECT + "\nimport os\nprint(sorted(os.environ.items()))\nprint(open('/proc/self/environ').read())\n"
    with Grader(perceptron, visibility="public", forkserver=ForkServer(("numpy",)).start()) as grader:
        try:
            result = grader.grade_file(write(tmp_path / "spy.py", source), "spy")
        finally:
            grader._forkserver.close()
    assert "PATH" in result.output
    assert "s3cr3t-token" not in result.output
    assert "GRADER_TEST_SECRET" not in result.output


def test_a_crash_while_loading_a_notebook_cell_skips_only_that_cell(quick_grader, tmp_path):
    source = CORRECT.replace("def extend(X):", "import os\nos._exit(9)\n\n\ndef extend(X):")
    result = grade_source(quick_grader, tmp_path, source)
    assert result.score == result.max_score
    assert any("stopped the sandbox: it exited with status 9" in note.text for note in result.notes), result.notes


def test_an_answer_waiting_when_the_grader_comes_late_is_taken_and_none_waiting_is_a_timeout():
    # The grader may read late (a busy machine, another grading thread holding the GIL): what
    # the child sent in time is its answer, not a timeout; with nothing sent, the deadline holds.
    import socket

    from grader.sandbox.runner import _BufferedReader, _OutputPipe

    ours, theirs = socket.socketpair()
    out_read, out_write = os.pipe()
    output = _OutputPipe(out_read, 1024)
    try:
        reader = _BufferedReader(ours, output)
        reader.deadline = time.monotonic() - 1.0
        with pytest.raises(socket.timeout):
            reader.read(4)
        theirs.sendall(b"done")
        os.write(out_write, b"printed before it")
        assert reader.read(4) == b"done"
        output.drain()
        assert output.text() == "printed before it"
    finally:
        for end in (ours, theirs):
            end.close()
        output.close()
        os.close(out_write)


@pytest.mark.parametrize("batch", [True, False])
def test_numpy_random_is_imported_in_the_warm_parent_for_the_sandboxes_after_the_first(perceptron, batch):
    """numpy loads numpy.random on first use (15-20 ms); in a batch the warm parent imports it
    after handing out the first sandbox, so later submissions do not each pay for it."""
    source = "import sys\n\ndef loaded():\n    return 'numpy.random' in sys.modules\n"
    submission = python_submission(source, "probe.py", "probe")
    with ForkServer(("numpy",), limits=perceptron.limits, batch=batch) as server:
        seen = []
        for _ in range(3):
            sandbox = SubmissionSandbox(server, perceptron.limits, submission, module_name="student")
            try:
                seen.append(sandbox.call("student", "loaded", (), {}))
            finally:
                sandbox.close()
    assert seen == ([False, True, True] if batch else [False, False, False])
