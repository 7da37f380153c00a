"""Grading many submissions: skip what is already graded, grade the rest in parallel, store.

Workers (processes of our own, ``grader.grading.pool``, each with its own warm sandbox parent) grade
and return plain results; only the coordinating process writes the gradebook, one transaction per
submission, as each result arrives. With a Dask scheduler the workers are the cluster's
(``grader.grading.distributed``); the rest is the same.

What is skipped, by mode:

- ``grade``: a submission (student, content) graded before, unless its last run failed because
  of the grader (``fault="grader"``): that one is graded again;
- ``force``: nothing, except what an interrupted ``--force`` batch at the same assignment version
  regraded already (the batch is resumed), so rerunning an interrupted ``--force`` finishes it;
- ``regrade``: nothing (``grader regrade`` passes exactly the runs of an older version).

Every stored run records the assignment's version, the grader's and the numeric libraries'
(read from this environment's package metadata, which is the workers' too; a Dask cluster's
workers are checked to have the same assignment files, not the same libraries).
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from grader.course.assignment import Assignment
from grader.course.lateness import apply_lateness
from grader.grading.failures import ungraded
from grader.grading.pool import WorkerPool
from grader.intake.discover import SubmissionFile
from grader.intake.submission import content_hash
from grader.results import SubmissionResult
from grader.text import clean, clean_name

if TYPE_CHECKING:  # annotations only: grading without a gradebook needs no SQLAlchemy
    from grader.gradebook import Gradebook

MODES = ("grade", "force", "regrade")


@functools.cache
def runtime_versions() -> dict[str, str | None]:
    """The grader's, NumPy's and torch's versions, from package metadata (importing torch to ask
    would cost the coordinator seconds)."""
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"grader_version": version("grader"), "numpy_version": version("numpy"),
            "torch_version": version("torch")}


def submission_digest(file: SubmissionFile) -> str | None:
    """What identifies the submission: its file's sha256; for an ambiguous one, a hash over its
    files' names and contents (renaming or deleting one makes it a new submission). None when
    it cannot be read (grading reports why)."""
    try:
        if file.problem is None:
            return content_hash(file.path.read_bytes())
        digest = hashlib.sha256(b"ambiguous\0")
        for path in sorted(file.problem_files):
            digest.update(bytes(path) + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()
    except OSError:
        return None


def _skipped(files: list[SubmissionFile], assignment: Assignment, gradebook: Gradebook | None, mode: str,
             batch: int | None) -> tuple[list[SubmissionResult], list[tuple[SubmissionFile, str | None]]]:
    """(results already stored, files to grade with their digests), in one query."""
    digests = [(file, submission_digest(file)) for file in files]
    if gradebook is None or mode == "regrade" or (mode == "force" and batch is None):
        return [], digests
    graded = gradebook.graded(assignment.name, sorted({file.student for file in files}))
    done = gradebook.batch_submissions(batch) if mode == "force" else None
    cached, todo = [], []
    for file, digest in digests:
        previous = graded.get((file.student, digest)) if digest is not None else None
        if previous is None:
            skip = False
        elif done is not None:  # resuming an interrupted --force: skip what it regraded
            skip = (file.student, digest) in done
        else:  # a grader failure is not the submission's: it is graded again
            skip = previous.fault != "grader"
        (cached if skip else todo).append(previous if skip else (file, digest))
    return cached, todo


class Batch:
    """One batch to grade: ``start`` gets graders going (worker processes, or for one job a warm
    sandbox parent here) without waiting for them, so that their start-up overlaps whatever the
    caller does next, such as opening the gradebook; ``results`` skips what the gradebook has
    graded already (see ``mode`` above), grades the rest and stores each result as it arrives.

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
        #: The gradebook batch its results were stored in, once one was.
        self.batch_id: int | None = None
        self._pool: WorkerPool | None = None
        self._grader = None  # a grader.grading.grader.Grader in this process, for one job

    @property
    def _gradable(self) -> list[SubmissionFile]:
        return [file for file in self.files if file.problem is None]

    def start(self) -> "Batch":
        if self.scheduler is not None or not self._gradable:
            return self
        if self.jobs > 1 and len(self._gradable) > 1:
            # The workers get the batch's first files before the gradebook says which are new:
            # they grade as soon as they are ready instead of waiting for it to open.
            self._pool = WorkerPool(self.assignment, workers=min(self.jobs, len(self._gradable)),
                                    course_root=self.course_root, visibility=self.visibility,
                                    require_isolation=self.require_isolation).start(likely=self._gradable)
        else:
            self._grader = self._local_grader().launch()
        return self

    def _local_grader(self):
        from grader.grading.grader import Grader  # here: it brings numpy, which a coordinator of workers never needs

        return Grader(self.assignment, visibility=self.visibility, require_isolation=self.require_isolation)

    def results(self, gradebook: Gradebook | None, *, force: bool = False, mode: str | None = None
                ) -> Iterator[SubmissionResult]:
        """Cached results first, then each new one as it is graded and stored. ``mode`` is one of
        ``MODES`` (``force=True`` is ``mode="force"``)."""
        mode = mode or ("force" if force else "grade")
        version = self.assignment.version
        try:
            if gradebook is not None and mode == "force":
                self.batch_id = gradebook.unfinished_batch(self.assignment.name, "force", version)
            cached, todo = _skipped(self.files, self.assignment, gradebook, mode, self.batch_id)
            if self._pool is not None and not any(file.problem is None for file, _ in todo):
                self._pool.kill()  # everything was graded before: what it started on is not needed
                self._pool = None
            yield from cached
            for file, result in self._grade(todo):
                apply_lateness(result, self.assignment.late_policy, file.submitted_at, file.submitted_at_source)
                result.late_by_lms = file.late_by_lms
                result.assignment_version = version
                for name, value in runtime_versions().items():
                    setattr(result, name, value)
                if gradebook is not None:
                    if self.batch_id is None:
                        self.batch_id = gradebook.start_batch(self.assignment.name, mode, version)
                    result = gradebook.record(result, title=self.assignment.title, batch=self.batch_id)
                yield result
        except BaseException:
            # Interrupted (Ctrl-C, the consumer stopped) or failed: do not wait for submissions in
            # flight. Their results were never stored, so a rerun grades them; a killed worker's
            # warm parent kills that worker's sandboxes. The batch stays unfinished: a --force
            # rerun resumes it.
            self.close(kill=True)
            raise
        self.close()
        if gradebook is not None and self.batch_id is not None:
            gradebook.finish_batch(self.batch_id)

    def _grade(self, todo: list[tuple[SubmissionFile, str | None]]
               ) -> Iterator[tuple[SubmissionFile, SubmissionResult]]:
        for file, digest in todo:  # the ambiguous first: nothing to run, so no waiting
            if file.problem is not None:
                yield file, self._ambiguous(file, digest or "")
        files = [file for file, _ in todo if file.problem is None]
        if not files:
            return
        if self.scheduler is not None:
            from grader.grading.distributed import grade_on_cluster

            # Each cluster worker checks its own host's isolation layers.
            yield from grade_on_cluster(self.assignment, files, scheduler=self.scheduler, course_root=self.course_root,
                                        visibility=self.visibility,
                                        grader_options={"require_isolation": self.require_isolation})
        elif self._pool is not None:
            yield from self._pool.grade(files)
        else:
            if self._grader is None:
                self._grader = self._local_grader()
            self._grader.start()
            # One after the other, each next file's sandbox loading while this one's checks run.
            results = self._grader.grade_files((file.path, file.student) for file in files)
            yield from zip(files, results)

    def _ambiguous(self, file: SubmissionFile, digest: str) -> SubmissionResult:
        """The error result of a student whose files leave the submission unclear: nothing is run."""
        return ungraded(self.assignment, student=file.student, file=clean_name(os.fsencode(str(file.path)), 4096),
                        content_hash=digest, error=clean(file.problem, 2000, multiline=False), fault="submission",
                        visibility=self.visibility)

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
                require_isolation: bool = False, mode: str | None = None) -> Iterator[SubmissionResult]:
    """Grade ``files``, storing each result as it arrives; yields results (cached ones first).

    ``Batch`` in one call, for a caller with nothing to do while graders start."""
    batch = Batch(assignment, files, course_root=course_root, jobs=jobs, visibility=visibility,
                  scheduler=scheduler, require_isolation=require_isolation).start()
    yield from batch.results(gradebook, force=force, mode=mode)


