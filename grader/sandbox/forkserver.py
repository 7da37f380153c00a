"""The grader's side of the warm parent (``zygote``): start it, ask it to fork, reap.

Started as root, a fork server takes a sandbox slot (a uid/gid of its own for its
children); in every mode its warm parent reports which isolation layers work here
(``layers``), and ``require_isolation=True`` refuses to start without the namespace layers.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading

from grader.errors import SandboxError
from grader.sandbox import isolation
from grader.sandbox.isolation import LayerStatus
from grader.sandbox.launch import warm_parent_command
from grader.sandbox.limits import Limits, sandbox_environment

START_TIMEOUT = 120.0


def refusal(missing: list[LayerStatus]) -> str:
    """One line saying why TA grading will not run here."""
    reasons = "; ".join(f"{layer.title}: {layer.detail}" for layer in missing)
    return (f"this host does not allow the sandbox's isolation layers ({reasons}); "
            f"grading untrusted submissions without them is unsafe (use --insecure to grade anyway)")


def missing_layers_warning(missing: list[LayerStatus]) -> str | None:
    """One line for a student whose host lacks some isolation layers, or None when none is missing."""
    if not missing:
        return None
    names = ", ".join(layer.title for layer in missing)
    return (f"warning: this host does not allow every sandbox layer (missing: {names}); "
            f"your code still runs in a separate, resource-limited process")


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _waiting(channel: int) -> bool:
    """A sandbox made ahead is still waiting for its first request: it has sent nothing and
    not hung up (one that died waiting shows end of file on its channel)."""
    poller = select.poll()
    poller.register(channel, select.POLLIN | select.POLLHUP | select.POLLERR)
    return not poller.poll(0)


class ForkServer:
    """One warm parent process, owned by one grading worker.

    ``isolate`` (default) gives every child the isolation layers this host allows;
    ``require_isolation`` makes ``start`` raise ``SandboxError`` when one of the
    namespace layers (``isolation.REQUIRED``) is missing. ``mode`` forces ``root``,
    ``userns`` or ``none`` (tests; ``None`` picks by the effective uid).
    """

    def __init__(self, warm_imports: tuple[str, ...] = ("numpy",), *, isolate: bool = True,
                 require_isolation: bool = False, mode: str | None = None, disable: tuple[str, ...] = (),
                 gpu: bool = False, limits: Limits | None = None, batch: bool = True):
        self.warm_imports = tuple(warm_imports)
        #: The limits of the sandboxes it will make: the first is made ahead as soon as the warm
        #: parent is ready, while the grader finishes its own start-up.
        self.limits = limits
        #: After each spawn the warm parent makes the next sandbox ahead, for the next submission of
        #: a batch. For one submission (``grader check``) that one would only be killed at the end,
        #: after taking a core from the grading: ``batch=False`` makes the rest on demand.
        self.batch = batch
        #: Bind the host's GPU device files into each sandbox's root (``device = "cuda"``).
        self.gpu = gpu
        #: Layers to leave out on purpose (tests of one layer at a time, diagnosis).
        self.disable = tuple(disable)
        self.require_isolation = require_isolation
        self.mode = mode or (isolation.host_uid_mode() if isolate else "none")
        if self.mode not in ("root", "userns", "none"):
            raise ValueError(f"unknown sandbox mode {self.mode!r} (root, userns or none)")
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._lock = threading.RLock()
        #: The sandbox the warm parent offered and no spawn has taken yet: (pid, limits, fds).
        self._offer: tuple[int, dict, list[int]] | None = None
        self._slot: isolation.Slot | None = None
        self._ready = False
        #: Address space the warm parent maps; children may use their memory limit on top.
        self.base_vsize = 0
        #: Every isolation layer and whether it works here (known once started).
        self.layers: list[LayerStatus] = []
        #: Children get a private root (tmpfs) instead of a scratch folder of the host.
        self.private_root = False
        #: Child pids are host pids (not the case when the warm parent is in a user namespace).
        self.host_pids = True

    @property
    def missing_layers(self) -> list[LayerStatus]:
        """Required layers this host does not allow (empty when fully isolated)."""
        return isolation.missing(self.layers)

    @property
    def sandboxes_apart(self) -> bool:
        """Two sandboxes alive at once cannot see each other (a PID namespace and a private root
        each): a submission may load while another's checks run."""
        working = {layer.name for layer in self.layers if layer.available}
        return self.private_root and {"processes", "filesystem"} <= working

    @property
    def slot_uid(self) -> int | None:
        return self._slot.uid if self._slot is not None else None

    def start(self) -> "ForkServer":
        """Start the warm parent and wait until it is ready to fork."""
        return self.launch().wait_ready()

    def launch(self) -> "ForkServer":
        """Start the warm parent without waiting for it: its imports (numpy, torch) take a
        while, which the caller can spend on its own preparation before ``wait_ready``."""
        config = {"warm_imports": list(self.warm_imports), "mode": self.mode, "disable": list(self.disable),
                  "gpu": self.gpu, "limits": self.limits.as_request() if self.limits is not None else None,
                  "batch": self.batch}
        if self.mode != "none":
            try:
                if self.mode == "root":
                    self._slot = isolation.Slot.acquire()
                    config.update(uid=self._slot.uid, gid=self._slot.gid)
            except OSError as exc:
                self.close()
                raise SandboxError(f"cannot prepare the sandbox: {exc}") from None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                warm_parent_command(theirs.fileno()),
                pass_fds=[theirs.fileno()], env=sandbox_environment(), cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            theirs.close()
        self._socket = ours
        ours.settimeout(START_TIMEOUT)
        try:
            ours.send(json.dumps(config).encode())
        except OSError as exc:
            self.close()
            raise SandboxError(f"the sandbox parent did not start: {exc}") from None
        return self

    def wait_ready(self) -> "ForkServer":
        """Wait for the launched warm parent's report; refuse if isolation is required and missing."""
        if self._socket is None:
            raise SandboxError("the sandbox parent was not launched")
        if self._ready:
            return self
        try:
            reply = json.loads(self._socket.recv(1 << 16) or b"{}")
        except (OSError, ValueError) as exc:
            self.close()
            raise SandboxError(f"the sandbox parent did not start: {exc}") from None
        if not reply.get("ready"):
            self.close()
            raise SandboxError(f"the sandbox parent could not import {', '.join(self.warm_imports)}: "
                               f"{reply.get('error', 'it exited')}")
        self.base_vsize = int(reply["vsize"])
        self.layers = [LayerStatus(d["name"], bool(d["available"]), d["detail"]) for d in reply.get("layers", [])]
        self.private_root = bool(reply.get("private_root"))
        self.host_pids = bool(reply.get("host_pids", True))
        self._socket.settimeout(30.0)
        self._ready = True
        if self.require_isolation:
            try:
                self.refuse_unless_isolated()
            except SandboxError:
                self.close()
                raise
        return self

    def refuse_unless_isolated(self) -> None:
        """Raise ``SandboxError`` (one line: which layers, why, ``--insecure``) if a namespace layer
        is missing here: the policy for TA grading, wherever the warm parent was started."""
        if self.missing_layers:
            raise SandboxError(refusal(self.missing_layers))

    def _ask(self, request: dict) -> dict:
        reply, fds = self._ask_for_fds(request)
        _close(fds)  # only a spawn's answer carries descriptors
        return reply

    def spawn(self, request: dict) -> tuple[int, socket.socket, int]:
        """A sandboxed child for ``request``: its pid (= its process group), the grader's end of
        its control channel and the read end of its output pipe. The sandbox the warm parent
        offered is taken where it fits, without a round trip; else one is started on demand."""
        if self._socket is None:
            raise SandboxError("the sandbox parent is not running")
        if not self._ready:
            self.wait_ready()
        with self._lock:  # (re-entered by _ask_for_fds) one thread's offer is never another's
            self._read_offers()
            offer, self._offer = self._offer, None
            if offer is not None:
                pid, limits, fds = offer
                if limits == request["limits"] and "scratch" not in request and _waiting(fds[0]):
                    self._tell({"op": "taken", "pid": pid})
                    return pid, socket.socket(fileno=fds[0]), fds[1]
                self._refuse(offer)  # other limits, or it died waiting: it must never fail a submission
            reply, fds = self._ask_for_fds(dict(request, op="spawn"))
            if reply.get("offered") is True and not fds:  # the offer was on its way when we asked
                offer, self._offer = self._offer, None
                if offer is not None and offer[0] == reply.get("pid"):
                    return offer[0], socket.socket(fileno=offer[2][0]), offer[2][1]
                if offer is not None:
                    self._refuse(offer)
                raise SandboxError("the sandbox parent handed over a sandbox it had not offered")
        if "pid" not in reply or len(fds) != 2:
            _close(fds)
            raise SandboxError(f"the sandbox parent could not start a sandbox: {reply.get('error')}")
        return int(reply["pid"]), socket.socket(fileno=fds[0]), fds[1]

    def _ask_for_fds(self, request: dict) -> tuple[dict, list[int]]:
        """Send one request to the warm parent and read its answer, with any descriptors it
        passes (an offer that arrives first is kept for the next spawn)."""
        if self._socket is None:
            raise SandboxError("the sandbox parent is not running")
        if not self._ready:
            self.wait_ready()
        with self._lock:
            try:
                self._socket.send(json.dumps(request).encode())
                while True:
                    reply, fds = self._receive()
                    if reply is None or "offer" not in reply:
                        break
                    self._keep_offer(reply, fds)
            except OSError as exc:
                raise SandboxError(f"lost the sandbox parent: {exc}") from None
        if reply is None:
            raise SandboxError("the sandbox parent exited unexpectedly")
        return reply, fds

    def _receive(self) -> tuple[dict | None, list[int]]:
        """One message of the warm parent (None at end of file), with its descriptors."""
        message, fds, _flags, _addr = socket.recv_fds(self._socket, 1 << 16, 2)
        if not message:
            _close(fds)
            return None, []
        try:
            return json.loads(message), list(fds)
        except ValueError:
            _close(fds)
            raise SandboxError("the sandbox parent sent an unreadable message") from None

    def _read_offers(self) -> None:
        """Take in the offers already waiting in the socket, without waiting for one (a look
        first: the socket's timeout would make a receive wait)."""
        waiting = select.poll()
        waiting.register(self._socket, select.POLLIN)
        while waiting.poll(0):
            try:
                reply, fds = self._receive()
            except OSError as exc:
                raise SandboxError(f"lost the sandbox parent: {exc}") from None
            if reply is None or "offer" not in reply:  # nothing else comes unasked
                _close(fds)
                return
            self._keep_offer(reply, fds)

    def _keep_offer(self, reply: dict, fds: list[int]) -> None:
        if self._offer is not None:  # one is out at a time: an older one still kept is refused
            self._refuse(self._offer)
            self._offer = None
        if len(fds) != 2 or type(reply.get("offer")) is not int:
            _close(fds)
            return
        self._offer = (reply["offer"], reply.get("limits"), fds)

    def _refuse(self, offer: tuple[int, dict, list[int]]) -> None:
        """Let go of a sandbox offered: the warm parent kills it (held under ``_lock``)."""
        _close(offer[2])
        self._tell({"op": "discard", "pid": offer[0]})

    def _tell(self, request: dict) -> None:
        """A request that has no answer (held under ``_lock``)."""
        try:
            self._socket.send(json.dumps(request).encode())
        except OSError:
            pass  # the warm parent is gone, and its children with it

    def discard(self, pid: int) -> None:
        """Kill and reap a child whose exit status nobody needs, without waiting for it."""
        if self._socket is None:
            return
        with self._lock:
            self._tell({"op": "discard", "pid": pid})

    def wait(self, pid: int, grace: float = 0.0) -> tuple[int, float]:
        """Give a child ``grace`` seconds to exit, then kill its process group and reap it.

        Returns the child's raw wait status and the CPU seconds it used."""
        reply = self._ask({"op": "wait", "pid": pid, "grace": grace})
        return int(reply["status"]), float(reply.get("cpu", 0.0))

    @property
    def warm_parent_pid(self) -> int | None:
        """The warm parent's pid (the sandboxes' parent), while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        self._ready = False
        if self._offer is not None:
            _close(self._offer[2])  # the warm parent kills it with the rest at end of file
            self._offer = None
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
        if self._slot is not None:
            self._slot.release()
            self._slot = None

    def __enter__(self) -> "ForkServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
