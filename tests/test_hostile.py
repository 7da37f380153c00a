"""Hostile submissions, all graded in ONE batch (two workers) next to correct ones.

The attacks are in ``tests/hostile/`` (see its README). The batch runs in a helper process
that is PID 1 of a PID namespace of its own (``unshare --pid --fork --mount-proc``): the
sandbox's own layers (a PID namespace per sandbox, an unprivileged uid) already keep
``kill(-1)`` and fork storms inside each sandbox, and this outer namespace makes sure that
even if those layers were broken, a failure could not take down processes of the machine
outside the test. It also gives an exact answer to "does any process outlive the batch":
once the batch is over, the helper must be alone in its namespace.

Expected: each submission gets the score its working functions deserve (an attack never
raises a score), the batch finishes, other submissions' scores are unaffected, no process or
file outlives the batch, the loopback listeners receive nothing, the secret in the grader's
environment never appears in any output or in the gradebook, and the gradebook holds exactly
what the grader wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.gradebook import Gradebook

from conftest import ROOT, SAMPLES

HOSTILE = Path(__file__).resolve().parent / "hostile"
CORRECT = (SAMPLES / "perceptron" / "correct.py").read_text()
ACTIVATION = {"all_seven_activations", "unknown_activation_raises", "activations_on_random_inputs"}
EVERYTHING = "every check"

#: Checks each submission must lose (all others must pass): an attack never raises a score.
EXPECTED_LOST: dict[str, set[str] | str] = {
    "correct": set(),
    "correct_twin": set(),
    "loop_at_import": set(),
    "loop_in_function": ACTIVATION,
    "fork_storm": set(),
    "fork_returns": set(),
    "memory_numpy": ACTIVATION,
    "memory_torch": ACTIVATION,
    "disk_fill": set(),
    "network": set(),
    "steal_reference": EVERYTHING,
    "monkeypatch_compare": ACTIVATION,
    "fake_results": EVERYTHING,
    "os_exit": ACTIVATION,
    "sys_exit": ACTIVATION,
    "sigterm_ignored": ACTIVATION,
    "segfault": ACTIVATION,
    "recursion": ACTIVATION,
    "stdout_flood": set(),
    "thread_forever": set(),
    "pickle_object_array": ACTIVATION,
    "environ_secret": set(),
    "gradebook_rewrite": EVERYTHING,
    "kill_parent": set(),
}
LIMITS = {"check_timeout": 2, "load_timeout": 3, "memory_mb": 512, "output_bytes": 16384, "scratch_mb": 32,
          "warm_imports": ["numpy", "torch"]}

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox's isolation layers are Linux namespaces"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare for the outer PID namespace"),
    pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() != 0,
                       reason="an outer PID namespace around the batch needs root (CI runs as root)"),
]


class Listeners:
    """Loopback services of the grading host: TCP on 127.0.0.1 and ::1, UDP on 127.0.0.1."""

    def __init__(self):
        self.received: list[str] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.tcp6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.ports = {"__TCP_PORT__": self.tcp.getsockname()[1], "__TCP6_PORT__": self.tcp6.getsockname()[1],
                      "__UDP_PORT__": self.udp.getsockname()[1]}
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import selectors

        selector = selectors.DefaultSelector()
        for sock in (self.tcp, self.tcp6, self.udp):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while not self._stop:
            for key, _ in selector.select(timeout=0.1):
                sock = key.fileobj
                try:
                    if sock is self.udp:
                        data, peer = sock.recvfrom(65536)
                        self.received.append(f"udp from {peer}: {data!r}")
                    else:
                        conn, peer = sock.accept()
                        self.received.append(f"tcp connection from {peer}")
                        conn.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        for sock in (self.tcp, self.tcp6, self.udp):
            sock.close()


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file and its hash (bytecode the trusted process caches when importing checks aside)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _make_course(root: Path) -> Path:
    course = root / "course"
    shutil.copytree(ROOT / "assignments" / "perceptron", course / "assignments" / "perceptron")
    (course / "reference").mkdir(parents=True)
    shutil.copy(ROOT / "reference" / "perceptron.py", course / "reference" / "perceptron.py")
    toml = course / "assignments" / "perceptron" / "assignment.toml"
    head = toml.read_text().partition("[limits]")[0]
    lines = [f"{key} = {json.dumps(value)}" for key, value in LIMITS.items()]
    toml.write_text(head + "[limits]\n" + "\n".join(lines) + "\n")
    return course


def _submission(path: Path, substitutions: dict[str, str]) -> str:
    text = path.read_text()
    for key, value in substitutions.items():
        text = text.replace(key, str(value))
    base = text.splitlines()[0].strip()
    assert base in ("# BASE: correct", "# BASE: none"), f"{path.name}: first line must say its BASE"
    return (CORRECT + "\n\n" + text) if base == "# BASE: correct" else text


class Batch:
    """Everything the one hostile batch produced, for the tests below to look at."""

    def __init__(self, root: Path, threads: int):
        self.root = root
        self.course = _make_course(root)
        self.submissions = root / "submissions"
        self.submissions.mkdir()
        self.tmpdir = root / "tmp"
        self.tmpdir.mkdir()
        self.cwd = root / "cwd"
        self.cwd.mkdir()
        self.gradebook = root / "gradebook.db"
        self.out = root / "batch.json"
        self.marker = root / "PICKLE_PAYLOAD_RAN"
        self.secret = "s3cret-" + secrets.token_hex(12)
        self.listeners = Listeners()
        substitutions = {**self.listeners.ports, "__COURSE__": self.course, "__SUBMISSIONS__": self.submissions,
                         "__GRADEBOOK__": self.gradebook, "__MARKER__": self.marker, "__OUT__": root}
        names = sorted(p.stem for p in HOSTILE.glob("*.py") if not p.name.startswith("_"))
        assert set(names) | {"correct", "correct_twin"} == set(EXPECTED_LOST), "every hostile file needs an expectation"
        for name in names:
            (self.submissions / f"{name}.py").write_text(_submission(HOSTILE / f"{name}.py", substitutions))
        (self.submissions / "correct.py").write_text(CORRECT)
        (self.submissions / "correct_twin.py").write_text(CORRECT)
        self.course_before = _snapshot(self.course)
        self.submissions_before = _snapshot(self.submissions)
        self.host_tmp_before = set(os.listdir("/tmp"))
        self.shm_before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "TMPDIR": str(self.tmpdir),
               "LANG": "C.UTF-8", "GRADER_TEST_SECRET": self.secret}
        command = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(HOSTILE / "_batch.py"),
                   str(self.course), str(self.submissions), str(self.gradebook), str(self.out), "2", str(threads)]
        started = time.monotonic()
        try:
            self.process = subprocess.run(command, env=env, cwd=self.cwd, capture_output=True, timeout=170)
        finally:
            self.wall = time.monotonic() - started
            time.sleep(0.2)  # anything that did get through to a listener has arrived by now
            self.listeners.close()
        assert self.process.returncode == 0, self.process.stderr.decode(errors="replace")[-4000:]
        self.data = json.loads(self.out.read_text())
        self.results = {r["student"]: r for r in self.data["results"]}


@pytest.fixture(scope="module", params=[2, 1], ids=["threads of one worker", "a worker per job"])
def batch(request, tmp_path_factory) -> Batch:
    """The hostile batch, graded by two threads sharing a worker (a torch assignment's way) and by
    two worker processes (a NumPy assignment's): one student's file never reaches another's either way."""
    return Batch(tmp_path_factory.mktemp("hostile"), threads=request.param)


def _checks(result: dict) -> dict[str, dict]:
    return {c["name"]: c for c in result["checks"]}


def test_the_batch_finishes_with_every_submission_graded(batch):
    assert set(batch.results) == set(EXPECTED_LOST)
    assert all(r["status"] == "graded" for r in batch.results.values())
    assert batch.data["elapsed"] < 120, batch.data["elapsed"]
    print(f"hostile batch: {len(batch.results)} submissions in {batch.data['elapsed']:.1f} s "
          f"({batch.wall:.1f} s with start-up)")


@pytest.mark.parametrize("student", sorted(EXPECTED_LOST))
def test_each_submission_gets_what_its_working_functions_deserve(batch, student):
    result = batch.results[student]
    checks = _checks(result)
    lost = set(checks) if EXPECTED_LOST[student] == EVERYTHING else EXPECTED_LOST[student]
    for name, check in checks.items():
        if name in lost:
            assert check["score"] == 0 and check["status"] != "passed", (name, check)
        else:
            assert check["status"] == "passed", (name, check["message"], result["notes"], result["output"][-2000:])
    assert result["score"] == sum(c["max_score"] for n, c in checks.items() if n not in lost)


def test_other_submissions_are_unaffected(batch):
    for student in ("correct", "correct_twin"):
        result = batch.results[student]
        assert result["score"] == result["max_score"] == 32
        assert result["notes"] == [] and result["output"] == ""


def test_how_each_attack_ends_is_reported(batch):
    def message(student, check="all_seven_activations"):
        return _checks(batch.results[student])[check]["message"]

    assert _checks(batch.results["loop_in_function"])["all_seven_activations"]["status"] == "timeout"
    assert _checks(batch.results["sigterm_ignored"])["all_seven_activations"]["status"] == "timeout"
    assert "SIGSEGV" in message("segfault")
    assert "MemoryError" in message("memory_numpy")
    assert "RuntimeError" in message("memory_torch")
    assert "exited with status 0" in message("os_exit")
    assert "SystemExit" in message("sys_exit")
    assert any("did not finish within 3 s (skipped)" in note["text"] for note in batch.results["loop_at_import"]["notes"])
    assert "forked" in batch.results["fork_storm"]["output"]
    assert "forked 8 children that return" in batch.results["fork_returns"]["output"]
    written = int(batch.results["disk_fill"]["output"].split("wrote ")[1].split(" MiB")[0])
    assert 0 < written <= LIMITS["scratch_mb"]  # the disk fill ended at the private filesystem's size


def test_an_object_array_whose_pickle_runs_a_command_is_unsupported_and_never_unpickled(batch):
    check = _checks(batch.results["pickle_object_array"])["all_seven_activations"]
    assert check["status"] != "passed"
    assert "unsupported" in check["message"] or "cannot be graded" in check["message"], check["message"]
    assert not batch.marker.exists()


def test_loopback_services_of_the_host_receive_nothing_and_dns_fails_fast(batch):
    assert batch.listeners.received == []
    output = batch.results["network"]["output"]
    assert "CONNECTED" not in output and "UDP SENT" not in output and "RESOLVED" not in output, output
    assert "RAW SOCKET" not in output
    seconds = float(output.split("dns failed after ")[1].split(" s")[0])
    assert seconds < 1.0, output
    assert batch.results["network"]["notes"] == []


def test_the_reference_and_other_submissions_cannot_be_found(batch):
    output = batch.results["steal_reference"]["output"]
    assert "FOUND" not in output and "nothing to steal" in output, output
    assert batch.results["steal_reference"]["score"] == 0


def test_fake_results_change_nothing(batch):
    assert batch.results["fake_results"]["score"] == 0
    assert "could not write __" not in batch.results["fake_results"]["output"]
    created = [p for p in batch.root.rglob("results.json")]
    assert created == []
    assert not Path("/autograder/results/results.json").exists()


def test_the_secret_in_the_graders_environment_never_appears(batch):
    text = batch.out.read_text()
    assert batch.secret not in text
    assert "GRADER_TEST_SECRET" not in text
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(batch.gradebook) + suffix)
        if path.exists():
            assert batch.secret.encode() not in path.read_bytes()
    output = batch.results["environ_secret"]["output"]
    assert "ENV {" in output  # it did print what it could see


def test_the_gradebook_holds_exactly_what_the_grader_wrote(batch):
    assert "REWROTE" not in batch.results["gradebook_rewrite"]["output"]
    with Gradebook.open(str(batch.gradebook)) as book:
        stored = {r.student: r for r in book.latest("perceptron")}
        histories = {s: len(book.history("perceptron", s)) for s in stored}
    assert set(stored) == set(batch.results)
    assert set(histories.values()) == {1}
    for student, result in batch.results.items():
        assert stored[student].score == result["score"], student
        assert {c.name: (c.score, c.status) for c in stored[student].checks} == \
            {c["name"]: (c["score"], c["status"]) for c in result["checks"]}, student


def test_output_is_capped(batch):
    output = batch.results["stdout_flood"]["output"]
    assert len(output) < LIMITS["output_bytes"] + 200
    assert "more bytes of output dropped" in output


def test_no_process_outlives_the_batch(batch):
    assert batch.data["leftovers"] == []
    assert batch.data["pid"] == 1  # the helper really was PID 1 of a namespace of its own


def test_no_file_outlives_the_batch_and_the_course_is_untouched(batch):
    assert list(batch.tmpdir.iterdir()) == []  # scratch folders, private roots' mount points
    assert list(batch.cwd.iterdir()) == []
    assert _snapshot(batch.course) == batch.course_before
    assert _snapshot(batch.submissions) == batch.submissions_before
    new_in_tmp = set(os.listdir("/tmp")) - batch.host_tmp_before
    assert not [name for name in new_in_tmp if name.startswith(("fill-", "huge", "results"))], new_in_tmp
    if os.path.isdir("/dev/shm"):
        assert not [n for n in set(os.listdir("/dev/shm")) - batch.shm_before if n.startswith("fill-")]
