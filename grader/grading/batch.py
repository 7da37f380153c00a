"""Grading many submissions: skip what is already graded, grade the rest in parallel, store.

Workers (processes of our own, ``grader.grading.pool``, each with its own warm sandbox parent) grade
and return plain results; only the coordinating process writes the gradebook, one transaction per
submission, as each result arrives. With a Dask scheduler the workers are the cluster's
(``grader.grading.distributed``); the rest is the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from grader.course.assignment import Assignment
from grader.course.lateness import apply_lateness
from grader.grading.pool import WorkerPool
from grader.intake.discover import SubmissionFile
from grader.intake.submission import content_hash
from grader.results import SubmissionResult

if TYPE_CHECKING:  # annotations only: grading without a gradebook needs no SQLAlchemy
    from grader.gradebook import Gradebook


def _already_graded(files: list[SubmissionFile], assignment: Assignment, gradebook: Gradebook | None,
                    force: bool) -> tuple[list[SubmissionResult], list[SubmissionFile]]:
    if gradebook is None or force:
        return [], list(files)
    graded = gradebook.graded(assignment.name)  # one query, not one per file
    cached, todo = [], []
    for file in files:
        try:
            digest = content_hash(file.path.read_bytes())
        except OSError:
            todo.append(file)  # grading reports the read error
            continue
        previous = gradebook.find(file.student, assignment.name, digest) if (file.student, digest) in graded else None
        (cached if previous is not None else todo).append(previous if previous is not None else file)
    return cached, todo


class Batch:
    """One batch to grade: ``start`` gets graders going (worker processes, or for one job a warm
    sandbox parent here) without waiting for them, so that their start-up overlaps whatever the
    caller does next, such as opening the gradebook; ``results`` skips what the gradebook has
    graded already, grades the rest and stores each result as it arrives.

    ``scheduler`` (a Dask scheduler's address) grades on that cluster instead of local processes.
    ``require_isolation`` (TA grading) raises ``SandboxError`` before grading anything where the
    grading host lacks a namespace layer of the sandbox.
    """

    def __init__(self, assignment: Assignment, files: list[SubmissionFile], *, course_root: Path, jobs: int = 1,
                 visibility: str = "all", scheduler: str | None = None, require_isolation: bool = False):
        self.assignment = assignment
        self.files = list(files)
        self.course_root = course_root
        self.jobs = jobs
        self.visibility = visibility
        self.scheduler = scheduler
        self.require_isolation = require_isolation
        self._pool: WorkerPool | None = None
        self._grader = None  # a grader.grading.grader.Grader in this process, for one job

    def start(self) -> "Batch":
        if self.scheduler is not None or not self.files:
            return self
        if self.jobs > 1 and len(self.files) > 1:
            # The workers get the batch's first files before the gradebook says which are new:
            # they grade as soon as they are ready instead of waiting for it to open.
            self._pool = WorkerPool(self.assignment, workers=min(self.jobs, len(self.files)),
                                    course_root=self.course_root, visibility=self.visibility,
                                    require_isolation=self.require_isolation).start(likely=self.files)
        else:
            self._grader = self._local_grader().launch()
        return self

    def _local_grader(self):
        from grader.grading.grader import Grader  # here: it brings numpy, which a coordinator of workers never needs

        return Grader(self.assignment, visibility=self.visibility, require_isolation=self.require_isolation)

    def results(self, gradebook: Gradebook | None, *, force: bool = False) -> Iterator[SubmissionResult]:
        """Cached results first, then each new one as it is graded and stored."""
        try:
            cached, todo = _already_graded(self.files, self.assignment, gradebook, force)
            if self._pool is not None and not todo:
                self._pool.kill()  # everything was graded before: what it started on is not needed
                self._pool = None
            yield from cached
            for file, result in self._grade(todo):
                apply_lateness(result, self.assignment.late_policy, file.submitted_at, file.submitted_at_source)
                yield gradebook.record(result, title=self.assignment.title) if gradebook is not None else result
        except BaseException:
            # Interrupted (Ctrl-C, the consumer stopped) or failed: do not wait for submissions in
            # flight. Their results were never stored, so a rerun grades them; a killed worker's
            # warm parent kills that worker's sandboxes.
            self.close(kill=True)
            raise
        self.close()

    def _grade(self, todo: list[SubmissionFile]) -> Iterator[tuple[SubmissionFile, SubmissionResult]]:
        if not todo:
            return
        if self.scheduler is not None:
            from grader.grading.distributed import grade_on_cluster

            # Each cluster worker checks its own host's isolation layers.
            yield from grade_on_cluster(self.assignment, todo, scheduler=self.scheduler, course_root=self.course_root,
                                        visibility=self.visibility,
                                        grader_options={"require_isolation": self.require_isolation})
        elif self._pool is not None:
            yield from self._pool.grade(todo)
        else:
            if self._grader is None:
                self._grader = self._local_grader()
            self._grader.start()
            for file in todo:
                yield file, self._grader.grade_file(file.path, file.student)

    def close(self, kill: bool = False) -> None:
        """Stop the graders: let workers finish closing (or ``kill`` them at once)."""
        if self._pool is not None:
            self._pool.kill() if kill else self._pool.close()
            self._pool = None
        if self._grader is not None:
            self._grader.close()
            self._grader = None

    def __enter__(self) -> "Batch":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        self.close(kill=exc_type is not None)


def grade_batch(assignment: Assignment, files: list[SubmissionFile], *, course_root: Path,
                gradebook: Gradebook | None, jobs: int = 1, force: bool = False,
                visibility: str = "all", scheduler: str | None = None,
                require_isolation: bool = False) -> Iterator[SubmissionResult]:
    """Grade ``files``, storing each result as it arrives; yields results (cached ones first).

    ``Batch`` in one call, for a caller with nothing to do while graders start."""
    batch = Batch(assignment, files, course_root=course_root, jobs=jobs, visibility=visibility,
                  scheduler=scheduler, require_isolation=require_isolation).start()
    yield from batch.results(gradebook, force=force)
