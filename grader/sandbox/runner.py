"""One sandboxed process as the trusted side sees it: start, send a request, read the answer
within a deadline, kill. Everything that comes back is decoded with the safe wire format."""

from __future__ import annotations

import math
import os
import select
import shutil
import signal
import socket
import tempfile
import time

from grader.sandbox.forkserver import ForkServer
from grader.sandbox.limits import Limits
from grader.sandbox.limits import MIB
from grader.sandbox.outcomes import CallTimeout, InvalidReply, ReplyLimit, SandboxCrashed
from grader.sandbox.wire import FrameTooLarge, WireError, pack, read_frame


class _OutputPipe:
    """The child's stdout/stderr pipe, drained by the trusted side whenever it waits for the
    child, keeping the first ``cap`` bytes.

    No thread: the child only runs while the grader waits for its answer (``_BufferedReader``
    drains this pipe while it waits), and it flushes its output before each answer, so when an
    answer arrives, everything printed before it is already in the pipe. Finishing a sandbox
    therefore never waits for the child to die just to see the end of its output."""

    #: Reads per ``drain`` (each up to 64 KiB): a child that writes as fast as we read cannot
    #: keep the grader in here.
    MAX_READS = 32

    def __init__(self, fd: int, cap: int):
        os.set_blocking(fd, False)
        self.fd: int | None = fd
        self._cap = cap
        self.kept = bytearray()
        self.dropped = 0

    def drain(self) -> None:
        """Read what is in the pipe now, without waiting; at end of file, close it."""
        for _ in range(self.MAX_READS):
            if self.fd is None:
                return
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                return
            room = self._cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            self.dropped += max(0, len(chunk) - max(room, 0))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output dropped]"
        return text


class _BufferedReader:
    """A file-like reader over a socket, with a buffer of its own that outlives one frame: a
    frame (its length, header and small blobs) usually arrives in one segment, which one
    ``recv`` then takes whole, instead of one call for the length, one for the header and one
    per blob. Every wait ends at the absolute ``deadline`` of the current read, and drains the
    child's output pipe meanwhile (so a child printing a lot never blocks on a full pipe)."""

    CHUNK = 1 << 16

    def __init__(self, sock: socket.socket, output: _OutputPipe):
        self._sock = sock
        self._output = output
        self._buffer = bytearray()
        self.deadline = float("inf")
        #: Bytes handed out so far (frames' lengths, headers and blobs alike).
        self.consumed = 0

    def read(self, count: int) -> bytes:
        if not self._buffer:
            self._fill(count)
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        self.consumed += len(taken)
        return taken

    def _fill(self, wanted: int) -> None:
        while True:
            remaining = self.deadline - time.monotonic()
            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN)
            if self._output.fd is not None:
                poller.register(self._output.fd, select.POLLIN)
            # Past the deadline, an answer already waiting is still taken (a look without waiting):
            # the grader may come to read late (a busy machine, another grading thread holding
            # the GIL), and that must not turn an answer in time into a timeout.
            timeout = None if remaining == float("inf") else max(0, math.ceil(remaining * 1000))
            ready = dict(poller.poll(timeout))
            if self._output.fd is not None and self._output.fd in ready:
                self._output.drain()
            if self._sock.fileno() not in ready:
                if remaining <= 0:
                    raise socket.timeout()
                continue
            try:
                # Readable (data, end of file or an error), so this does not wait. A large blob
                # is read straight through (up to 1 MiB per call); small frames, whole.
                self._buffer += self._sock.recv(min(max(wanted, self.CHUNK), 1 << 20), socket.MSG_DONTWAIT)
                return
            except BlockingIOError:
                continue


