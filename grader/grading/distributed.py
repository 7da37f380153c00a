"""Grading on a Dask cluster: ``grader grade ... --scheduler tcp://HOST:PORT`` (needs ``grader[dask]``).

The coordinator (the ``grader grade`` process) reads and parses every submission and sends it
with its task, so workers need not share its filesystem. Each worker thread keeps one
``Grader`` with its own warm sandbox parent for the whole batch (a worker plugin registered for
the batch and removed after it, which closes them). Workers send back plain results (dicts);
only the coordinator writes the gradebook.

Workers need this grader installed and the course folder (``assignments/`` and ``reference/``):
at the coordinator's course path, or where ``$GRADER_COURSE`` points on the worker. A worker
whose copy of the assignment differs from the coordinator's refuses to grade it::

    dask scheduler --port 8786                                  # one machine
    GRADER_COURSE=/srv/course dask worker tcp://HOST:8786 --nthreads 2   # each grading machine
    grader grade perceptron submissions/ --scheduler tcp://HOST:8786
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from grader.course.assignment import COURSE_ENV, Assignment, assignment_version, get_assignment
from grader.errors import AssignmentError, ClusterError, UsageError
from grader.grading.grader import Grader
from grader.results import SubmissionResult
from grader.intake.submission import Submission, load_submission

if TYPE_CHECKING:
    from grader.intake.discover import SubmissionFile

try:
    from distributed import Client, KilledWorker, WorkerPlugin, as_completed, get_worker
except ImportError:  # the optional extra is absent: grade_on_cluster says how to install it
    Client = None
    WorkerPlugin = object
    KilledWorker = ()

DASK_MISSING = "--scheduler needs Dask: pip install 'grader[dask]' (on the workers too)"
#: Seconds to reach the scheduler, and to wait for its first worker.
CONNECT_TIMEOUT = 30
WORKERS_TIMEOUT = 60


def assignment_fingerprint(course_root: Path, name: str) -> str:
    """The assignment's version (``grader.course.assignment.assignment_version``) in ``course_root``:
    equal on two machines, equal grading."""
    return assignment_version(course_root / "assignments" / name, course_root / "reference" / f"{name}.py")


class GraderPlugin(WorkerPlugin):
    """On each worker: a ``Grader`` per worker thread for one batch, closed when the batch ends."""

    def __init__(self, course_root: str, assignment: str, visibility: str, fingerprint: str,
                 grader_options: dict | None = None):
        self.name = f"grader-{assignment}-{uuid.uuid4().hex[:8]}"
        self.course_root = course_root
        self.assignment = assignment
        self.visibility = visibility
        self.fingerprint = fingerprint
        self.grader_options = dict(grader_options or {})
        self._where = "a Dask worker"
        self._spec: Assignment | None = None
        self._graders: dict[int, Grader] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_spec=None, _graders={}, _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def setup(self, worker) -> None:
        self._where = f"Dask worker {worker.address}"
        self._assignment()  # fail at registration, before any task, if the course is not here

    def teardown(self, worker) -> None:
        with self._lock:
            graders, self._graders = list(self._graders.values()), {}
        for grader in graders:
            grader.close()

    def _assignment(self) -> Assignment:
        if self._spec is not None:
            return self._spec
        roots = [Path(self.course_root)] + ([Path(os.environ[COURSE_ENV])] if os.environ.get(COURSE_ENV) else [])
        root = next((r for r in roots if (r / "assignments" / self.assignment).is_dir()), None)
        if root is None:
            raise AssignmentError(
                f"{self._where} has no course folder with assignments/{self.assignment} "
                f"(looked in {', '.join(map(str, roots))}); give every worker the course folder at the "
                f"same path, or start the worker with {COURSE_ENV}=/path/to/course")
        if assignment_fingerprint(root, self.assignment) != self.fingerprint:
            raise AssignmentError(
                f"the course at {root} on {self._where} differs from the coordinator's for {self.assignment} "
                "(assignments/ or reference/); copy the same course folder to every worker")
        self._spec = get_assignment(self.assignment, root)
        return self._spec

    def grader(self) -> Grader:
        """This thread's grader, started on first use (a warm sandbox parent per worker thread)."""
        key = threading.get_ident()
        with self._lock:
            grader = self._graders.get(key)
        if grader is None:
            grader = Grader(self._assignment(), visibility=self.visibility, **self.grader_options).start()
            with self._lock:
                self._graders[key] = grader
        return grader


def _grade_on_worker(plugin_name: str, submission: Submission) -> dict:
    """A task: grade one parsed submission with this worker thread's grader; a plain dict back."""
    plugin: GraderPlugin = get_worker().plugins[plugin_name]
    return plugin.grader().grade(submission).to_dict()


def _connect(scheduler: str):
    if Client is None:
        raise UsageError(DASK_MISSING)
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); "
                           f"start one (dask scheduler) or check the address") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(f"the Dask scheduler at {scheduler} has no workers (waited {WORKERS_TIMEOUT} s); "
                           f"start some: dask worker {scheduler}") from None
    return client


def grade_on_cluster(assignment: Assignment, files: list[SubmissionFile], *, scheduler: str, course_root: Path,
                     visibility: str = "all", grader_options: dict | None = None
                     ) -> Iterator[tuple[SubmissionFile, SubmissionResult]]:
    """Grade ``files`` on the cluster; yields (file, result) as each result arrives.

    ``grader_options`` are passed to each worker's ``Grader``.
    """
    client = _connect(scheduler)
    plugin = GraderPlugin(str(course_root), assignment.name, visibility,
                          assignment_fingerprint(Path(course_root), assignment.name), grader_options)
    files_of = {}
    try:
        client.register_plugin(plugin, name=plugin.name)
        for order, file in enumerate(files):
            future = client.submit(_grade_on_worker, plugin.name, load_submission(file.path, file.student),
                                   key=f"{plugin.name}-{order}", pure=False, priority=-order)
            files_of[future] = file
        for future in as_completed(list(files_of), loop=client.loop):
            file = files_of[future]
            try:
                data = future.result()
            except KilledWorker:
                raise ClusterError(f"Dask workers kept dying while grading {file.path}; "
                                   "see their logs (memory?), then rerun to grade the rest") from None
            yield file, SubmissionResult.from_dict(data)
    finally:
        try:
            client.cancel(list(files_of), force=True)
            client.unregister_worker_plugin(plugin.name)
        except Exception:  # noqa: BLE001 - the cluster may be gone; closing must not hide the real error
            pass
        client.close()
