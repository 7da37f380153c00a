"""Resource limits and the environment of a sandboxed process."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one sandboxed submission may use. Configured per assignment in ``[limits]``."""

    #: Wall-clock seconds for one check, all its calls into the sandbox together.
    check_timeout: float = 10.0
    #: Wall-clock seconds for one unit (cell or top-level statement) of the submission.
    load_timeout: float = 20.0
    #: Wall-clock seconds for the whole submission: loading, every reload and every check.
    #: When it runs out, the checks not yet finished are ``timeout`` (reason ``budget``).
    submission_budget: float = 120.0
    #: Address space the student may use beyond what the warm interpreter already maps.
    memory_mb: int = 2048
    #: CPU seconds for the whole sandboxed process (the wall clock is the real bound).
    cpu_seconds: int = 120
    #: Largest file the student may write.
    file_size_mb: int = 16
    #: Processes (and threads) the student may have at once (enforced for non-root uids).
    processes: int = 64
    #: Open file descriptors.
    open_files: int = 256
    #: Size of the sandbox's private filesystem (its home, /tmp and /dev/shm together), where
    #: the host allows a private root; a disk fill ends there.
    scratch_mb: int = 64
    #: Bytes of the student's stdout/stderr kept for feedback; the rest is counted and dropped.
    output_bytes: int = 64 * 1024
    #: Largest single answer from the sandbox (its JSON header and arrays together), in MiB.
    reply_mb: int = 64
    #: Largest JSON header of one answer (structure only: arrays travel apart), in KiB.
    reply_header_kb: int = 1024
    #: Bytes all of one submission's answers may add up to, in MiB.
    replies_mb: int = 256
    #: Modules the warm parent imports before forking, so students do not pay for them.
    warm_imports: tuple[str, ...] = field(default=("numpy", "torch"))

    def as_request(self) -> dict:
        return {"memory_mb": self.memory_mb, "cpu_seconds": self.cpu_seconds,
                "file_size_mb": self.file_size_mb, "processes": self.processes,
                "open_files": self.open_files, "scratch_mb": self.scratch_mb}


def virtual_size() -> int:
    """Bytes of address space this process maps now (VmSize)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def apply_rlimits(request: dict, base_address_space: int) -> None:
    """Set the rlimits of the calling process (run in the child, after fork)."""
    cpu = int(request["cpu_seconds"])
    address_space = base_address_space + int(request["memory_mb"]) * MIB
    for limit, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_CPU, (cpu, cpu + 2)),
        (resource.RLIMIT_FSIZE, int(request["file_size_mb"]) * MIB),
        (resource.RLIMIT_NPROC, int(request["processes"])),
        (resource.RLIMIT_NOFILE, int(request["open_files"])),
        (resource.RLIMIT_CORE, 0),
    ):
        soft, hard = value if isinstance(value, tuple) else (value, value)
        resource.setrlimit(limit, (soft, hard))


#: One thread for each numerical library's pool, in sandboxes and in grading workers: forked
#: children of a multi-threaded OpenMP runtime hang, and parallelism comes from grading several
#: submissions at once (a pool per process would spin on cores the other workers need).
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "NUMEXPR_NUM_THREADS")}


def sandbox_environment(scratch: str | None = None, tmp: str | None = None) -> dict[str, str]:
    """The whole environment a sandboxed process sees: nothing inherited, no secrets."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        **ONE_THREAD,
    }
    if scratch:
        env.update(HOME=scratch, TMPDIR=tmp or scratch)
    return env


def max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 65536


def close_fds_from(first: int) -> None:
    os.closerange(first, max_fd())