def describe_exit(status: int, limits: Limits, cpu_seconds: float = 0.0) -> tuple[str, str]:
    """Why a sandboxed process ended, in a student's words, and its reason code
    (``grader.results.REASONS``); ``cpu_seconds`` is the CPU time it used."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_seconds >= limits.cpu_seconds):
            return f"used more than {limits.cpu_seconds} s of CPU time", "cpu"
        if sig == signal.SIGXFSZ:
            return f"wrote a file larger than the {limits.file_size_mb} MiB limit", "file_size"
        if sig == signal.SIGSEGV:
            return "crashed with a segmentation fault (SIGSEGV)", "crashed"
        if sig == signal.SIGKILL:
            return (f"was killed (SIGKILL): most often memory beyond the {limits.memory_mb} MiB limit "
                    "or too many processes", "crashed")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"was killed by {name}", "crashed"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)} (os._exit or a crash)", "crashed"
    return "ended unexpectedly", "crashed"


class Sandbox:
    """A single sandboxed child process; not reusable after ``kill``."""

    def __init__(self, forkserver: ForkServer, limits: Limits):
        self._forkserver = forkserver
        self._limits = limits
        self._socket: socket.socket | None = None
        self._reader: _BufferedReader | None = None
        self._output: _OutputPipe | None = None
        self.pid: int | None = None
        self.scratch: str | None = None
        #: Why the process ended (in a student's words) and its reason code, once it has.
        self.exit_reason: str | None = None
        self.exit_code_reason: str = "crashed"

    def start(self) -> "Sandbox":
        request = {"limits": self._limits.as_request()}
        if not self._forkserver.private_root:
            # No private root on this host: a scratch folder of the host, removed at the end.
            self.scratch = tempfile.mkdtemp(prefix="grader-sandbox-")
            os.chmod(self.scratch, 0o700)
            if self._forkserver.slot_uid is not None:
                os.chown(self.scratch, self._forkserver.slot_uid, self._forkserver.slot_uid)
            request["scratch"] = self.scratch
        self.pid, ours, out_read = self._forkserver.spawn(request)
        self._socket = ours
        self._output = _OutputPipe(out_read, self._limits.output_bytes)
        self._reader = _BufferedReader(ours, self._output)
        return self

    @property
    def bytes_received(self) -> int:
        """Bytes of frames read from this child so far (headers and blobs)."""
        return self._reader.consumed if self._reader is not None else 0

    @property
    def alive(self) -> bool:
        return self._socket is not None

    def send(self, header: dict, blobs: list[bytes], deadline: float, encoded: tuple[str, str] | None = None) -> None:
        assert self._socket is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CallTimeout("ran out of time")
        self._socket.settimeout(remaining if remaining != float("inf") else None)
        try:
            self._socket.sendall(pack(header, blobs, encoded))
        except socket.timeout:
            self._timed_out()
        except OSError:
            self._crashed()

    def receive(self, deadline: float) -> tuple[dict, list[bytes]]:
        """One frame, within the absolute ``deadline`` (nothing the child sends moves it) and the
        size limits of one reply; a frame over them is refused before it is read."""
        assert self._socket is not None
        limits = self._limits
        try:
            self._reader.deadline = deadline
            return read_frame(self._reader, limits.reply_mb * MIB,
                              limits.reply_header_kb * 1024)
        except socket.timeout:
            self._timed_out()
        except (EOFError, OSError):
            self._crashed()
        except FrameTooLarge:
            self.kill()
            raise ReplyLimit(f"sent an answer larger than the {limits.reply_mb} MiB limit of one answer") from None
        except WireError as exc:
            self.kill()
            raise InvalidReply(f"sent an invalid answer ({exc})") from None

    def _timed_out(self):
        self.kill()
        raise CallTimeout("did not finish in time")

    def _crashed(self):
        self.kill(grace=0.5)  # let it finish dying, so the status says why (signal, exit code)
        raise SandboxCrashed(self.exit_reason or "ended unexpectedly", reason=self.exit_code_reason)

    def output(self) -> str:
        """What the student's code printed so far (capped)."""
        return self._output.text() if self._output else ""

    def kill(self, grace: float = 0.0, *, need_status: bool = True) -> None:
        """Kill the child and everything it started, reap it, remove its scratch dir (if any).

        In its own PID namespace, killing the child kills every process in it; otherwise its
        process group is killed (twice: by the warm parent when it reaps, and from here).

        With ``grace``, the child gets that many seconds to exit by itself first, so that
        its own exit status (a segfault, an exit code) is what gets reported. Without
        ``need_status`` (a sandbox simply done with) the warm parent reaps it in the background.
        """
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.pid is not None and not need_status and not grace and self.scratch is None:
            # Done with it: the warm parent kills and reaps it while we go on (nothing of it
            # outlives that: as PID 1 of its namespace it takes every process it started along).
            self._forkserver.discard(self.pid)
            self.pid = None
        if self.pid is not None:
            try:
                status, cpu_seconds = self._forkserver.wait(self.pid, grace=grace)
                self.exit_reason, self.exit_code_reason = describe_exit(status, self._limits, cpu_seconds)
            except Exception:  # noqa: BLE001 - the zygote may be gone; nothing left to reap then
                self.exit_reason = "ended unexpectedly"
            if self._forkserver.host_pids:
                try:
                    os.killpg(self.pid, signal.SIGKILL)  # whatever it started, in its group
                except (ProcessLookupError, PermissionError):
                    pass
            self.pid = None
        if self._output is not None:
            # Everything printed before the child's last answer is in the pipe by now (and a
            # child that was waited for has ended): take it, and let go of the pipe.
            self._output.drain()
            self._output.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
