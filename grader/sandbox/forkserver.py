"""The grader's side of the warm parent (``zygote``): start it, ask it to fork, reap."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

from grader.errors import SandboxError
from grader.sandbox.limits import sandbox_environment

START_TIMEOUT = 120.0


class ForkServer:
    """One warm parent process, owned by one grading worker."""

    def __init__(self, warm_imports: tuple[str, ...] = ("numpy",)):
        self.warm_imports = tuple(warm_imports)
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        #: Address space the warm parent maps; children may use their memory limit on top.
        self.base_vsize = 0

    def start(self) -> "ForkServer":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-m", "grader.sandbox.zygote", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=sandbox_environment(), cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            theirs.close()
        self._socket = ours
        ours.settimeout(START_TIMEOUT)
        try:
            ours.send(json.dumps({"warm_imports": list(self.warm_imports)}).encode())
            reply = json.loads(ours.recv(1 << 16) or b"{}")
        except (OSError, ValueError) as exc:
            self.close()
            raise SandboxError(f"the sandbox parent did not start: {exc}") from None
        if not reply.get("ready"):
            self.close()
            raise SandboxError(f"the sandbox parent could not import {', '.join(self.warm_imports)}: "
                               f"{reply.get('error', 'it exited')}")
        self.base_vsize = int(reply["vsize"])
        ours.settimeout(30.0)
        return self

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        if self._socket is None:
            raise SandboxError("the sandbox parent is not running")
        with self._lock:
            try:
                if fds:
                    socket.send_fds(self._socket, [json.dumps(request).encode()], list(fds))
                else:
                    self._socket.send(json.dumps(request).encode())
                reply = self._socket.recv(1 << 16)
            except OSError as exc:
                raise SandboxError(f"lost the sandbox parent: {exc}") from None
        if not reply:
            raise SandboxError("the sandbox parent exited unexpectedly")
        return json.loads(reply)

    def spawn(self, channel_fd: int, output_fd: int, request: dict) -> int:
        """Fork a sandboxed child serving on ``channel_fd``; returns its pid (= its process group)."""
        return int(self._ask(dict(request, op="spawn"), [channel_fd, output_fd])["pid"])

    def wait(self, pid: int, grace: float = 0.0) -> int:
        """Give a child ``grace`` seconds to exit, then kill its process group and reap it.

        Returns the child's raw wait status."""
        return int(self._ask({"op": "wait", "pid": pid, "grace": grace})["status"])

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()  # end of file: the zygote kills its children and exits
            self._socket = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process = None

    def __enter__(self) -> "ForkServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
