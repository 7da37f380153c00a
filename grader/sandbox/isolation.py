"""Isolation layers: what a sandboxed child enters right after fork, before any student code runs.

Layers (Linux; each is detected when the warm parent starts, see ``Isolation.probe``):

``identity``    started as root: a dedicated unprivileged uid/gid per sandbox slot (60000 + N),
                so the child cannot signal, ptrace or read the files of the grader or of
                another sandbox; started unprivileged: a user namespace in which the child
                holds no capability (it keeps the grader's host uid, so this layer then
                relies on the pid and mount namespaces to hide the grader).
``network``     its own network namespace with nothing in it (not even a loopback that is
                up): every connection fails at once, DNS fails fast.
``filesystem``  its own mount namespace whose root is a fresh size-capped tmpfs (``scratch_mb``,
                mounted over /tmp of the child's own copy of the mount tree: nothing is made
                on the host) holding only read-only, nosuid bind mounts of what Python needs
                (/usr, the interpreter's prefix, the venv's site-packages), a few files of
                /etc, /dev/null & co, /proc of its own PID namespace, a private /tmp and a
                private home as working directory. The old root is detached (pivot_root), so
                the reference solutions, the checks, the gradebook, other submissions, home
                folders and the project checkout are not there at all.
``processes``   its own PID namespace (the sandbox is PID 1 in it: when it dies the kernel
                kills every process it started, forks that ignore SIGTERM and threads
                included), plus its own IPC and UTS namespaces, and a parent-death signal.
``rlimits``     CPU, address space, processes (per slot uid), file size, open files, no core.
``seccomp``     optional second wall, through the system's libseccomp: no socket other than
                AF_UNIX, no ptrace, no mount, no new namespaces, no io_uring, bpf, keyctl...

How the layers are entered (all in the freshly forked, single-threaded child, except the PID
namespace, which the warm parent requests for its next child with ``unshare(CLONE_NEWPID)``
just before ``fork`` and resets with ``setns`` right after, so there is one fork per sandbox):

    zygote:  unshare(NEWPID) -> fork -> setns(own pid ns)
    child:   setsid, fds, env -> unshare(NEWNS|NEWNET|NEWIPC|NEWUTS) -> mounts, pivot_root
             -> drop capabilities and uid -> rlimits -> no_new_privs, pdeathsig -> seccomp -> serve

This module is imported by the warm parent before every fork: standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import resource
import signal
import socket
import sys
import traceback
from dataclasses import asdict, dataclass

#: Every layer, in the order ``grader doctor`` lists them.
LAYERS = ("identity", "network", "filesystem", "processes", "rlimits", "seccomp")
#: Layers TA grading refuses to run without (unless told ``--insecure``).
REQUIRED = ("identity", "network", "filesystem", "processes")
TITLES = {
    "identity": "own unprivileged identity",
    "network": "no network (own network namespace)",
    "filesystem": "private filesystem view (mount namespace, minimal root)",
    "processes": "own PID namespace (every process dies with the sandbox)",
    "rlimits": "resource limits (CPU, memory, processes, file size, open files)",
    "seccomp": "seccomp filter (second wall)",
}

#: First uid/gid of the per-slot sandbox identities (started as root).
FIRST_SLOT_UID = 60000
SLOT_COUNT = 1000
#: Where the sandbox's private home (its working directory) appears inside its own root.
SANDBOX_HOME = "/home/student"
SANDBOX_HOSTNAME = "sandbox"
#: Folders a child may mount its private root over (the first that exists): in the child's own
#: mount namespace only, so the host never sees a thing, and nothing is left to clean up.
ROOT_MOUNTPOINTS = ("/tmp", "/var/tmp", "/mnt")

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                   CLONE_NEWPID, CLONE_NEWNET)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_RELATIME = 0x200000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
#: Per-mount flags a bind remount must keep (statvfs's ST_* values are the same bits).
_KEPT_MOUNT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_DEVICES = ("null", "zero", "full", "random", "urandom")


@dataclass(frozen=True)
class LayerStatus:
    """Whether one isolation layer works on this host, and how (or why not)."""

    name: str
    available: bool
    detail: str

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    def as_dict(self) -> dict:
        return dict(asdict(self), title=self.title)


# --- system calls -------------------------------------------------------------------------------

class IsolationError(OSError):
    """A layer could not be entered."""


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise IsolationError(code, f"{what}: {os.strerror(code)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)),
           f"mount {target}")


def _bytes(text: str | None):
    return None if text is None else os.fsencode(text)


def _prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                       ctypes.c_ulong(0)), f"prctl({option})")


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (even by kill -9); exit at once if
    ``parent`` is already gone. Best effort where prctl is not available."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40


def drop_capabilities() -> None:
    """Empty the bounding set and every capability set of the calling process."""
    for cap in range(_last_capability() + 1):
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            code = ctypes.get_errno()
            raise IsolationError(code, f"dropping capability {cap}: {os.strerror(code)}")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


# --- seccomp through the system's libseccomp ----------------------------------------------------

class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_NE = 1
_SCMP_CMP_MASKED_EQ = 7


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


#: (syscall, errno, conditions): conditions are (argument, op, a, b) as libseccomp compares them.
_DENIED_SYSCALLS = [
    ("socket", errno.EAFNOSUPPORT, [(0, _SCMP_CMP_NE, socket.AF_UNIX, 0)]),
    ("socketpair", errno.EAFNOSUPPORT, [(0, _SCMP_CMP_NE, socket.AF_UNIX, 0)]),
    ("clone3", errno.ENOSYS, []),  # its flags cannot be inspected; libc falls back to clone
    ("io_uring_setup", errno.ENOSYS, []),
    ("io_uring_enter", errno.ENOSYS, []),
    ("io_uring_register", errno.ENOSYS, []),
] + [("clone", errno.EPERM, [(0, _SCMP_CMP_MASKED_EQ, flag, flag)]) for flag in NAMESPACE_FLAGS] + [
    (name, errno.EPERM, []) for name in (
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
        "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsconfig", "fsmount",
        "fspick", "move_mount", "open_tree", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
        "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
        "swapon", "swapoff", "acct", "quotactl", "syslog", "uselib", "vhangup", "iopl", "ioperm",
        "sethostname", "setdomainname", "settimeofday", "clock_settime")
]


class Seccomp:
    """A filter built once in the warm parent with the system's libseccomp, loaded in each child."""

    def __init__(self):
        # By soname: ctypes.util.find_library would run ldconfig in a subprocess.
        self._lib = lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self._ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
        if not self._ctx:
            raise IsolationError(errno.EINVAL, "seccomp_init failed")
        for name, code, conditions in _DENIED_SYSCALLS:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                continue  # not a system call on this architecture
            array = (_ArgCmp * max(1, len(conditions)))(*[_ArgCmp(*c) for c in conditions])
            result = lib.seccomp_rule_add_array(self._ctx, _act_errno(code), number, len(conditions), array)
            if result != 0:
                raise IsolationError(-result, f"seccomp rule for {name}: {os.strerror(-result)}")

    def load(self) -> None:
        result = self._lib.seccomp_load(self._ctx)
        if result != 0:
            raise IsolationError(-result, f"seccomp_load: {os.strerror(-result)}")


