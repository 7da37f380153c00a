"""The warm parent: imports numpy (and torch) once, then forks one child per sandbox.

Started by ``ForkServer`` as ``python -I -m grader.sandbox.zygote FD`` with a clean
environment, in a session of its own. It talks to the grader over the SOCK_SEQPACKET
socket FD: JSON requests, with the child's two descriptors (control channel, output pipe)
passed alongside a ``spawn`` request. It holds no reference, no check and no gradebook
handle: whatever it holds, every student child inherits.

Start-up: the first message is the configuration (warm imports, isolation mode, slot uid,
layers turned off). Still single-threaded, the zygote enters a user namespace if asked to
(``userns`` mode, started unprivileged); then it imports the warm modules, probes which
isolation layers work (``isolation.Isolation.probe``) and answers
``{"ready": true, "layers": [...], ...}``.

Requests: ``{"op": "spawn", "limits": {...}}`` (plus ``"scratch": DIR`` of the host when
children get no private root) + fds -> ``{"pid": N}``;
``{"op": "wait", "pid": N}`` -> ``{"status": RAW_WAIT_STATUS}``. End of file on the socket
(the grader exited or was killed) makes it kill every child it started and exit.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

from grader.sandbox import isolation
from grader.sandbox.limits import close_fds_from, sandbox_environment, virtual_size

CHANNEL_FD = 3


def _warm_up(modules: list[str]) -> None:
    # The request loop (and numpy, which it imports) must be in memory before any fork:
    # a child whose root is private cannot import anything from the project checkout.
    importlib.import_module("grader.sandbox.child")
    for name in modules:
        importlib.import_module(name)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _become_sandbox(fds: list[int], request: dict, control: socket.socket, base_vsize: int,
                    layers: isolation.Isolation) -> None:
    """In the freshly forked child: detach, rewire descriptors, isolate, limit, then serve."""
    from grader.sandbox import child  # imported by _warm_up already

    channel, output = fds
    control.close()
    os.setsid()  # its own process group (and PID 1 of its own PID namespace, where enabled)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.dup2(channel, CHANNEL_FD)
    close_fds_from(CHANNEL_FD + 1)
    os.environ.clear()
    workdir = layers.enter(request, base_vsize)
    os.chdir(workdir)
    os.environ.update(sandbox_environment(workdir, tmp="/tmp" if layers.filesystem else workdir))
    tempfile.tempdir = None
    sys.dont_write_bytecode = True
    child.serve(CHANNEL_FD)


def _kill(pid: int) -> None:
    """SIGKILL a child and its process group (as PID 1 of its own namespace, it takes every
    process in that namespace along, whatever group they moved to)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _reap(pid: int, grace: float) -> tuple[int, float]:
    """Wait up to ``grace`` seconds for ``pid`` to exit, then kill it; its wait status and the CPU
    seconds it used (with the RLIMIT_CPU hard limit a SIGKILL is all its status says: as PID 1 of
    its namespace it never sees the soft limit's SIGXCPU, which only the CPU time explains)."""
    deadline = time.monotonic() + grace
    try:
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() >= deadline:
                _kill(pid)
                _, status, usage = os.wait4(pid, 0)
                break
            time.sleep(0.005)
    except ChildProcessError:
        return 0, 0.0
    try:
        os.killpg(pid, signal.SIGKILL)  # anything it left behind in its group
    except OSError:
        pass
    return status, usage.ru_utime + usage.ru_stime


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
    try:
        config = json.loads(control.recv(1 << 16))
        layers = isolation.Isolation.from_config(config)  # may enter a user namespace: single-threaded here
        inner = layers.become_pid1_of_own_namespace()
        if inner is not None:  # userns mode: the real zygote is PID 1 of a namespace of its own
            control.close()
            _, status = os.waitpid(inner, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0x7F)
        _warm_up(config.get("warm_imports", []))
        layers.prepare()
        layers.probe()
        base_vsize = virtual_size()
        control.send(json.dumps({"ready": True, "vsize": base_vsize, "mode": layers.mode,
                                 "layers": [layer.as_dict() for layer in layers.layers],
                                 "private_root": layers.filesystem, "host_pids": layers.mode != "userns",
                                 "threads": len(os.listdir("/proc/self/task"))}).encode())
    except BaseException:  # noqa: BLE001 - tell the grader why we cannot serve
        control.send(json.dumps({"ready": False, "error": traceback.format_exc(limit=3)}).encode())
        return
    _serve(control, layers, base_vsize)


def _serve(control: socket.socket, layers: isolation.Isolation, base_vsize: int) -> None:
    """Fork and reap sandboxes until the grader closes the socket; then kill what is left."""
    # Each live child and its host scratch folder (None with a private root), so that if the
    # grader dies (even by kill -9) the folders of the children it never reaped are removed too.
    children: dict[int, str | None] = {}
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 4)
        except OSError:
            message, fds = b"", []
        if not message:
            break
        request = json.loads(message)
        if request["op"] == "spawn":
            try:
                pid = layers.fork()
            except OSError as exc:
                for fd in fds:
                    os.close(fd)
                control.send(json.dumps({"error": f"fork failed: {exc}"}).encode())
                continue
            if pid == 0:
                code = 70
                try:
                    _become_sandbox(fds, request, control, base_vsize, layers)
                    code = 0
                except BaseException:  # noqa: BLE001 - the child must never return into this loop
                    try:
                        traceback.print_exc()
                    except BaseException:  # noqa: BLE001
                        pass
                finally:
                    os._exit(code)
            for fd in fds:
                os.close(fd)
            children[pid] = request.get("scratch")
            control.send(json.dumps({"pid": pid}).encode())
        elif request["op"] == "wait":
            pid = int(request["pid"])
            status, cpu = _reap(pid, float(request.get("grace", 0.0)))
            children.pop(pid, None)
            control.send(json.dumps({"status": status, "cpu": cpu}).encode())
    for pid in children:
        _kill(pid)
    for pid, scratch in children.items():
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
    # Every child is dead and reaped: skip interpreter teardown, which takes 0.4-1.2 s with torch
    # loaded and which the grader would otherwise wait for at the end of every batch.
    os._exit(0)
