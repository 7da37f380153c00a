"""The seccomp filter, a second wall: built once in the warm parent with the system's libseccomp
(and turned into its BPF program there), loaded in each child as its last step before student code."""

from __future__ import annotations

import ctypes
import errno
import os
import socket

from grader.sandbox.isolation.syscalls import NAMESPACE_FLAGS, IsolationError, libc

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
        # The BPF program, generated once here: seccomp_load would generate it again in every
        # child (half of the filter's cost there); a child hands this one to the kernel as it is.
        self._program = _export_bpf(lib, self._ctx)
        self._fprog = _SockFprog(len(self._program) // 8, ctypes.cast(self._program, ctypes.c_void_p))
        self._pointer = ctypes.c_ulong(ctypes.addressof(self._fprog))

    def load(self) -> None:
        """In the child, after no_new_privs: the kernel filters every later system call."""
        if libc.prctl(ctypes.c_int(_PR_SET_SECCOMP), ctypes.c_ulong(_SECCOMP_MODE_FILTER), self._pointer,
                      ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
            code = ctypes.get_errno()
            raise IsolationError(code, f"prctl(PR_SET_SECCOMP): {os.strerror(code)}")


class _SockFprog(ctypes.Structure):
    """``struct sock_fprog``: the length of a BPF program in instructions, and the program."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def _export_bpf(lib, context) -> ctypes.Array:
    """The filter as the kernel takes it (``struct sock_filter`` entries of 8 bytes each)."""
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    read_end, write_end = os.pipe()
    try:
        result = lib.seccomp_export_bpf(context, write_end)
        os.close(write_end)
        write_end = -1
        if result != 0:
            raise IsolationError(-result, f"seccomp_export_bpf: {os.strerror(-result)}")
        chunks = []
        while chunk := os.read(read_end, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    program = b"".join(chunks)
    if not program or len(program) % 8 or len(program) // 8 > 4096:
        raise IsolationError(errno.EINVAL, f"seccomp_export_bpf gave a program of {len(program)} bytes")
    return ctypes.create_string_buffer(program, len(program))