def regrade_files(stale: list[SubmissionResult]) -> tuple[list[SubmissionFile], list[tuple[SubmissionResult, str]]]:
    """What ``grader regrade`` grades again for these stored results: each one's file, when it is
    still there unchanged, with the submission time and its source as stored (so lateness is
    recomputed under the assignment's current policy); and the results it cannot regrade, with why."""
    from datetime import datetime

    from grader.intake.submission import SubmissionTooLarge, read_bounded

    files, skipped = [], []
    for result in stale:
        path = Path(result.file)
        shown = clean_name(result.file, 500)
        if path.is_dir():
            skipped.append((result, f"{shown} is a folder whose files left the submission unclear: grade it "
                                    "again with grader grade once one file is left"))
            continue
        try:
            data = read_bounded(path)
        except (OSError, SubmissionTooLarge):
            skipped.append((result, f"{shown} is no longer there (or cannot be read): grade the file again "
                                    "with grader grade"))
            continue
        if content_hash(data) != result.content_hash:
            skipped.append((result, f"{shown} is not what was graded then (it changed, or the submission was "
                                    "ambiguous): grade it again with grader grade"))
            continue
        moment = datetime.fromisoformat(result.submitted_at) if result.submitted_at else None
        files.append(SubmissionFile(path, result.student, submitted_at=moment,
                                    submitted_at_source=result.submitted_at_source, late_by_lms=result.late_by_lms,
                                    use_file_time=False, reason="graded with an older version of the assignment"))
    return files, skipped
