"""The layer plan: which isolation layers work here (the probe), and the steps a child enters.

``Isolation.steps`` is the one flat list of what a freshly forked child does before student
code runs. A sandbox runs every step of the layers that work; the warm parent's probe forks
a child that runs the very same steps one by one, checks each took effect, and keeps the
layers whose step worked. There is no second copy of the entry to drift from the first.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import traceback
from dataclasses import dataclass
from typing import Callable, NamedTuple

from grader.sandbox.isolation.rootfs import (ROOT_MOUNTPOINTS, SANDBOX_HOME, SANDBOX_HOSTNAME, RootSpec, build_root,
                                             root_spec)
from grader.sandbox.isolation.seccomp import Seccomp
from grader.sandbox.isolation.syscalls import (CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID,
                                               CLONE_NEWUSER, CLONE_NEWUTS, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG,
                                               IsolationError, bounding_set_empty, check, drop_bounding_set,
                                               drop_capabilities, enter_user_namespace, libc, prctl, setns,
                                               unshare)
from grader.sandbox.isolation.status import LAYERS, LayerStatus
from grader.sandbox.limits import apply_rlimits, virtual_size

#: Limits the probe's child applies (it runs a few system calls, nothing else).
_PROBE_LIMITS = {"memory_mb": 256, "cpu_seconds": 10, "file_size_mb": 1, "processes": 64, "open_files": 64,
                 "scratch_mb": 16}


@dataclass(frozen=True)
class Step:
    """One thing a child does to enter a layer, and what a working result looks like."""

    #: The layer this step enters.
    layer: str
    #: Runs in the child; raises ``OSError`` (or ``ValueError``) when the host refuses it.
    enter: Callable[[], None]
    #: What ``grader doctor`` says when it worked.
    detail: str
    #: Run by the probe after ``enter``: raises if the layer is not really in effect.
    verify: Callable[[], None] | None = None


def host_uid_mode() -> str:
    """``root`` (a dedicated uid per slot), ``userns`` (unprivileged: a user namespace) or ``none``."""
    if not sys.platform.startswith("linux"):
        return "none"
    return "root" if os.geteuid() == 0 else "userns"


def _grader_folder() -> str:
    """The folder of the grader package (``…/grader``): a sandbox must not see it."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Isolation:
    """The layers one warm parent applies to the children it forks.

    ``mode`` is ``root`` (started as root: children drop to ``uid``/``gid``), ``userns``
    (started unprivileged, or forced for tests: the warm parent enters a user namespace at
    start and children drop every capability) or ``none`` (rlimits and a process group only).
    """

    def __init__(self, mode: str = "none", *, uid: int | None = None, gid: int | None = None,
                 disable: tuple[str, ...] = (), gpu: bool = False):
        self.mode = mode
        self.gpu = gpu  # an assignment that trains on CUDA: the GPU's device files go into the root too
        #: Layers turned off on purpose (tests of a single layer, diagnosis).
        self.disabled = set(disable)
        self.uid, self.gid = uid, gid
        #: The folder each child mounts its private root over, in its own mount namespace.
        self.mountpoint = next((f for f in ROOT_MOUNTPOINTS if os.path.isdir(f) and not os.path.islink(f)),
                               None)
        #: Layers whose step works here (known after ``probe``); a child enters exactly these.
        self.working: set[str] = set()
        #: CLONE_NEWIPC | CLONE_NEWUTS, where they work: part of the ``processes`` layer.
        self.extra_flags = 0
        self.seccomp: Seccomp | None = None
        self.layers: list[LayerStatus] = []
        self._own_pid_ns: int | None = None
        self._spec: RootSpec | None = None
        self._startup_note = self._seccomp_note = ""
        #: The warm parent emptied its capability bounding set, which every child inherits.
        self._bounding_dropped = False

    @property
    def pid_namespace(self) -> bool:
        return "processes" in self.working

    @property
    def filesystem(self) -> bool:
        """Children get a private root (a tmpfs of their own) instead of a host scratch folder."""
        return "filesystem" in self.working

    # --- in the warm parent ---------------------------------------------------------------

    @classmethod
    def from_config(cls, config: dict) -> "Isolation":
        """Called first thing in the warm parent (still single-threaded)."""
        mode = config.get("mode", "none")
        isolation = cls(mode, uid=config.get("uid"), gid=config.get("gid"), disable=tuple(config.get("disable", ())),
                        gpu=bool(config.get("gpu")))
        if mode == "userns":
            try:
                enter_user_namespace()
                isolation.uid = isolation.gid = 0
            except OSError as exc:
                isolation.mode = "none"
                isolation._startup_note = f"no user namespace ({exc.strerror or exc})"
        if isolation.mode == "root" and (isolation.uid is None or isolation.gid is None):
            isolation.mode = "none"
            isolation._startup_note = "no sandbox slot uid was assigned"
        return isolation

    def become_pid1_of_own_namespace(self) -> int | None:
        """In ``userns`` mode: fork so the warm parent is PID 1 of a PID namespace its user
        namespace owns (only then can it reset its children's PID namespace with setns).

        Returns the pid of that inner parent in the outer process, which should only wait
        for it; None in the inner parent (and in other modes)."""
        if self.mode != "userns":
            return None
        try:
            unshare(CLONE_NEWPID)
        except OSError as exc:
            # Without it the warm parent could not reset its children's PID namespace.
            self.disabled.add("processes")
            self._startup_note = f"unshare(CLONE_NEWPID): {exc.strerror or exc}"
            return None
        pid = os.fork()
        if pid:
            return pid
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        return None

    def prepare(self) -> None:
        """After the warm imports: work out the root filesystem, build the seccomp filter."""
        if self.mode == "none":
            return
        try:
            self._own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._own_pid_ns = None
        if self.mountpoint:
            self._spec = root_spec(self.mountpoint, self.uid or 0, self.gid or 0, gpu=self.gpu)
        if "identity" not in self.disabled:
            # Forks inherit the bounding set, and emptying it takes no capability from this process
            # (which never execs): done once here, each child's identity step skips 41 prctl calls.
            drop_bounding_set()
            self._bounding_dropped = bounding_set_empty()  # else each child drops it itself
        if "seccomp" in self.disabled:
            return
        try:
            self.seccomp = Seccomp()
        except (OSError, AttributeError) as exc:
            self._seccomp_note = f"libseccomp is not usable here ({exc})"
            self.seccomp = None

    def fork(self) -> int:
        """``os.fork``, with the child as PID 1 of a new PID namespace where enabled."""
        if not self.pid_namespace:
            return os.fork()
        unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            setns(self._own_pid_ns, CLONE_NEWPID)
            raise
        if pid:
            setns(self._own_pid_ns, CLONE_NEWPID)  # the next fork must not join this namespace
        return pid

    # --- the steps a child enters -------------------------------------------------------------

    def steps(self, limits: dict, base_vsize: int) -> list[Step]:
        """Every step a child may enter, in order (the layers a mode cannot have are left out)."""
        steps = []
        if self.mode != "none":
            steps += [
                Step("processes", self._enter_ipc_uts, "PID 1 of its own PID namespace", self._verify_pid1),
                Step("network", lambda: unshare(CLONE_NEWNET), "own network namespace, no interfaces up"),
                Step("filesystem", lambda: self._enter_root(limits),
                     f"tmpfs root with {len(self._spec.binds) if self._spec else 0} read-only bind mounts, "
                     "pivot_root", self._verify_hidden),
                Step("identity", self._drop_privileges, self._identity_detail()),
            ]
        steps.append(Step("rlimits", lambda: apply_rlimits(limits, base_vsize), "setrlimit in every child"))
        if self.mode != "none":
            steps.append(Step("seccomp", self._lock_down,
                              "libseccomp filter: only AF_UNIX sockets; no ptrace, mount, namespaces, io_uring, "
                              "bpf, keyctl", self._verify_seccomp if self.seccomp is not None else None))
        return steps

    def enter(self, request: dict, base_vsize: int) -> str:
        """In a freshly forked child: enter every working layer; returns the working directory."""
        for step in self.steps(request["limits"], base_vsize):
            # rlimits always; seccomp's step also sets no_new_privs and the parent-death signal,
            # and loads the filter only where it works.
            if step.layer in self.working or step.layer in ("rlimits", "seccomp"):
                step.enter()
        if self.filesystem:
            return SANDBOX_HOME
        return request.get("workdir") or request["scratch"]

    def _enter_ipc_uts(self) -> None:
        if self.extra_flags:
            unshare(self.extra_flags)
        if self.extra_flags & CLONE_NEWUTS:
            name = SANDBOX_HOSTNAME.encode()
            check(libc.sethostname(name, len(name)), "sethostname")

    def _enter_root(self, limits: dict) -> None:
        if self._spec is None:
            raise IsolationError(errno.ENOENT, f"none of {', '.join(ROOT_MOUNTPOINTS)} exists to mount "
                                               "a private root over")
        unshare(CLONE_NEWNS)
        build_root(self._spec, scratch_mb=int(limits.get("scratch_mb", 64)), uid=self.uid or 0,
                          gid=self.gid or 0, mount_proc=self.pid_namespace)

    def _drop_privileges(self) -> None:
        """Give up every capability and, started as root, become the slot's uid/gid."""
        if self.mode == "root":
            if not self._bounding_dropped:
                drop_bounding_set()
            os.setgroups([])
            os.setresgid(self.gid, self.gid, self.gid)
            os.setresuid(self.uid, self.uid, self.uid)  # from root to non-zero: all capabilities go
        elif self.mode == "userns":
            drop_capabilities(bounding=not self._bounding_dropped)

    def _identity_detail(self) -> str:
        if self.mode == "root":
            return f"uid {self.uid} / gid {self.gid}, dedicated to this sandbox slot, no capabilities"
        return "user namespace: no capabilities, but the grader's own host uid (namespaces hide the grader)"

    def _lock_down(self) -> None:
        """The last steps before student code: no new privileges, die with the parent, seccomp."""
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
        if self.seccomp is not None:
            self.seccomp.load()

    # --- what the probe checks after a step -------------------------------------------------------

    @staticmethod
    def _verify_pid1() -> None:
        if os.getpid() != 1:
            raise IsolationError(errno.EINVAL, "the child is not PID 1")

    @staticmethod
    def _verify_hidden() -> None:
        for hidden in ("/root/.bashrc", _grader_folder()):
            if os.path.exists(hidden):
                raise IsolationError(errno.EEXIST, f"{hidden} is still visible")

    @staticmethod
    def _verify_seccomp() -> None:
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        except OSError as exc:
            if exc.errno == errno.EAFNOSUPPORT:
                return
        raise IsolationError(errno.EINVAL, "the filter did not stop an inet socket")

    # --- detection ----------------------------------------------------------------------------

    def start_probe(self) -> "_Probe | None":
        """Fork a child that runs every step the way a sandbox would, and return at once: the
        warm parent imports numpy (and torch) while the child tries the layers.
        ``finish_probe`` waits for it and keeps the layers that work."""
        if self.mode == "none":
            return None
        wanted_pid = self._own_pid_ns is not None and "processes" not in self.disabled
        pid_ns_error = None
        if wanted_pid:
            try:
                unshare(CLONE_NEWPID)
            except OSError as exc:
                wanted_pid, pid_ns_error = False, exc.strerror or str(exc)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(read_end)
                os.write(write_end, json.dumps(self._probe_in_child(wanted_pid)).encode())
            except BaseException:  # noqa: BLE001
                try:
                    os.write(write_end, json.dumps({"error": traceback.format_exc(limit=2)}).encode())
                except BaseException:  # noqa: BLE001
                    pass
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        if wanted_pid:
            try:
                setns(self._own_pid_ns, CLONE_NEWPID)
            except OSError as exc:  # cannot reset: forks would fail from now on, so this is fatal
                raise IsolationError(exc.errno, f"cannot reset the PID namespace for children: {exc.strerror}")
        return _Probe(pid, read_end, pid_ns_error)

    def finish_probe(self, probe: "_Probe | None") -> list[LayerStatus]:
        """Wait for the probe's child; keep the layers it found working."""
        if probe is None:
            note = self._startup_note or ("not Linux" if not sys.platform.startswith("linux") else "isolation is off")
            self.working = {"rlimits"}
            self.layers = self._statuses({"rlimits": [True, "setrlimit in every child"]}, note)
            return self.layers
        chunks = []
        while chunk := os.read(probe.read_end, 1 << 16):
            chunks.append(chunk)
        os.close(probe.read_end)
        os.waitpid(probe.pid, 0)
        try:
            report = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            report = {}
        if probe.pid_ns_error:
            report["processes"] = [False, f"unshare(CLONE_NEWPID): {probe.pid_ns_error}"]
        for name in self.disabled:
            report[name] = [False, "turned off"]
        if "processes" in self.disabled and self._startup_note:
            report["processes"] = [False, self._startup_note]
        report.setdefault("processes", [False, report.get("error", "the probe did not finish")])
        self.extra_flags = int(report.get("extra_flags", 0))
        self.layers = self._statuses(report, report.get("error", "the probe did not finish"))
        self.working = {layer.name for layer in self.layers if layer.available}
        if "seccomp" not in self.working:
            self.seccomp = None
        return self.layers

    def _statuses(self, report: dict, fallback: str) -> list[LayerStatus]:
        statuses = []
        for name in LAYERS:
            ok, detail = report.get(name, [False, fallback])
            if name == "seccomp" and not ok and self._seccomp_note:
                detail = self._seccomp_note
            statuses.append(LayerStatus(name, bool(ok), str(detail)))
        return statuses

    def _probe_in_child(self, in_pid_ns: bool) -> dict:
        """In the probe's child: each step of ``steps``, as a sandbox enters it, then its check."""
        report: dict = {}
        # The IPC and UTS namespaces are extras of the ``processes`` layer: keep those that work.
        if "processes" not in self.disabled:
            for flag in (CLONE_NEWIPC, CLONE_NEWUTS):
                try:
                    unshare(flag)
                    self.extra_flags |= flag
                except OSError:
                    pass
        report["extra_flags"] = self.extra_flags
        self.working = {"processes"} if in_pid_ns else set()  # a /proc of its own in the private root
        for step in self.steps(_PROBE_LIMITS, virtual_size()):
            if step.layer in self.disabled or (step.layer == "processes" and not in_pid_ns):
                continue
            if step.layer == "seccomp" and self.seccomp is None:
                report["seccomp"] = [False, self._seccomp_note or "libseccomp is not available"]
                continue
            try:
                step.enter()
                if step.verify is not None:
                    step.verify()
            except (OSError, ValueError) as exc:
                report[step.layer] = [False, str(exc)]
                continue
            detail = step.detail
            if step.layer == "processes":
                names = [n for f, n in ((CLONE_NEWIPC, "IPC"), (CLONE_NEWUTS, "UTS")) if self.extra_flags & f]
                detail += f"; own {' and '.join(names)} namespaces" if names else ""
            report[step.layer] = [True, detail]
        return report


class _Probe(NamedTuple):
    """A probe's child under way: its pid, the pipe it reports on, why no PID namespace."""

    pid: int
    read_end: int
    pid_ns_error: str | None
