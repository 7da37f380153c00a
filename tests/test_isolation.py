"""Each isolation layer on its own: a tiny sandboxed function looks at the world from inside.

Most tests use a warm parent with every layer; the network test turns seccomp off so that
it is the network namespace alone that stops the connection, the identity test turns the
mount namespace off so that it is the uid alone that keeps the grader's files unreadable.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.errors import SandboxError
from grader.sandbox.forkserver import missing_layers_warning
from grader.sandbox import isolation
from grader.sandbox.forkserver import ForkServer
from grader.sandbox.limits import Limits
from grader.sandbox.session import SubmissionSandbox
from grader.intake.submission import python_submission

from conftest import ROOT, SAMPLES
from procs import children, cmdline, parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the isolation layers are Linux namespaces, seccomp and uids")

LIMITS = Limits(check_timeout=10, load_timeout=10, memory_mb=512, scratch_mb=16, processes=32)


def _server(**options) -> ForkServer:
    server = ForkServer(("numpy",), **options).start()
    missing = [layer for layer in server.layers
               if not layer.available and layer.name not in options.get("disable", ())]
    if missing:
        server.close()
        pytest.fail("layers this Linux host should allow are missing: "
                    + "; ".join(f"{layer.name}: {layer.detail}" for layer in missing))
    return server


@pytest.fixture(scope="module")
def sandboxed():
    server = _server()
    yield server
    server.close()


@pytest.fixture(scope="module")
def without_seccomp():
    server = _server(disable=("seccomp",))
    yield server
    server.close()


def run(server: ForkServer, source: str, *args, function: str = "probe", limits: Limits = LIMITS,
        timeout: float = 30.0):
    """Load ``source`` in a fresh sandbox, call ``function(*args)`` there; (value, output)."""
    submission = python_submission(textwrap.dedent(source), "probe.py", "probe")
    sandbox = SubmissionSandbox(server, limits, submission, module_name="probe")
    sandbox.start_check(timeout)
    try:
        value = sandbox.call("student", function, args, {})
    finally:
        sandbox.close()
    return value, sandbox.output()


def _processes_of_uid(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                for line in status:
                    if line.startswith("Uid:") and int(line.split()[1]) == uid:
                        found.append(int(entry))
        except OSError:
            pass
    return found


# --- detection and policy ------------------------------------------------------------------------

def test_every_layer_is_detected_on_this_host(sandboxed):
    layers = {layer.name: layer for layer in sandboxed.layers}
    assert list(layers) == list(isolation.LAYERS)
    assert all(layer.available for layer in layers.values()), layers
    assert sandboxed.missing_layers == []
    assert sandboxed.private_root
    if os.geteuid() == 0:
        assert sandboxed.mode == "root"
        assert isolation.FIRST_SLOT_UID < sandboxed.slot_uid < isolation.FIRST_SLOT_UID + isolation.SLOT_COUNT
        assert f"uid {sandboxed.slot_uid}" in layers["identity"].detail


def test_two_fork_servers_get_different_slots():
    if os.geteuid() != 0:
        pytest.skip("sandbox slots (a uid each) are for a grader started as root")
    first, second = ForkServer((), mode="root").start(), ForkServer((), mode="root").start()
    try:
        assert first.slot_uid != second.slot_uid
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("batch", [True, False])
def test_the_next_sandbox_is_made_ahead_for_a_batch_only(batch):
    """A batch finds the next submission's sandbox waiting; one submission (``grader check``)
    leaves no spare sandbox to take a core from its grading."""
    server = ForkServer((), limits=Limits(), batch=batch).start()
    try:
        if not server.private_root:
            pytest.skip("sandboxes are made ahead only where they get a private root")
        pid, channel, output = server.spawn({"limits": Limits().as_request()})
        deadline = time.monotonic() + 5
        while len(children(server.warm_parent_pid)) < (2 if batch else 1) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # time enough to make one ahead, if it were going to
        assert len(children(server.warm_parent_pid)) == (2 if batch else 1)
        channel.close()
        os.close(output)
        server.discard(pid)
    finally:
        server.close()


def _offered(server: ForkServer) -> int:
    """The pid of the sandbox the warm parent has offered (waiting in the grader's socket)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with server._lock:
            server._read_offers()
            if server._offer is not None:
                return server._offer[0]
        time.sleep(0.02)
    raise AssertionError("no sandbox was offered")


def test_a_spawn_takes_the_sandbox_offered_and_one_that_died_waiting_is_never_handed_out():
    server = ForkServer((), limits=Limits()).start()
    try:
        if not server.private_root:
            pytest.skip("sandboxes are made ahead only where they get a private root")
        offered = _offered(server)
        pid, channel, output = server.spawn({"limits": Limits().as_request()})
        assert pid == offered  # taken without a fork on demand
        channel.close()
        os.close(output)
        server.discard(pid)
        dead = _offered(server)  # made ahead after the hand-over
        assert dead != pid
        os.kill(dead, signal.SIGKILL)  # it dies waiting (its channel shows end of file)
        deadline = time.monotonic() + 5
        while not _zombie(dead) and time.monotonic() < deadline:
            time.sleep(0.02)
        pid, channel, output = server.spawn({"limits": Limits().as_request()})
        assert pid != dead
        sandbox_works = SubmissionSandbox(server, Limits(), python_submission("def f():\n    return 41 + 1\n", "s.py", "s"),
                                          module_name="student")
        try:
            assert sandbox_works.call("student", "f", (), {}) == 42
        finally:
            sandbox_works.close()
        channel.close()
        os.close(output)
        server.discard(pid)
    finally:
        server.close()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_grading_refuses_without_the_namespace_layers_and_says_why():
    with pytest.raises(SandboxError) as raised:
        ForkServer((), isolate=False, require_isolation=True).start()
    message = str(raised.value)
    assert "\n" not in message and "--insecure" in message
    for name in ("identity", "network", "filesystem", "processes"):
        assert isolation.TITLES[name] in message
    with pytest.raises(SandboxError, match="no network"):
        ForkServer((), disable=("network",), require_isolation=True).start()


def test_without_isolation_the_missing_layers_are_listed():
    server = ForkServer((), isolate=False).start()
    try:
        assert [layer.name for layer in server.missing_layers] == list(isolation.REQUIRED)
        assert not server.private_root
    finally:
        server.close()


def test_doctor_reports_layers_versions_and_start_up_mode():
    from grader.sandbox.doctor import host_report

    report = host_report(warm_imports=("numpy",), measure=3)
    data = report.to_dict()
    assert data["python"] == ".".join(map(str, sys.version_info[:3]))
    assert data["torch"] and data["numpy"]
    assert "warm fork server" in data["startup_mode"]
    assert [layer["name"] for layer in data["layers"]] == list(isolation.LAYERS)
    assert data["isolated"] and data["missing"] == [] and missing_layers_warning(report.missing) is None
    assert data["inside"]["pid"] == 1 and data["inside"]["hidden_paths_visible"] == []
    assert data["inside"]["network"].startswith("unreachable")
    assert 0 < data["sandbox_ms"] < 1000


# --- identity ----------------------------------------------------------------------------------

def test_the_sandbox_runs_as_its_slots_uid_with_no_capability(sandboxed):
    value, _ = run(sandboxed, """
        import os
        def probe():
            status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
            return [os.getuid(), os.geteuid(), os.getgid(), os.getgroups(),
                    status["CapEff"].strip(), status["CapPrm"].strip(), status["CapBnd"].strip(),
                    status["NoNewPrivs"].strip()]
    """)
    uid, euid, gid, groups, effective, permitted, bounding, no_new_privs = value
    if os.geteuid() == 0:
        assert uid == euid == gid == sandboxed.slot_uid and groups == []
    assert int(effective, 16) == int(permitted, 16) == int(bounding, 16) == 0
    assert no_new_privs == "1"


def test_the_uid_alone_keeps_the_graders_files_and_processes_out_of_reach(tmp_path):
    """Without the mount and PID namespaces, the dropped uid still cannot read, signal or trace."""
    if os.geteuid() != 0:
        pytest.skip("a dedicated uid per slot is for a grader started as root")
    secret = tmp_path / "secret.txt"
    secret.write_text("the grader's")
    secret.chmod(0o600)
    server = _server(disable=("filesystem", "processes", "seccomp"))
    try:
        value, _ = run(server, """
            import ctypes, errno, os, signal
            def probe(path, pid):
                seen = {}
                try:
                    seen["read"] = open(path).read()
                except OSError as exc:
                    seen["read"] = errno.errorcode[exc.errno]
                try:
                    os.kill(pid, signal.SIGTERM)
                    seen["kill"] = "sent"
                except OSError as exc:
                    seen["kill"] = errno.errorcode[exc.errno]
                libc = ctypes.CDLL(None, use_errno=True)
                seen["ptrace"] = libc.ptrace(16, pid, 0, 0) == 0 or errno.errorcode[ctypes.get_errno()]  # ATTACH
                seen["environ"] = os.access(f"/proc/{pid}/environ", os.R_OK)
                seen["pid"] = os.getpid()
                return seen
        """, str(secret), os.getpid())
    finally:
        server.close()
    assert value["pid"] != 1  # this server really had no PID namespace
    assert value["read"] == "EACCES"
    assert value["kill"] == "EPERM"
    assert value["ptrace"] == "EPERM"
    assert value["environ"] is False


def test_the_process_limit_counts_the_slot_uid(sandboxed):
    value, _ = run(sandboxed, """
        import os, resource, time
        def probe():
            children = 0
            for _ in range(200):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
            return [resource.getrlimit(resource.RLIMIT_NPROC), children]
    """)
    limit, children = value
    assert list(limit) == [LIMITS.processes, LIMITS.processes]
    if os.geteuid() == 0:  # root is exempt from RLIMIT_NPROC; the slot's uid is not
        assert children < LIMITS.processes
        # They all died with the sandbox: what still runs as the slot's uid is only the sandbox
        # the warm parent keeps ready for the next submission (its own child, PID 1 of its own
        # namespace), never a process the finished sandbox started.
        deadline = time.monotonic() + 5  # the warm parent reaps a finished sandbox in the background
        while len(left := _processes_of_uid(sandboxed.slot_uid)) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(left) <= 1 and all(parent(pid) == sandboxed.warm_parent_pid for pid in left), left


# --- network -----------------------------------------------------------------------------------

def test_the_network_namespace_alone_makes_loopback_services_unreachable(without_seccomp):
    received = []
    tcp = socket.create_server(("127.0.0.1", 0))
    tcp6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    for sock in (tcp, tcp6, udp):
        sock.settimeout(0.2)
    try:
        value, _ = run(without_seccomp, """
            import errno, socket, time
            def probe(tcp, tcp6, udp):
                seen = {}
                for key, family, address in (("tcp", socket.AF_INET, ("127.0.0.1", tcp)),
                                             ("tcp6", socket.AF_INET6, ("::1", tcp6))):
                    s = socket.socket(family, socket.SOCK_STREAM)
                    s.settimeout(5)
                    try:
                        s.connect(address)
                        seen[key] = "connected"
                    except OSError as exc:
                        seen[key] = errno.errorcode.get(exc.errno, str(exc))
                try:
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", udp))
                    seen["udp"] = "sent"
                except OSError as exc:
                    seen["udp"] = errno.errorcode.get(exc.errno, str(exc))
                started = time.monotonic()
                try:
                    socket.getaddrinfo("example.com", 443)
                    seen["dns"] = "resolved"
                except OSError:
                    seen["dns"] = time.monotonic() - started
                seen["interfaces"] = [name for _, name in socket.if_nameindex()]
                return seen
        """, tcp.getsockname()[1], tcp6.getsockname()[1], udp.getsockname()[1])
        for sock in (tcp, tcp6):
            try:
                received.append(sock.accept())
            except (socket.timeout, OSError):
                pass
        try:
            received.append(udp.recvfrom(100))
        except (socket.timeout, OSError):
            pass
    finally:
        for sock in (tcp, tcp6, udp):
            sock.close()
    assert received == []
    assert value["tcp"] == "ENETUNREACH" and value["udp"] == "ENETUNREACH"
    assert value["tcp6"] in ("ENETUNREACH", "EADDRNOTAVAIL")
    assert isinstance(value["dns"], float) and value["dns"] < 1.0  # fails fast
    assert value["interfaces"] == ["lo"]  # and it is down


# --- filesystem --------------------------------------------------------------------------------

def test_the_filesystem_view_hides_the_course_the_checkout_and_homes(sandboxed, tmp_path):
    import grader

    visible_to_grader = [str(ROOT / "reference" / "perceptron.py"), str(ROOT / "assignments"),
                         str(Path(grader.__file__).parent), str(SAMPLES), str(tmp_path), "/root", "/etc/shadow",
                         str(Path.home())]
    value, _ = run(sandboxed, """
        import os
        def probe(paths):
            return {"visible": [p for p in paths if os.path.exists(p)], "root": sorted(os.listdir("/")),
                    "home": os.listdir("/home"), "root_home": os.listdir("/root") if os.path.isdir("/root") else None,
                    "etc": sorted(os.listdir("/etc")), "cwd": os.getcwd(), "tmp": os.listdir("/tmp"),
                    "sys": os.path.exists("/sys")}
    """, visible_to_grader)
    needed = isolation.python_folders()
    assert not value["sys"]
    assert value["cwd"] == isolation.SANDBOX_HOME and value["home"] == ["student"]
    # A private /tmp: empty, but for the way to the interpreter or venv when those live under /tmp.
    assert all(any(isolation.inside(f, f"/tmp/{entry}") for f in needed) for entry in value["tmp"]), value["tmp"]
    assert set(value["root"]) <= {"bin", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "proc", "root",
                                  "sbin", "tmp", "usr"} | {folder.split("/")[1] for folder in needed}
    assert "shadow" not in value["etc"] and "passwd" in value["etc"]
    for path in value["visible"]:  # only ancestors of what Python needs may show (e.g. /root for pyenv)
        assert any(isolation.inside(folder, path) for folder in needed), path
    assert str(ROOT / "reference" / "perceptron.py") not in value["visible"]
    assert str(Path(grader.__file__).parent) not in value["visible"]
    assert str(tmp_path) not in value["visible"]
    if value["root_home"] is not None:  # just the way to the interpreter
        assert all(any(isolation.inside(f, f"/root/{entry}") for f in needed) for entry in value["root_home"])


def test_python_is_read_only_and_lazy_imports_still_work(sandboxed):
    value, _ = run(sandboxed, """
        import errno, os, subprocess, sys
        import numpy
        def probe():
            seen = {}
            for path in (os.path.dirname(os.__file__), os.path.dirname(numpy.__file__), "/usr/lib", "/", "/etc"):
                try:
                    open(os.path.join(path, "planted.py"), "w").close()
                    seen[path] = "written"
                except OSError as exc:
                    seen[path] = errno.errorcode[exc.errno]
            import sqlite3, json.tool, email.mime.text  # not loaded by the warm parent
            from numpy import testing
            seen["subprocess"] = subprocess.run([sys.executable, "-c", "import numpy; print(numpy.pi)"],
                                                capture_output=True, text=True).stdout.strip()
            seen["shell"] = subprocess.run(["sh", "-c", "id -un"], capture_output=True, text=True).stdout.strip()
            return seen
    """)
    assert value.pop("subprocess").startswith("3.14")
    assert value.pop("shell") == ("student" if os.geteuid() == 0 else "root")
    assert set(value.values()) <= {"EROFS", "EACCES"}, value


def test_writes_stay_in_the_sandbox_and_are_capped(sandboxed):
    source = """
        import os
        def probe(name):
            found = [p for p in ("/tmp", ".", "/dev/shm") if os.path.exists(os.path.join(p, "planted"))]
            for folder in ("/tmp", ".", "/dev/shm"):
                open(os.path.join(folder, "planted"), "w").write(name)
            written = 0
            try:
                while True:
                    with open(f"chunk-{written}", "xb") as f:
                        f.write(b"0" * (1 << 20))
                    written += 1
            except OSError as exc:
                return [found, written, exc.strerror]
    """
    first, _ = run(sandboxed, source, "first")
    second, _ = run(sandboxed, source, "second")
    assert first[0] == [] and second[0] == []  # nothing written survives the sandbox
    assert first[1] < LIMITS.scratch_mb and first[2] == "No space left on device"
    assert not any(name.startswith(("planted", "chunk-")) for name in os.listdir("/tmp"))  # nor reaches the host


def test_proc_shows_only_the_sandboxs_own_processes(sandboxed):
    value, _ = run(sandboxed, """
        import os
        def probe():
            return [os.getpid(), os.getppid(), sorted(int(p) for p in os.listdir("/proc") if p.isdigit())]
    """)
    assert value == [1, 0, [1]]


# --- processes ---------------------------------------------------------------------------------

def test_every_process_the_sandbox_starts_dies_with_it(sandboxed):
    if os.geteuid() != 0:
        pytest.skip("counting the slot uid's processes needs the root mode")
    _, output = run(sandboxed, """
        import os, signal, threading, time
        def forever():
            while True:
                time.sleep(0.05)
        threading.Thread(target=forever, daemon=False).start()
        if os.fork() == 0:  # a daemon: its own session, SIGTERM ignored, grandchild of the sandbox
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if os.fork() == 0:
                while True:
                    time.sleep(1)
            os._exit(0)
        def probe():
            time.sleep(0.3)
            print("processes:", sorted(p for p in os.listdir("/proc") if p.isdigit()))
            return 1
    """)
    assert output.startswith("processes: ['1', ")

    def leftovers():  # the slot uid's processes but the sandbox kept ready (the warm parent's own child)
        return [pid for pid in _processes_of_uid(sandboxed.slot_uid) if parent(pid) != sandboxed.warm_parent_pid]

    deadline = time.monotonic() + 5
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers() == []
    assert len(_processes_of_uid(sandboxed.slot_uid)) <= 1


def test_kill_minus_one_reaches_nothing_outside(sandboxed):
    watcher = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        value, _ = run(sandboxed, """
            import errno, os, signal
            def probe(pid):
                seen = []
                for target in (-1, pid, os.getppid()):
                    try:
                        os.kill(target, signal.SIGKILL)
                        seen.append("sent")
                    except OSError as exc:
                        seen.append(errno.errorcode[exc.errno])
                return seen
        """, watcher.pid)
        assert watcher.poll() is None  # alive
        assert value[0] == "ESRCH" and value[1] == "ESRCH"
    finally:
        watcher.kill()
        watcher.wait()


# --- seccomp -----------------------------------------------------------------------------------

def test_seccomp_is_a_second_wall(sandboxed):
    value, _ = run(sandboxed, """
        import ctypes, errno, os, socket, threading
        libc = ctypes.CDLL(None, use_errno=True)
        def err(result):
            return "ok" if result == 0 else errno.errorcode[ctypes.get_errno()]
        def probe():
            seen = {}
            for name, family in (("inet", socket.AF_INET), ("inet6", socket.AF_INET6), ("netlink", socket.AF_NETLINK)):
                try:
                    socket.socket(family, socket.SOCK_DGRAM).close()
                    seen[name] = "ok"
                except OSError as exc:
                    seen[name] = errno.errorcode[exc.errno]
            a, b = socket.socketpair()
            a.sendall(b"unix sockets work")
            seen["unix"] = b.recv(100).decode()
            seen["ptrace"] = err(libc.ptrace(0, 0, 0, 0))  # TRACEME
            seen["unshare"] = err(libc.unshare(0x10000000))  # CLONE_NEWUSER
            seen["mount"] = err(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
            seen["io_uring"] = err(libc.syscall(425, 8, ctypes.c_void_p(0)))  # io_uring_setup on x86_64
            results = []
            thread = threading.Thread(target=lambda: results.append("threads work"))
            thread.start()
            thread.join()
            seen["thread"] = results[0]
            pid = os.fork()
            if pid == 0:
                os._exit(7)
            seen["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            return seen
    """)
    assert value["inet"] == value["inet6"] == value["netlink"] == "EAFNOSUPPORT"
    assert value["unix"] == "unix sockets work"
    assert value["ptrace"] == value["unshare"] == value["mount"] == "EPERM"
    if os.uname().machine == "x86_64":
        assert value["io_uring"] == "ENOSYS"
    assert value["thread"] == "threads work" and value["fork"] == 7


# --- the unprivileged path ---------------------------------------------------------------------

def test_user_namespace_mode_gives_every_namespace_layer():
    """What an unprivileged grader gets (forced here: the same code path, started as root)."""
    server = _server(mode="userns")
    try:
        assert server.mode == "userns" and not server.host_pids and server.slot_uid is None
        value, _ = run(server, """
            import os, socket
            def probe(hidden):
                status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
                try:
                    socket.socket(socket.AF_INET).connect(("127.0.0.1", 9))
                    net = "reachable"
                except OSError:
                    net = "unreachable"
                capabilities = [int(status[name], 16) for name in ("CapEff", "CapPrm", "CapBnd")]
                return [os.getpid(), capabilities, os.path.exists(hidden), net]
        """, str(ROOT / "reference"))
        assert value == [1, [0, 0, 0], False, "unreachable"]
    finally:
        server.close()


def test_an_unprivileged_grader_gets_a_user_namespace(tmp_path):
    """A real non-root user (nobody): the warm parent enters a user namespace of its own."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare"):
        pytest.skip("needs root to become nobody (setpriv) in a mount namespace (unshare)")
    # nobody cannot traverse a 0700 /root holding the interpreter: in a mount namespace of
    # this test only, /root is an empty tmpfs with the interpreter's prefix bound into it.
    script = textwrap.dedent(f"""
        set -e
        exec 2>&1
        for folder in {" ".join(f"'{f}'" for f in isolation.python_folders())}; do
            case "$folder" in
            /root/*)
                mkdir -p "{tmp_path}/keep$folder"
                mount --bind "$folder" "{tmp_path}/keep$folder" ;;
            esac
        done
        if [ -d "{tmp_path}/keep/root" ]; then
            mount -t tmpfs -o mode=755 tmpfs /root
            for folder in {" ".join(f"'{f}'" for f in isolation.python_folders())}; do
                case "$folder" in /root/*) mkdir -p "$folder"; mount --bind "{tmp_path}/keep$folder" "$folder" ;; esac
            done
        fi
        chmod 777 "{tmp_path}"
        cd "{tmp_path}"
        exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "{sys.executable}" -c "$PROGRAM"
    """)
    program = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from grader.course.assignment import get_assignment
        from grader.grading.grader import Grader
        from grader.sandbox.forkserver import ForkServer
        server = ForkServer(("numpy",), require_isolation=True).start()
        assignment = get_assignment("perceptron", __import__("pathlib").Path({str(ROOT)!r}))
        with Grader(assignment, forkserver=server) as grader:
            result = grader.grade_file(__import__("pathlib").Path({str(SAMPLES / "perceptron" / "correct.py")!r}), "nobody")
        print(json.dumps({{"mode": server.mode, "layers": [[l.name, l.available] for l in server.layers],
                          "score": result.score, "max": result.max_score}}))
        server.close()
    """)
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"], "PROGRAM": program, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["mode"] == "userns"
    assert all(available for name, available in report["layers"] if name in isolation.REQUIRED), report
    assert report["score"] == report["max"]


# --- speed -------------------------------------------------------------------------------------

def test_a_namespaced_sandbox_forks_runs_and_is_reaped_in_tens_of_milliseconds(sandboxed):
    times = []
    for _ in range(10):
        started = time.perf_counter()
        value, _ = run(sandboxed, "def probe():\n    return 42\n")
        times.append(time.perf_counter() - started)
        assert value == 42
    median = statistics.median(times)
    print(f"fork-isolate-run-reap: median {median * 1000:.1f} ms, min {min(times) * 1000:.1f} ms")
    assert median < 0.25  # typically ~20 ms here; generous for a loaded machine


def test_a_cuda_assignment_s_sandboxes_get_the_gpu_device_files_and_others_do_not(tmp_path):
    """Only device = "cuda" binds the GPU's device files into the root (none here: no GPU; the
    names are read from /dev, so a host with an NVIDIA driver gets nvidiactl, nvidia0, nvidia-uvm)."""
    from grader.sandbox.isolation import rootfs

    plain = rootfs.root_spec("/tmp", 60001, 60001)
    gpu = rootfs.root_spec("/tmp", 60001, 60001, gpu=True)
    assert plain.devices == ("null", "zero", "full", "random", "urandom")
    assert gpu.devices == plain.devices + rootfs.gpu_devices()
    assert all(name.startswith("nvidia") for name in rootfs.gpu_devices())
    assert rootfs._GPU_DEVICE.match("nvidia0") and rootfs._GPU_DEVICE.match("nvidia-uvm")
    assert not rootfs._GPU_DEVICE.match("nvidia0;rm") and not rootfs._GPU_DEVICE.match("sda")


def test_the_warm_parent_starts_without_site_and_imports_as_with_it(forkserver):
    """``python -I -S``, given the folders ``site`` would have added: a sandbox finds the same
    packages and sees the same prefix, and the checkout beside the grader package stays out of
    its import path (``reference`` is one of its folders)."""
    assert b"-S" in cmdline(forkserver.warm_parent_pid).split(b"\0")
    source = textwrap.dedent("""
        import sys, importlib.util
        import numpy, torch

        def where_things_are():
            return [sys.prefix, importlib.util.find_spec("reference") is None, "site" in sys.modules]
    """)
    submission = python_submission(source, "probe.py", "probe")
    sandbox = SubmissionSandbox(forkserver, Limits(), submission, module_name="student")
    try:
        assert sandbox.call("student", "where_things_are", (), {}) == [sys.prefix, True, False]
        assert sandbox.load_notes() == []
    finally:
        sandbox.close()


def test_a_pth_file_that_runs_code_keeps_site_for_the_warm_parent(tmp_path):
    from grader.sandbox import launch

    folder = tmp_path / "site-packages"
    (folder / "extra").mkdir(parents=True)
    (folder / "paths.pth").write_text("# a comment\nextra\nmissing\n")
    (folder / "__editable__.grader-0.1.0.pth").write_text("import __editable___grader_finder\n")
    assert launch.site_folders([str(folder)]) == [str(folder), str(folder / "extra")]
    (folder / "other.pth").write_text("import some_finder; some_finder.install()\n")
    assert launch.site_folders([str(folder)]) is None
