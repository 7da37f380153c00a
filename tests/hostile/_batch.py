"""Grade a folder of submissions in one batch; run by tests/test_hostile.py as PID 1 of a PID
namespace of its own (``unshare --pid --fork --mount-proc``), so that whatever a hostile
submission manages to kill or leave behind, it cannot reach past this namespace.

    python _batch.py COURSE_ROOT SUBMISSIONS_DIR GRADEBOOK OUT_JSON JOBS [THREADS]

The course's warm imports include torch, so its jobs are threads of one worker; ``THREADS`` 1
grades them in a process each instead, as a NumPy assignment's are.

Writes OUT_JSON: the results (as ``SubmissionResult.to_dict()``), the seconds the batch took,
and the processes still alive in this namespace once the batch is over (there must be none
but this one, PID 1, which ran the coordinator as its child).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from grader.course.assignment import get_assignment
from grader.grading.batch import grade_batch
from grader.intake.discover import find_submissions
from grader.gradebook import Gradebook


def _others() -> list[str]:
    """Processes of this PID namespace other than this one (reaping the ones that ended)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                found.append(f"{entry}: " + open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return found


def grade(course: str, submissions: str, gradebook: str, out: str, jobs: str, threads: str = "") -> None:
    if threads:
        from grader.grading import jobs as sizing

        sizing.TORCH_THREADS = int(threads)  # decided here, in the coordinator, and sent to each worker
    assignment = get_assignment("perceptron", Path(course))
    files = find_submissions([Path(submissions)], assignment.module)
    started = time.monotonic()
    results = []
    with Gradebook.open(gradebook) as book:
        for result in grade_batch(assignment, files, course_root=Path(course), gradebook=book, jobs=int(jobs)):
            results.append(result.to_dict())
    Path(out).write_text(json.dumps({"results": results, "elapsed": time.monotonic() - started}))


def main() -> None:
    """PID 1 forks the coordinator (a coordinator that is PID 1 is not what a TA runs), reaps
    whatever gets orphaned, and once the batch is over lists what is still alive."""
    args = sys.argv[1:7]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            grade(*args)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"the batch failed: {os.waitstatus_to_exitcode(status)}")
    deadline = time.monotonic() + 10
    leftovers = _others()
    while leftovers and time.monotonic() < deadline:  # workers and warm parents finishing their exit
        time.sleep(0.05)
        leftovers = _others()
    out = Path(args[3])
    data = json.loads(out.read_text())
    data.update(leftovers=leftovers, pid=os.getpid())
    out.write_text(json.dumps(data))


if __name__ == "__main__":
    main()
