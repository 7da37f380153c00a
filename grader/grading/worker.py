"""One local grading worker: ``python -P -m grader.grading.worker COORDINATOR_PID``, started by ``grader.grading.pool``.

It keeps one ``Grader`` (and so one warm sandbox parent) for the whole batch and speaks JSON
lines with the coordinator, on descriptors of its own (checks printing for debugging cannot
corrupt them: the process's stdout goes to stderr):

- in: first the configuration ``{"course_root", "assignment", "visibility", "require_isolation", "cpu"}``
  (``cpu``: the one CPU to run on, with the warm parent and sandboxes, or null),
  then one ``{"id": N, "path": ..., "student": ...}`` per submission; end of file ends the worker;
- out: ``{"ready": true}`` once the grader started, or ``{"error": ERROR}`` if it cannot; then
  ``{"id": N, "result": SubmissionResult.to_dict()}`` or ``{"id": N, "error": ERROR}`` per request,
  in order. ``ERROR`` is ``{"type": "SandboxError", "message": ...}`` for a ``GraderError`` (a
  condition to report in one line) or ``{"type": "bug", "traceback": ...}`` for anything else.
"""

from __future__ import annotations

import json
import os
import signal
import sys
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
        forkserver = ForkServer(assignment.limits.warm_imports, gpu=needs_gpu(assignment)).launch()
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
        for line in requests:
            request = json.loads(line)
            try:
                result = grader.grade_file(Path(request["path"]), request["student"])
            except Exception as exc:  # noqa: BLE001
                send({"id": request["id"], "error": _error(exc)})
                continue
            send({"id": request["id"], "result": result.to_dict()})
    finally:
        grader.close()
        forkserver.close()


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
