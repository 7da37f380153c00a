"""Grading many submissions: find them, skip what is already graded, grade in parallel, store.

Workers (processes of our own, each with its own warm sandbox parent) grade and return
plain results; only the coordinating process writes the gradebook, one transaction per
submission, as each result arrives. With a Dask scheduler the workers are the cluster's
(``grader.distributed``); the rest is the same.
"""

from __future__ import annotations

import csv
import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from grader.assignment import Assignment, get_assignment
from grader.errors import UsageError
from grader.grading import Grader
from grader.lateness import apply_lateness, parse_moment
from grader.results import SubmissionResult
from grader.submission import SUFFIXES, content_hash

if TYPE_CHECKING:  # workers import this module and never write the gradebook: keep SQLAlchemy out of them
    from grader.gradebook import Gradebook

IGNORED_FOLDERS = {".ipynb_checkpoints", "__pycache__"}


@dataclass(frozen=True)
class SubmissionFile:
    """A file to grade and whose it is."""

    path: Path
    student: str
    #: When the student submitted it, if known (set by ``with_submission_times``).
    submitted_at: datetime | None = None


def _candidates(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))


def _pick(folder: Path, module: str) -> Path | None:
    """The submission inside a student's folder: the one named after the module, or the only one."""
    files = _candidates(folder)
    if not files:
        return None
    named = [p for p in files if p.stem == module]
    if named:
        return sorted(named, key=lambda p: p.suffix != ".py")[0] if len(named) > 1 else named[0]
    if len(files) == 1:
        return files[0]
    raise UsageError(f"{folder} holds several submissions ({', '.join(p.name for p in files)}); "
                     f"name the one to grade {module}.py or {module}.ipynb")


def find_submissions(paths: list[Path], module: str) -> list[SubmissionFile]:
    """Expand files and folders into submissions; ``folder/<student>/<file>`` names the student."""
    found: list[SubmissionFile] = []
    for path in map(Path, paths):
        path = path.resolve()  # stored paths must still make sense from another folder
        if path.is_file():
            found.append(SubmissionFile(path, path.stem))
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.name.startswith(".") or entry.name in IGNORED_FOLDERS:
                    continue
                if entry.is_file() and entry.suffix in SUFFIXES:
                    found.append(SubmissionFile(entry, entry.stem))
                elif entry.is_dir():
                    picked = _pick(entry, module)
                    if picked is not None:
                        found.append(SubmissionFile(picked, entry.name))
        else:
            raise UsageError(f"{path}: no such file or folder")
    return found


def read_manifest(path: Path) -> dict[str, list[tuple[str, datetime]]]:
    """A manifest CSV with columns student,file,submitted_at: per student, (file name, time) pairs."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"student", "submitted_at"} - set(reader.fieldnames or [])
            if missing:
                raise UsageError(f"{path}: the manifest needs the columns student,file,submitted_at "
                                 f"(missing {', '.join(sorted(missing))})")
            times: dict[str, list[tuple[str, datetime]]] = {}
            for number, row in enumerate(reader, start=2):
                moment = parse_moment(row["submitted_at"] or "", what=f"{path}, line {number}: submitted_at")
                times.setdefault(row["student"], []).append((Path(row.get("file") or "").name, moment))
            return times
    except OSError as exc:
        raise UsageError(f"cannot read the manifest {path}: {exc.strerror}") from None


def with_submission_times(files: list[SubmissionFile], *, submitted_at: datetime | None = None,
                          manifest: Path | None = None) -> list[SubmissionFile]:
    """Attach submission times: the option, else the manifest's row, else the file's mtime."""
    times = read_manifest(manifest) if manifest else {}
    dated = []
    for file in files:
        moment = submitted_at
        if moment is None and file.student in times:
            rows = times[file.student]
            named = [t for name, t in rows if name == file.path.name]
            moment = named[0] if named else rows[0][1]
        if moment is None:
            moment = datetime.fromtimestamp(file.path.stat().st_mtime, tz=timezone.utc)
        dated.append(replace(file, submitted_at=moment))
    return dated


# --- worker processes ---------------------------------------------------------------------------

_worker_grader: Grader | None = None


def _die_with_parent(coordinator: int) -> None:
    """Ask Linux to kill this worker if the coordinator dies (even by kill -9), so none outlives it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != coordinator:  # the coordinator died before we asked
        os._exit(1)


def _start_worker(course_root: str, assignment_name: str, visibility: str, coordinator: int) -> None:
    global _worker_grader
    _die_with_parent(coordinator)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    _worker_grader = Grader(get_assignment(assignment_name, Path(course_root)), visibility=visibility).start()


def _grade_in_worker(path: str, student: str) -> dict:
    assert _worker_grader is not None
    return _worker_grader.grade_file(Path(path), student).to_dict()


# --- coordinator ------------------------------------------------------------------------------

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


def _ready() -> bool:
    return True


def _start_pool(assignment: Assignment, *, workers: int, course_root: Path, visibility: str) -> ProcessPoolExecutor:
    """Worker processes, already starting: their start-up (imports, a warm parent each) overlaps
    the coordinator's own preparation."""
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker, initargs=(str(course_root), assignment.name, visibility, os.getpid()))
    for _ in range(workers):
        executor.submit(_ready)
    return executor


def grade_batch(assignment: Assignment, files: list[SubmissionFile], *, course_root: Path,
                gradebook: Gradebook | None, jobs: int = 1, force: bool = False,
                visibility: str = "all", scheduler: str | None = None) -> Iterator[SubmissionResult]:
    """Grade ``files``, storing each result as it arrives; yields results (cached ones first).

    ``scheduler`` (a Dask scheduler's address) grades on that cluster instead of local processes.
    """
    executor = None
    if scheduler is None and jobs > 1 and len(files) > 1:
        executor = _start_pool(assignment, workers=min(jobs, len(files)), course_root=course_root,
                               visibility=visibility)
    try:
        cached, todo = _already_graded(files, assignment, gradebook, force)
    except BaseException:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        raise
    if executor is not None and len(todo) <= 1:
        executor.shutdown(wait=False, cancel_futures=True)
        executor = None
    yield from cached

    def store(result: SubmissionResult, file: SubmissionFile) -> SubmissionResult:
        apply_lateness(result, assignment.late_policy, file.submitted_at)
        return gradebook.record(result, title=assignment.title) if gradebook is not None else result

    if scheduler is not None:
        from grader.distributed import grade_on_cluster

        if todo:
            for file, result in grade_on_cluster(assignment, todo, scheduler=scheduler, course_root=course_root,
                                                 visibility=visibility):
                yield store(result, file)
        return

    if executor is None:
        if not todo:
            return
        with Grader(assignment, visibility=visibility) as grader:
            for file in todo:
                yield store(grader.grade_file(file.path, file.student), file)
        return

    try:
        files_of = {executor.submit(_grade_in_worker, str(f.path), f.student): f for f in todo}
        pending = set(files_of)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield store(SubmissionResult.from_dict(future.result()), files_of[future])
    except BaseException:
        # Interrupted (Ctrl-C, the consumer stopped): do not wait for submissions in flight.
        # Their results were never stored, so a rerun grades them; killing a worker ends its
        # warm parent, which kills that worker's sandboxes.
        workers = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.kill()
        raise
    executor.shutdown(wait=True)
