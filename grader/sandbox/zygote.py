"""The warm parent: imports numpy (and torch) once, then forks one child per sandbox.

Started by ``ForkServer`` as ``python -I -S`` (``grader.sandbox.launch``; where that cannot be,
``python -I -m grader.sandbox.zygote FD``) with a clean environment, in a session of its own.
It talks to the grader over the SOCK_SEQPACKET socket FD: JSON requests; a ``spawn`` answer
passes the new child's two descriptors (control channel, output pipe) to the grader. It holds
no reference, no check and no gradebook handle: whatever it holds, every student child inherits.

Start-up: the first message is the configuration (warm imports, isolation mode, slot uid,
layers turned off, the limits of the sandboxes to come if known, whether a batch is coming).
Still single-threaded, the zygote enters a user namespace if asked to (``userns`` mode,
started unprivileged); then it starts the probe of which isolation layers work
(``isolation.Isolation.start_probe``), imports the warm modules while the probe's child runs,
collects the probe's report and answers ``{"ready": true, "layers": [...], ...}``.

Requests: ``{"op": "spawn", "limits": {...}}`` (plus ``"scratch": DIR`` of the host when
children get no private root) -> ``{"pid": N}`` with the grader's ends of the child's control
channel and output pipe passed alongside (or ``{"pid": N, "offered": true}``: take the sandbox
offered, whose offer the grader had not read yet when it asked);
``{"op": "wait", "pid": N, "grace": S}`` -> ``{"status": RAW_WAIT_STATUS, "cpu": SECONDS}``;
``{"op": "discard", "pid": N}`` (kill it, no answer; it is reaped once it has died, while the
loop goes on); ``{"op": "taken", "pid": N}`` (no answer: the grader took the sandbox offered).

Offers: with a private root and a PID namespace, a sandbox is made ahead and sent unasked,
``{"offer": N, "limits": {...}}`` with its two descriptors, as soon as the limits are known:
the grader keeps it until a spawn with those limits, and takes it (``taken``) or refuses it
(``discard``) without waiting for this loop. In a batch (``"batch"`` in the configuration, the
default) each sandbox handed over, taken or spawned, is followed by the next one made ahead and
offered while the grader runs the current one, and the first by a late warm-up
(``numpy.random``, ``pathlib``) that every later sandbox inherits. One offer is out at a time.
End of file on the socket (the grader exited or was killed) makes it kill every child it
started and exit.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
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
#: Times the late warm-up runs the request loop on made-up requests (see ``_warm_up_late``).
REHEARSALS = 10


def _warm_up(modules: list[str]) -> None:
    # The request loop (and numpy, which it imports) must be in memory before any fork:
    # a child whose root is private cannot import anything from the project checkout.
    importlib.import_module("grader.sandbox.child")
    for name in modules:
        importlib.import_module(name)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    # Everything imported so far lives as long as the warm parent: move it out of the garbage
    # collector's generations, so that a child's collections never walk (and, by touching their
    # reference counts, copy-on-write) the parent's pages: with torch, tens of megabytes.
    gc.collect()
    gc.freeze()


def _warm_up_late() -> None:
    """After the first sandbox is made: what many submissions use but the sandboxes' own start
    does not need. numpy loads ``numpy.random`` on first use, 15-20 ms that every submission
    drawing a random number (weight init, dropout masks, shuffling) would pay in its sandbox;
    imported here, it costs the warm parent once, while the grader is busy with the first.

    Then the request loop runs here on made-up requests (``grader.sandbox.rehearsal``, ~35 ms
    once): what its first run in each sandbox did alone (specialising the interpreter's
    bytecode, filling lazily made caches, all by writing to pages shared with this process, so
    one copy-on-write fault each) is inherited done. A perceptron sandbox's load and calls take
    ~60 fewer faults and ~1 ms less CPU; conv's ~3.6 ms. Nothing secret is in it, and nothing of
    it is left."""
    if "numpy" in sys.modules:
        importlib.import_module("numpy.random")
    importlib.import_module("pathlib")  # loading files: without ``site`` nothing imported it yet
    from grader.sandbox import rehearsal

    try:
        for _ in range(REHEARSALS):
            rehearsal.rehearse()
    except Exception:  # noqa: BLE001 - a speed-up only: sandboxes work the same without it
        pass
    gc.collect()
    gc.freeze()


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
        # The probe's child tries the layers while this process imports numpy (and torch): it
        # needs neither, and a smaller parent forks faster.
        layers.prepare()
        probe = layers.start_probe()
        _warm_up(config.get("warm_imports", []))
        layers.finish_probe(probe)
        base_vsize = virtual_size()
        control.send(json.dumps({"ready": True, "vsize": base_vsize, "mode": layers.mode,
                                 "layers": [layer.as_dict() for layer in layers.layers],
                                 "private_root": layers.filesystem, "host_pids": layers.mode != "userns",
                                 "threads": len(os.listdir("/proc/self/task"))}).encode())
    except BaseException:  # noqa: BLE001 - tell the grader why we cannot serve
        control.send(json.dumps({"ready": False, "error": traceback.format_exc(limit=3)}).encode())
        return
    _serve(control, layers, base_vsize, config.get("limits"), batch=config.get("batch", True))


class _Children:
    """The sandboxes this warm parent started and has not reaped, and the one it has offered.

    A sandbox is made ahead of its submission where children get a private root: forked,
    isolated and limited, it waits for its first request. Its descriptors go to the grader at
    once, unasked, as an offer, so that the grader's next sandbox is already in its socket: it
    takes it without a round trip to this loop (``taken``), or refuses it (``discard``). Nothing
    in it is the submission's (that arrives with the load request), and each sandbox still
    serves one submission only. At most one offer is out at a time.
    """

    def __init__(self, control: socket.socket, layers: isolation.Isolation, base_vsize: int):
        self._control = control
        self._layers = layers
        self._base_vsize = base_vsize
        #: Each live child and its host scratch folder (None with a private root), so that if the
        #: grader dies (even by kill -9) the folders of children it never reaped are removed too.
        self.live: dict[int, str | None] = {}
        #: The pid of the sandbox offered to the grader and not yet taken or refused, and its limits.
        self.offered: int | None = None
        self._offered_limits: dict = {}
        #: Discarded sandboxes, killed and not reaped yet (each is in ``live`` too).
        self.dying: set[int] = set()

    def start(self, request: dict) -> tuple[int, list[int]]:
        """Fork a sandbox for ``request``; returns its pid and the grader's ends of its channel
        and output pipe."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_read, out_write = os.pipe()
        try:
            pid = self._layers.fork()
        except OSError:
            for fd in (ours.detach(), theirs.detach(), out_read, out_write):
                os.close(fd)
            raise
        if pid == 0:
            code = 70
            try:
                os.close(out_read)
                ours.close()
                _become_sandbox([theirs.detach(), out_write], request, self._control, self._base_vsize, self._layers)
                code = 0
            except BaseException:  # noqa: BLE001 - the child must never return into this loop
                try:
                    traceback.print_exc()
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        theirs.close()
        os.close(out_write)
        self.live[pid] = request.get("scratch")
        return pid, [ours.detach(), out_read]

    def offer(self, limits: dict) -> None:
        """Make the next sandbox ahead and offer it: only with a private root (a host scratch
        folder is the grader's to make, per sandbox) and a PID namespace (without one, the running
        sandbox, under the same uid, could signal the one waiting for the next submission)."""
        if self.offered is not None or not (self._layers.filesystem and self._layers.pid_namespace):
            return
        try:
            pid, fds = self.start({"limits": limits})
        except OSError:
            return  # the next spawn forks on demand and reports the failure
        try:
            socket.send_fds(self._control, [json.dumps({"offer": pid, "limits": limits}).encode()], fds)
        except OSError:
            self.discard(pid)  # the grader is gone: the loop ends at its next receive
            return
        finally:
            for fd in fds:
                os.close(fd)
        self.offered, self._offered_limits = pid, limits

    def offered_for(self, request: dict) -> int | None:
        """The sandbox offered, if it fits ``request``: the grader asked before the offer
        reached it (it has the descriptors by now: the offer went first)."""
        pid = self.offered
        if pid is None or self._offered_limits != request["limits"] or "scratch" in request:
            return None
        self.offered = None
        if os.waitpid(pid, os.WNOHANG) != (0, 0):  # it died waiting: it must never fail a submission
            self.reap(pid, 0.0)
            return None
        return pid

    def taken(self, pid: int) -> dict | None:
        """The grader took the sandbox offered: its limits (None if ``pid`` was not the one offered)."""
        if pid != self.offered:
            return None
        self.offered = None
        return self._offered_limits

    def reap(self, pid: int, grace: float) -> tuple[int, float]:
        self.dying.discard(pid)
        status, cpu = _reap(pid, grace)
        self.live.pop(pid, None)
        return status, cpu

    def discard(self, pid: int) -> None:
        """Kill a sandbox nobody needs the status of, and go on: it is reaped once it has died
        (``collect``). Waiting for it here, 1-3 ms while the kernel takes its namespaces and
        memory down, would hold up the grader's next ``spawn``, which waits on this loop."""
        if pid == self.offered:  # refused (other limits, or it died waiting)
            self.offered = None
        if pid in self.live:
            _kill(pid)
            self.dying.add(pid)

    def collect(self) -> None:
        """Reap the discarded sandboxes that have died."""
        for pid in list(self.dying):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                try:
                    os.killpg(pid, signal.SIGKILL)  # anything it left behind in its group
                except OSError:
                    pass
                self.dying.discard(pid)
                self.live.pop(pid, None)

    def kill_all(self) -> None:
        for pid in self.live:
            _kill(pid)
        for pid, scratch in self.live.items():
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)