# --- the sandbox's root filesystem --------------------------------------------------------------

def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def python_folders() -> list[str]:
    """Folders the running interpreter needs read-only: its prefixes and its site-packages.

    A ``sys.path`` entry that is not inside a prefix is taken only if it is a site-packages
    folder: an entry added by an editable install (the project checkout) must stay hidden.
    """
    wanted = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix]
    for entry in sys.path:
        if entry and os.path.isdir(entry) and os.path.basename(entry.rstrip("/")) in ("site-packages", "dist-packages"):
            wanted.append(entry)
    folders: list[str] = []
    for folder in sorted({os.path.abspath(f) for f in wanted if f and os.path.isdir(f)}, key=len):
        if folder == "/" or any(_inside(folder, kept) for kept in folders):
            continue
        folders.append(folder)
    return folders


def _etc_files(uid: int, gid: int) -> dict[str, bytes]:
    files = {
        "passwd": (f"root:x:0:0:root:/root:/bin/sh\n"
                   f"student:x:{uid}:{gid}:student:{SANDBOX_HOME}:/bin/sh\n"
                   f"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n").encode(),
        "group": f"root:x:0:\nstudent:x:{gid}:\nnogroup:x:65534:\n".encode(),
        "hosts": b"127.0.0.1 localhost\n::1 localhost\n",
        "hostname": f"{SANDBOX_HOSTNAME}\n".encode(),
        "nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files dns\n",
        # No resolver is reachable: one quick attempt, then the lookup fails.
        "resolv.conf": b"nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    }
    try:
        with open("/etc/ld.so.cache", "rb") as cache:  # lets lazily loaded libraries be found
            files["ld.so.cache"] = cache.read()
    except OSError:
        pass
    return files


@dataclass
class _RootSpec:
    """Everything the child's root is built from, worked out once in the warm parent."""

    mountpoint: str
    binds: list[tuple[str, int]]  # (host folder, flags of its read-only remount)
    symlinks: list[tuple[str, str]]  # (path, target)
    etc: dict[str, bytes]


def _remount_flags(path: str) -> int:
    try:
        kept = os.statvfs(path).f_flag & _KEPT_MOUNT_FLAGS
    except OSError:
        kept = 0
    return kept | MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV


def root_spec(mountpoint: str, uid: int, gid: int) -> _RootSpec:
    binds, symlinks = [], []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            symlinks.append((top, os.readlink(top)))
        elif os.path.isdir(top):
            binds.append(top)
    for folder in python_folders():
        if not any(_inside(folder, b) for b in binds):
            binds.append(folder)
    if os.path.islink("/etc/localtime"):
        symlinks.append(("/etc/localtime", os.readlink("/etc/localtime")))
    symlinks += [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"),
                 ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")]
    return _RootSpec(mountpoint, [(b, _remount_flags(b)) for b in binds], symlinks, _etc_files(uid, gid))


def _makedirs(path: str, mode: int = 0o755) -> None:
    if not os.path.isdir(path):
        _makedirs(os.path.dirname(path), mode)
        os.mkdir(path, mode)
        os.chmod(path, mode)


def build_root(spec: _RootSpec, *, scratch_mb: int, uid: int, gid: int, mount_proc: bool) -> None:
    """Mount a fresh tmpfs root with what Python needs, then pivot into it. Needs a new mount ns.

    The tmpfs is mounted over an existing folder (``/tmp``) of the child's own copy of the
    mount tree: nothing is created on the host. What gets bound into it is opened first
    (``O_PATH``), so a source that lives under that folder is still found."""
    new = spec.mountpoint
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates back to the host
    sources = {path: os.open(path, os.O_PATH | os.O_CLOEXEC)
               for path in [source for source, _ in spec.binds] + [f"/dev/{d}" for d in _DEVICES]}
    try:
        _populate_root(spec, sources, scratch_mb=scratch_mb, uid=uid, gid=gid, mount_proc=mount_proc)
    finally:
        for fd in sources.values():
            os.close(fd)
    os.chdir(new)
    _check(_libc.pivot_root(b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detaching the old root")
    os.chdir("/")


def _populate_root(spec: _RootSpec, sources: dict[str, int], *, scratch_mb: int, uid: int, gid: int,
                   mount_proc: bool) -> None:
    new = spec.mountpoint
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={max(1, int(scratch_mb))}m,nr_inodes=65536,mode=755")
    old_umask = os.umask(0)
    try:
        for source, flags in spec.binds:
            target = new + source
            _makedirs(target)
            mount(f"/proc/self/fd/{sources[source]}", target, None, MS_BIND)
            mount(None, target, None, flags)
        _makedirs(new + "/etc")
        for name, content in spec.etc.items():
            fd = os.open(f"{new}/etc/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, content)
            finally:
                os.close(fd)
        _makedirs(new + "/dev")
        for device in _DEVICES:
            target = f"{new}/dev/{device}"
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            mount(f"/proc/self/fd/{sources[f'/dev/{device}']}", target, None, MS_BIND)
        for path, target in spec.symlinks:
            _makedirs(os.path.dirname(new + path))
            os.symlink(target, new + path)
        for folder in ("/dev/shm", "/tmp"):
            # May exist already: a venv or interpreter under /tmp was bound below it above.
            _makedirs(new + folder, 0o755)
            os.chmod(new + folder, 0o1777)
        _makedirs(new + os.path.dirname(SANDBOX_HOME))
        os.mkdir(new + SANDBOX_HOME, 0o700)
        os.chown(new + SANDBOX_HOME, uid, gid)
        os.mkdir(new + "/proc", 0o555)
        if mount_proc:  # a /proc of the new PID namespace: only the sandbox's own processes
            mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    finally:
        os.umask(old_umask)


# --- the plan: what the warm parent does for each child ----------------------------------------

def host_uid_mode() -> str:
    """``root`` (a dedicated uid per slot), ``userns`` (unprivileged: a user namespace) or ``none``."""
    if not sys.platform.startswith("linux"):
        return "none"
    return "root" if os.geteuid() == 0 else "userns"


def _enter_user_namespace() -> None:
    """Make the calling (single-threaded) process root of a new user namespace mapped to its own ids."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
    except FileNotFoundError:
        pass
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


class Isolation:
    """The layers one warm parent applies to the children it forks.

    ``mode`` is ``root`` (started as root: children drop to ``uid``/``gid``), ``userns``
    (started unprivileged, or forced for tests: the warm parent enters a user namespace at
    start and children drop every capability) or ``none`` (rlimits and a process group only).
    """

    def __init__(self, mode: str = "none", *, uid: int | None = None, gid: int | None = None,
                 disable: tuple[str, ...] = ()):
        self.mode = mode
        #: Layers turned off on purpose (tests of a single layer, diagnosis).
        self.disabled = set(disable)
        self.uid = uid
        self.gid = gid
        #: The folder each child mounts its private root over, in its own mount namespace.
        self.mountpoint = next((f for f in ROOT_MOUNTPOINTS if os.path.isdir(f) and not os.path.islink(f)), None)
        self.pid_namespace = False
        self.network = False
        self.filesystem = False
        self.extra_flags = 0  # CLONE_NEWIPC | CLONE_NEWUTS where they work
        self.identity = False
        self.seccomp: Seccomp | None = None
        self.layers: list[LayerStatus] = []
        self._own_pid_ns: int | None = None
        self._spec: _RootSpec | None = None
        self._startup_note = ""
        self._seccomp_note = ""

    # --- in the warm parent ---------------------------------------------------------------

    @classmethod
    def from_config(cls, config: dict) -> "Isolation":
        """Called first thing in the warm parent (still single-threaded)."""
        mode = config.get("mode", "none")
        isolation = cls(mode, uid=config.get("uid"), gid=config.get("gid"), disable=tuple(config.get("disable", ())))
        if mode == "userns":
            try:
                _enter_user_namespace()
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
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
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
            self._spec = root_spec(self.mountpoint, self.uid or 0, self.gid or 0)
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

    # --- in the child -----------------------------------------------------------------------

    def enter(self, request: dict) -> str:
        """Namespaces and the private root; returns the working directory to use."""
        flags = (CLONE_NEWNET if self.network else 0) | (CLONE_NEWNS if self.filesystem else 0) | self.extra_flags
        if flags:
            unshare(flags)
        if self.extra_flags & CLONE_NEWUTS:
            _check(_libc.sethostname(SANDBOX_HOSTNAME.encode(), len(SANDBOX_HOSTNAME)), "sethostname")
        if self.filesystem:
            build_root(self._spec, scratch_mb=int(request["limits"].get("scratch_mb", 64)),
                       uid=self.uid, gid=self.gid, mount_proc=self.pid_namespace)
            return SANDBOX_HOME
        return request.get("workdir") or request["scratch"]

    def drop_privileges(self) -> None:
        """Give up every capability and, started as root, become the slot's uid/gid."""
        if self.identity:
            self._drop_privileges()

    def _drop_privileges(self) -> None:
        if self.mode == "root":
            for cap in range(_last_capability() + 1):
                _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0)
            os.setgroups([])
            os.setresgid(self.gid, self.gid, self.gid)
            os.setresuid(self.uid, self.uid, self.uid)  # from root to non-zero: all capabilities go
        elif self.mode == "userns":
            drop_capabilities()

    def lock_down(self) -> None:
        """The last steps before student code: no new privileges, die with the parent, seccomp."""
        if self.mode == "none":
            return
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
        if self.seccomp is not None:
            self.seccomp.load()

    # --- detection ----------------------------------------------------------------------------

    def probe(self, scratch_mb: int = 16) -> list[LayerStatus]:
        """Fork a child that tries every layer the way a sandbox would; keep those that work."""
        if self.mode == "none":
            note = self._startup_note or ("not Linux" if not sys.platform.startswith("linux") else "isolation is off")
            self.layers = self._statuses({}, note)
            return self.layers
        pid_ns_error = None
        wanted_pid = self._own_pid_ns is not None and "processes" not in self.disabled
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
                report = self._probe_in_child(wanted_pid, scratch_mb)
                os.write(write_end, json.dumps(report).encode())
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
        chunks = []
        while True:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_end)
        os.waitpid(pid, 0)
        try:
            report = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            report = {}
        if pid_ns_error:
            report["processes"] = [False, f"unshare(CLONE_NEWPID): {pid_ns_error}"]
        for name in self.disabled:
            report[name] = [False, "turned off"]
        if "processes" in self.disabled and self._startup_note:
            report["processes"] = [False, self._startup_note]
        report.setdefault("processes", [False, report.get("error", "the probe did not finish")])
        self.pid_namespace = bool(report.get("processes", [False])[0])
        self.network = bool(report.get("network", [False])[0])
        self.filesystem = bool(report.get("filesystem", [False])[0])
        self.identity = bool(report.get("identity", [False])[0])
        self.extra_flags = int(report.get("extra_flags", 0))
        if not report.get("seccomp", [False])[0]:
            self.seccomp = None
        self.layers = self._statuses(report, report.get("error", "the probe did not finish"))
        return self.layers

    def _statuses(self, report: dict, fallback: str) -> list[LayerStatus]:
        statuses = []
        for name in LAYERS:
            ok, detail = report.get(name, [False, fallback])
            if name == "rlimits" and name not in report:
                ok, detail = True, "setrlimit in every child"
            if name == "seccomp" and not ok and self._seccomp_note:
                detail = self._seccomp_note
            statuses.append(LayerStatus(name, bool(ok), str(detail)))
        return statuses

    def _probe_in_child(self, in_pid_ns: bool, scratch_mb: int) -> dict:
        report: dict = {}
        if in_pid_ns:
            ok = os.getpid() == 1
            report["processes"] = [ok, "PID 1 of its own PID namespace" if ok else "the child is not PID 1"]

        def attempt(name, action, success):
            try:
                action()
                report[name] = [True, success]
                return True
            except (OSError, ValueError) as exc:
                report[name] = [False, str(exc)]
                return False

        extra = 0
        for flag in (CLONE_NEWIPC, CLONE_NEWUTS) if "processes" not in self.disabled else ():
            try:
                unshare(flag)
                extra |= flag
            except OSError:
                pass
        report["extra_flags"] = extra
        if "processes" in report and report["processes"][0]:
            names = [n for f, n in ((CLONE_NEWIPC, "IPC"), (CLONE_NEWUTS, "UTS")) if extra & f]
            if names:
                report["processes"][1] += f"; own {' and '.join(names)} namespaces"
        if "network" not in self.disabled:
            attempt("network", lambda: unshare(CLONE_NEWNET), "own network namespace, no interfaces up")
        if "filesystem" in self.disabled:
            pass
        elif self._spec is None:
            report["filesystem"] = [False, f"none of {', '.join(ROOT_MOUNTPOINTS)} exists to mount a private root over"]
        elif attempt("filesystem", lambda: unshare(CLONE_NEWNS), ""):
            uid, gid = self.uid or 0, self.gid or 0

            def build():
                build_root(self._spec, scratch_mb=scratch_mb, uid=uid, gid=gid, mount_proc=in_pid_ns)
                for hidden in ("/root/.bashrc", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
                    if os.path.exists(hidden):
                        raise IsolationError(errno.EEXIST, f"{hidden} is still visible")

            attempt("filesystem", build,
                    f"tmpfs root with {len(self._spec.binds)} read-only bind mounts, pivot_root")
        if self.mode == "root":
            detail = f"uid {self.uid} / gid {self.gid}, dedicated to this sandbox slot, no capabilities"
        else:
            detail = "user namespace: no capabilities, but the grader's own host uid (namespaces hide the grader)"
        if "identity" not in self.disabled:
            attempt("identity", self._drop_privileges, detail)
        attempt("rlimits", lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)), "setrlimit in every child")
        if self.seccomp is None:
            report["seccomp"] = [False, self._seccomp_note or "libseccomp is not available"]
        else:
            def load_and_test():
                self.lock_down()
                try:
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
                except OSError as exc:
                    if exc.errno == errno.EAFNOSUPPORT:
                        return
                raise IsolationError(errno.EINVAL, "the filter did not stop an inet socket")

            attempt("seccomp", load_and_test, "libseccomp filter: only AF_UNIX sockets; no ptrace, mount, "
                                              "namespaces, io_uring, bpf, keyctl")
        return report


def missing(layers: list[LayerStatus], names=REQUIRED) -> list[LayerStatus]:
    return [layer for layer in layers if layer.name in names and not layer.available]


# --- sandbox slots (started as root) ------------------------------------------------------------

class Slot:
    """A uid/gid for one warm parent's children, held by binding an abstract unix socket.

    The kernel releases the name when the holder exits, however it exits, so a crashed
    grader never leaks a slot, and nothing is written to disk."""

    def __init__(self, uid: int, holder: socket.socket):
        self.uid = self.gid = uid
        self._holder = holder

    @classmethod
    def acquire(cls) -> "Slot":
        for index in range(1, SLOT_COUNT):
            uid = FIRST_SLOT_UID + index
            holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                holder.bind(f"\0grader-sandbox-slot-{uid}")
            except OSError:
                holder.close()
                continue
            return cls(uid, holder)
        raise IsolationError(errno.EBUSY, f"all {SLOT_COUNT} sandbox slots are in use")

    def release(self) -> None:
        self._holder.close()


def describe_platform() -> str:
    return f"{platform.system()} {platform.release()} {platform.machine()}"
