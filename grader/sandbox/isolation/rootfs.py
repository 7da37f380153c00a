"""The sandbox's private root filesystem: a size-capped tmpfs holding read-only binds of only
what Python needs, entered with pivot_root in the child's own mount namespace."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from grader.sandbox.isolation.syscalls import (MNT_DETACH, MS_BIND, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_RDONLY,
                                               MS_REC, MS_REMOUNT, MS_NOEXEC, MS_NOATIME, MS_NODIRATIME,
                                               MS_RELATIME, check, libc, mount)

#: Where the sandbox's private home (its working directory) appears inside its own root.
SANDBOX_HOME = "/home/student"
SANDBOX_HOSTNAME = "sandbox"
#: Folders a child may mount its private root over (the first that exists): in the child's own
#: mount namespace only, so the host never sees a thing, and nothing is left to clean up.
ROOT_MOUNTPOINTS = ("/tmp", "/var/tmp", "/mnt")
#: Per-mount flags a bind remount must keep (statvfs's ST_* values are the same bits).
_KEPT_MOUNT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME
_DEVICES = ("null", "zero", "full", "random", "urandom")
#: The GPU's device files (NVIDIA's driver), bound too for an assignment that trains on CUDA.
_GPU_DEVICE = re.compile(r"^nvidia(\d+|ctl|-uvm|-uvm-tools|-modeset)$")


def gpu_devices() -> tuple[str, ...]:
    """The GPU device files this host has in /dev (none without an NVIDIA driver)."""
    try:
        return tuple(sorted(name for name in os.listdir("/dev") if _GPU_DEVICE.match(name)))
    except OSError:
        return ()


def inside(path: str, folder: str) -> bool:
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
        if folder == "/" or any(inside(folder, kept) for kept in folders):
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
class RootSpec:
    """Everything the child's root is built from, worked out once in the warm parent."""

    mountpoint: str
    binds: list[tuple[str, int]]  # (host folder, flags of its read-only remount)
    symlinks: list[tuple[str, str]]  # (path, target)
    etc: dict[str, bytes]
    devices: tuple[str, ...] = _DEVICES  # the names under /dev bound into the root


def _remount_flags(path: str) -> int:
    try:
        kept = os.statvfs(path).f_flag & _KEPT_MOUNT_FLAGS
    except OSError:
        kept = 0
    return kept | MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV


def root_spec(mountpoint: str, uid: int, gid: int, *, gpu: bool = False) -> RootSpec:
    """What the child's root is built from; with ``gpu``, the GPU's device files too."""
    binds, symlinks = [], []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            symlinks.append((top, os.readlink(top)))
        elif os.path.isdir(top):
            binds.append(top)
    for folder in python_folders():
        if not any(inside(folder, b) for b in binds):
            binds.append(folder)
    if os.path.islink("/etc/localtime"):
        symlinks.append(("/etc/localtime", os.readlink("/etc/localtime")))
    symlinks += [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"),
                 ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")]
    return RootSpec(mountpoint, [(b, _remount_flags(b)) for b in binds], symlinks, _etc_files(uid, gid),
                    _DEVICES + (gpu_devices() if gpu else ()))


def _makedirs(path: str, mode: int = 0o755) -> None:
    if not os.path.isdir(path):
        _makedirs(os.path.dirname(path), mode)
        os.mkdir(path, mode)
        os.chmod(path, mode)


def build_root(spec: RootSpec, *, scratch_mb: int, uid: int, gid: int, mount_proc: bool) -> None:
    """Mount a fresh tmpfs root with what Python needs, then pivot into it. Needs a new mount ns.

    The tmpfs is mounted over an existing folder (``/tmp``) of the child's own copy of the
    mount tree: nothing is created on the host. What gets bound into it is opened first
    (``O_PATH``), so a source that lives under that folder is still found."""
    new = spec.mountpoint
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates back to the host
    sources = {path: os.open(path, os.O_PATH | os.O_CLOEXEC)
               for path in [source for source, _ in spec.binds] + [f"/dev/{d}" for d in spec.devices]}
    try:
        _populate_root(spec, sources, scratch_mb=scratch_mb, uid=uid, gid=gid, mount_proc=mount_proc)
    finally:
        for fd in sources.values():
            os.close(fd)
    os.chdir(new)
    check(libc.pivot_root(b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "detaching the old root")
    os.chdir("/")


def _populate_root(spec: RootSpec, sources: dict[str, int], *, scratch_mb: int, uid: int, gid: int,
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
        for device in spec.devices:
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