def _serve(control: socket.socket, layers: isolation.Isolation, base_vsize: int, limits: dict | None, *,
           batch: bool = True) -> None:
    """Fork and reap sandboxes until the grader closes the socket; then kill what is left. With
    the ``limits`` of the sandboxes to come, the first is made ahead and offered at once. In a
    batch, each sandbox handed over (taken or spawned) is followed by the next one made ahead
    and offered, the first by the late warm-up; a single submission (``batch`` false) has no
    second sandbox to profit from either."""
    children = _Children(control, layers, base_vsize)
    if isinstance(limits, dict):
        children.offer(limits)
    late = batch
    waiting = select.poll()
    waiting.register(control, select.POLLIN)
    while True:
        # A discarded sandbox is reaped as soon as it has died, not at the next request: its
        # zombie would count against the slot uid's process limit until then.
        while children.dying and not waiting.poll(5):
            children.collect()
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 4)
        except OSError:
            message, fds = b"", []
        for fd in fds:  # requests carry no descriptors: the warm parent makes each sandbox's own
            os.close(fd)
        children.collect()
        if not message:
            break
        request = json.loads(message)
        handed_over = None  # the limits of a sandbox that just went to the grader
        if request["op"] == "spawn":
            offered = children.offered_for(request)
            if offered is not None:
                control.send(json.dumps({"pid": offered, "offered": True}).encode())
            else:
                try:
                    pid, ends = children.start(request)
                except OSError as exc:
                    control.send(json.dumps({"error": f"fork failed: {exc}"}).encode())
                    continue
                socket.send_fds(control, [json.dumps({"pid": pid}).encode()], ends)
                for fd in ends:
                    os.close(fd)
            handed_over = request["limits"]
        elif request["op"] == "taken":  # the sandbox offered is the grader's now: no answer
            handed_over = children.taken(int(request["pid"]))
        elif request["op"] == "wait":
            status, cpu = children.reap(int(request["pid"]), float(request.get("grace", 0.0)))
            control.send(json.dumps({"status": status, "cpu": cpu}).encode())
        elif request["op"] == "discard":  # a sandbox whose exit status nobody needs: no answer
            children.discard(int(request["pid"]))
        if batch and handed_over is not None:
            if late:
                _warm_up_late()
                late = False
            children.offer(handed_over)  # made while the grader runs the one it has
        children.collect()
    children.kill_all()


def run() -> None:
    """Serve, then exit at once."""
    main()
    # Every child is dead and reaped: skip interpreter teardown, which takes 0.4-1.2 s with torch
    # loaded and which the grader would otherwise wait for at the end of every batch.
    os._exit(0)


if __name__ == "__main__":
    run()
