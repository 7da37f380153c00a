"""One local grading worker: ``python -P -m grader.grading.worker COORDINATOR_PID``, started by ``grader.grading.pool``.

It keeps one ``Grader`` (and so one warm sandbox parent) for the whole batch and speaks JSON
lines with the coordinator, on descriptors of its own (checks printing for debugging cannot
corrupt them: the process's stdout goes to stderr):

- in: first the configuration ``{"course_root", "assignment", "visibility", "require_isolation", "cpu",
  "threads"}`` (``cpu``: the one CPU to run on, with the warm parent and sandboxes, or null;
  ``threads``: submissions graded at once, 1 if absent), then one ``{"id": N, "path": ...,
  "student": ...}`` per submission; end of file ends the worker;
- out: ``{"ready": true}`` once the grader started, or ``{"error": ERROR}`` if it cannot; then
  ``{"id": N, "result": SubmissionResult.to_dict()}`` or ``{"id": N, "error": ERROR}`` per request,
  in order with one thread, in the order they finish with more. ``ERROR`` is ``{"type":
  "SandboxError", "message": ...}`` for a ``GraderError`` (a condition to report in one line) or
  ``{"type": "bug", "traceback": ...}`` for anything else.

With several threads, they share the worker's grader, and so its warm parent and its trusted
imports: for a torch assignment those are seconds of start-up and hundreds of MB that a second
worker process would pay again. Each thread grades its own submission in its own sandboxes;
the threads mostly wait for those (the GIL is free meanwhile), and the grader serialises its
calls of the reference (``Grader.trusted_lock``).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import traceback
from pathlib import Path

from grader.sandbox.isolation import die_with_parent


def _error(exc: BaseException) -> dict:
    from grader.errors import GraderError

    if isinstance(exc, GraderError):
        return {"type": type(exc).__name__, "message": str(exc)}
    return {"type": "bug", "traceback": traceback.format_exc()}


def serve(requests, replies) -> None:
    """Read the configuration, start a grader, grade each request until end of file."""

    def send(message: dict) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    line = requests.readline()
    if not line:
        return
    config = json.loads(line)
    if config.get("cpu") is not None:
        try:  # before the warm parent starts: it and every sandbox inherit the affinity
            os.sched_setaffinity(0, {int(config["cpu"])})
        except OSError:
            pass  # the CPU went offline or out of our cpuset meanwhile: any will do
    forkserver = None
    try:
        from grader.course.assignment import get_assignment
        from grader.sandbox.forkserver import ForkServer
        from grader.course.devices import needs_gpu

        assignment = get_assignment(config["assignment"], Path(config["course_root"]))
        # The warm parent first: its imports (numpy, torch) overlap ours of the grading side.
        forkserver = ForkServer(assignment.limits.warm_imports, gpu=needs_gpu(assignment),
                                limits=assignment.limits).launch()
        from grader.grading.grader import Grader

        grader = Grader(assignment, visibility=config.get("visibility", "all"), forkserver=forkserver,
                        require_isolation=bool(config.get("require_isolation"))).start()
    except Exception as exc:  # noqa: BLE001 - reported to the coordinator, which decides
        send({"error": _error(exc)})
        if forkserver is not None:
            forkserver.close()
        return
    try:
        send({"ready": True})
        threads = max(1, int(config.get("threads") or 1))
        if threads == 1:
            for line in requests:
                send(_graded(grader, json.loads(line)))
        else:
            _serve_threaded(grader, requests, send, threads)
    finally:
        grader.close()
        forkserver.close()


def _graded(grader, request: dict) -> dict:
    """The answer to one request: its result, or the error grading it ended in."""
    try:
        result = grader.grade_file(Path(request["path"]), request["student"])
    except Exception as exc:  # noqa: BLE001
        return {"id": request["id"], "error": _error(exc)}
    return {"id": request["id"], "result": result.to_dict()}


def _serve_threaded(grader, requests, send, threads: int) -> None:
    """Grade with ``threads`` threads, each taking the next request as it is done with one."""
    pending: queue.Queue = queue.Queue()
    sending = threading.Lock()

    def work() -> None:
        try:
            while (request := pending.get()) is not None:
                answer = _graded(grader, request)
                with sending:
                    send(answer)
        except BaseException:  # noqa: BLE001 - the coordinator is gone, or a check called sys.exit
            # A thread that stops would leave its request unanswered for ever: end the whole
            # worker instead, which the coordinator sees as a worker that died (it retries).
            os._exit(70)

    workers = [threading.Thread(target=work, name=f"grading-{n}", daemon=True) for n in range(threads)]
    for thread in workers:
        thread.start()
    for line in requests:
        pending.put(json.loads(line))
    for _ in workers:
        pending.put(None)
    for thread in workers:
        thread.join()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    # Killed with the coordinator (even by kill -9): its warm parent then sees the socket close
    # and kills the sandboxes, so nothing outlives the batch.
    die_with_parent(int(sys.argv[1]))
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    try:
        serve(requests, replies)
    except BrokenPipeError:
        pass  # the coordinator is gone
    finally:
        try:
            replies.close()
        except OSError:
            pass
    # Skip interpreter teardown (seconds with torch loaded): nothing is left to flush or close.
    os._exit(0)


if __name__ == "__main__":
    main()
