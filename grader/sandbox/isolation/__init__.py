"""Isolation layers: what a sandboxed child enters right after fork, before any student code runs.

Layers (Linux; each is detected when the warm parent starts, see ``Isolation.start_probe``):

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
    child:   setsid, fds, env -> the steps of ``layers.Isolation.steps``, in order:
             IPC/UTS namespaces -> network namespace -> mount namespace, private root, pivot_root
             -> drop capabilities and uid -> rlimits -> no_new_privs, pdeathsig, seccomp -> serve

The warm parent's probe (``Isolation.start_probe``) forks a child that runs those same steps one
by one, checks that each took effect, and keeps the layers whose step worked. One module per
part:

    syscalls.py   unshare, setns, mount, prctl, capabilities, user namespaces (ctypes over libc)
    seccomp.py    the seccomp filter, through the system's libseccomp
    rootfs.py     the private root filesystem: what is bound into it, and building it
    layers.py     the layer plan: the steps a child enters, and the probe that runs them
    status.py     the layers' names and titles, and whether each works here
    slots.py      sandbox slots: a uid per warm parent, when started as root

This package is imported by the warm parent before every fork: standard library only.
"""

from grader.sandbox.isolation.layers import Isolation, host_uid_mode
from grader.sandbox.isolation.status import LAYERS, REQUIRED, TITLES, LayerStatus, describe_platform, missing
from grader.sandbox.isolation.rootfs import SANDBOX_HOME, inside, python_folders
from grader.sandbox.isolation.slots import FIRST_SLOT_UID, SLOT_COUNT, Slot
from grader.sandbox.isolation.syscalls import IsolationError, die_with_parent

__all__ = ["LAYERS", "REQUIRED", "TITLES", "Isolation", "LayerStatus", "describe_platform", "host_uid_mode",
           "missing", "SANDBOX_HOME", "inside", "python_folders", "FIRST_SLOT_UID", "SLOT_COUNT", "Slot", "IsolationError",
           "die_with_parent"]
