"""How many submissions to grade at once, and how: a process per job, or threads of one.

``grader grade`` asks ``default_jobs`` when ``--jobs`` is not given; ``WorkerPool`` asks
``threads_per_worker`` how to run them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.course.assignment import Assignment


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on (a container's cpuset or ``taskset`` may allow fewer
    than the machine has); empty where the platform does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return []


#: Batches smaller than this are graded by one grader in the command's own process: below it,
#: what a second worker costs to start (its interpreter, imports and warm parent, competing
#: with the first for the cores) is more than the grading it would take over. Measured on a
#: 2-core VM: 20 perceptron files grade as fast with one job as with two, 60 faster with two.
#: An assignment that imports torch costs seconds per submission, so two of them already pay.
SMALL_BATCH = {"numpy": 40, "torch": 2}


def default_jobs(assignment: "Assignment", submissions: int) -> int:
    """How many submissions to grade at once when ``--jobs`` is not given: one per CPU this
    process may use, or one for a batch too small to pay for more workers' start-up."""
    cpus = len(allowed_cpus()) or os.cpu_count() or 1
    return cpus if submissions >= SMALL_BATCH["torch" if _uses_torch(assignment) else "numpy"] else 1


#: Submissions one worker process of a torch assignment grades at once (threads sharing its grader).
#: What makes a second process cost is its start-up: torch imported in it and in its warm parent
#: (seconds of CPU on cores the first worker is grading on) and about 700 MB. Threads share all
#: that; they spend their time waiting for their sandboxes, where the students' code runs, so
#: the GIL is not what limits them: training's checks use 0.09 s of the grader's CPU per
#: submission against 1.3 s in the sandbox (measured on the 2-core VM), and lenet's less. Four
#: keeps a wide margin, and a worker dying takes at most four submissions' progress with it.
TORCH_THREADS = 4


def threads_per_worker(assignment: "Assignment", jobs: int) -> int:
    """How many of ``jobs`` submissions graded at once one worker process takes: up to
    ``TORCH_THREADS`` for a torch assignment, else one (a NumPy assignment's checks are Python
    that the GIL would serialise: conv's take more time in the grader than in the sandbox)."""
    return min(jobs, TORCH_THREADS) if _uses_torch(assignment) else 1


def _uses_torch(assignment: "Assignment") -> bool:
    """Its sandboxes start with torch imported: seconds of start-up per worker, and per submission."""
    return "torch" in assignment.limits.warm_imports
