"""The warm parent: imports numpy (and torch) once, then forks one child per sandbox.

Started by ``ForkServer`` as ``python -I -m grader.sandbox.zygote FD`` with a clean
environment, in a session of its own. It talks to the grader over the SOCK_SEQPACKET
socket FD: JSON requests, with the child's two descriptors (control channel, output pipe)
passed alongside a ``spawn`` request. It holds no reference, no check and no gradebook
handle: whatever it holds, every student child inherits.

Requests: ``{"op": "spawn", "scratch": DIR, "limits": {...}}`` + fds -> ``{"pid": N}``;
``{"op": "wait", "pid": N}`` -> ``{"status": RAW_WAIT_STATUS}``. End of file on the socket
(the grader exited or was killed) makes it kill every child it started and exit.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback

from grader.sandbox import child, isolation
from grader.sandbox.limits import apply_rlimits, close_fds_from, sandbox_environment, virtual_size

CHANNEL_FD = 3


def _warm_up(modules: list[str]) -> None:
    for name in modules:
        importlib.import_module(name)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _become_sandbox(fds: list[int], request: dict, control: socket.socket, base_vsize: int) -> None:
    """In the freshly forked child: detach, rewire descriptors, isolate, limit, then serve."""
    channel, output = fds
    control.close()
    os.setsid()  # its own process group: the grader kills the whole group at the end
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.dup2(channel, CHANNEL_FD)
    close_fds_from(CHANNEL_FD + 1)
    scratch = request["scratch"]
    os.environ.clear()
    os.environ.update(sandbox_environment(scratch))
    isolation.enter(request)
    os.chdir(request.get("workdir", scratch))
    import tempfile
    tempfile.tempdir = None
    apply_rlimits(request["limits"], base_vsize)
    child.serve(CHANNEL_FD)


def _reap(pid: int, grace: float) -> int:
    """Wait up to ``grace`` seconds for ``pid`` to exit, then kill its group; its wait status."""
    deadline = time.monotonic() + grace
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() >= deadline:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                break
            time.sleep(0.005)
    except ChildProcessError:
        return 0
    try:
        os.killpg(pid, signal.SIGKILL)  # anything it left behind in its group
    except OSError:
        pass
    return status


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
    try:
        config = json.loads(control.recv(1 << 16))
        _warm_up(config.get("warm_imports", []))
        base_vsize = virtual_size()
        control.send(json.dumps({"ready": True, "vsize": base_vsize,
                                 "threads": len(os.listdir("/proc/self/task"))}).encode())
    except BaseException:  # noqa: BLE001 - tell the grader why we cannot serve
        control.send(json.dumps({"ready": False, "error": traceback.format_exc(limit=3)}).encode())
        return
    children: set[int] = set()
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 4)
        except OSError:
            message, fds = b"", []
        if not message:
            break
        request = json.loads(message)
        if request["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                code = 70
                try:
                    _become_sandbox(fds, request, control, base_vsize)
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
            children.add(pid)
            control.send(json.dumps({"pid": pid}).encode())
        elif request["op"] == "wait":
            pid = int(request["pid"])
            status = _reap(pid, float(request.get("grace", 0.0)))
            children.discard(pid)
            control.send(json.dumps({"status": status}).encode())
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass


if __name__ == "__main__":
    main()
