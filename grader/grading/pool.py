"""Local grading workers for ``--jobs N``: N processes, each with its own warm sandbox parent
(for a torch assignment, fewer processes grading several submissions at once each: see
``grader.grading.jobs.threads_per_worker``).

Each worker is ``python -P -m grader.grading.worker`` (its protocol is described there): JSON lines
over pipes, results as plain data. Not ``multiprocessing``: its spawn start method re-imports
the caller's main module in every worker (for ``grader grade`` the whole CLI with SQLAlchemy
and Alembic, ~0.5 s of CPU per worker; a user's script without a ``__main__`` guard fails
outright), and its results come back pickled.

The workers start loading as soon as ``start`` returns, so their start-up overlaps whatever the
caller does next (opening the gradebook, finding what is already graded). ``start`` also hands
each worker its first submissions, so that it grades them as soon as it is ready rather than
idling until the caller knows what is left to grade. A worker handed one the caller turns out
not to need (graded before) is replaced by a fresh one: it may be stuck in that submission for
as long as its time limits allow.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from grader import errors
from grader.errors import WorkerError
from grader.grading.jobs import allowed_cpus, threads_per_worker
from grader.results import SubmissionResult
from grader.sandbox.limits import ONE_THREAD

if TYPE_CHECKING:
    from grader.course.assignment import Assignment
    from grader.intake.discover import SubmissionFile

#: Seconds a worker gets to close its grader and exit at the end of a batch.
CLOSE_TIMEOUT = 15.0
#: Requests a worker holds at once: it never waits for the coordinator to read its last answer.
IN_FLIGHT = 2


class WorkerBug(RuntimeError):
    """A grading worker hit a bug in the grader (its traceback is the message)."""


class WorkerDied(Exception):
    """A grading worker that had started stopped (killed, crashed); ``how`` says how."""

    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


@dataclass
class _Worker:
    process: subprocess.Popen
    #: The CPU it (with its warm parent and sandboxes) runs on, or None to let the kernel choose.
    cpu: int | None = None
    buffer: bytearray = field(default_factory=bytearray)
    ready: bool = False
    #: Requests sent and not answered yet, oldest first: (request id, file).
    in_flight: deque = field(default_factory=deque)
    #: Submissions it grades at once.
    threads: int = 1

    def answered(self, request: int) -> "SubmissionFile":
        """Take request ``request`` off ``in_flight`` (answers of a worker with threads come in
        the order they finish); raise ``WorkerBug`` for an id it does not hold."""
        for index, (held, file) in enumerate(self.in_flight):
            if held == request:
                del self.in_flight[index]
                return file
        raise WorkerBug(f"a grading worker answered request {request}, which it does not hold")


def _raise(error: dict, where: str):
    """Re-raise a worker's error here: a ``GraderError`` as the same class, anything else as a bug."""
    if error.get("type") == "bug":
        raise WorkerBug(f"a grading worker failed {where}:\n{error.get('traceback', '')}")
    kind = getattr(errors, str(error.get("type")), None)
    if not (isinstance(kind, type) and issubclass(kind, errors.GraderError)):
        kind = errors.GraderError
    raise kind(error.get("message", "a grading worker failed"))


def _doing(worker: _Worker) -> str:
    return f"while grading {worker.in_flight[0][1].path}" if worker.ready and worker.in_flight else "while starting"


class WorkerPool:
    """``workers`` grading processes for one assignment; ``grade`` yields results as they finish."""

    def __init__(self, assignment: Assignment, *, workers: int, course_root: Path, visibility: str = "all",
                 require_isolation: bool = False, threads: int | None = None):
        self.assignment = assignment
        #: Submissions graded at once (``workers``), by ``size`` processes of at most ``threads``
        #: each (``threads_per_worker`` unless given), the jobs shared out evenly between them.
        self.jobs = max(1, workers)
        self.threads = max(1, min(threads, self.jobs)) if threads else threads_per_worker(assignment, self.jobs)
        self.size = -(-self.jobs // self.threads)
        self._shares = [self.jobs // self.size + (1 if i < self.jobs % self.size else 0) for i in range(self.size)]
        self.course_root = Path(course_root)
        self.visibility = visibility
        self.require_isolation = require_isolation
        self._workers: list[_Worker] = []
        self._queue: deque = deque()
        #: Files a worker died holding together with others: which of them it died on is not known,
        #: so each is tried again alone (and only a death while alone counts against a file).
        self._suspects: set = set()
        self._ids = count()

    def start(self, likely: list[SubmissionFile] = ()) -> "WorkerPool":
        """Start the workers and hand each its first requests from ``likely`` (the batch, before
        the caller knows which of it is graded already)."""
        try:
            for cpu, share in zip(self._cpus(), self._shares):
                self._workers.append(self._spawn(cpu, share))
            self._queue.extend(list(likely)[:self.jobs + (IN_FLIGHT - 1) * self.size])
            # A file for every job first, then one to wait behind each: a batch of one file per
            # job is graded all at once, not two files by one worker while another has none.
            for worker in self._workers:
                self._hand_out(worker, worker.threads)
            for worker in self._workers:
                self._hand_out(worker, worker.threads + IN_FLIGHT - 1)
        except BaseException:
            self.kill()
            raise
        return self

    def _cpus(self) -> list[int | None]:
        """A CPU for each worker when there is one worker per CPU this process may use (the
        default ``--jobs``), else None for each (the kernel places them).

        Grading is a ping-pong between a worker and its sandbox: it is faster when both stay on
        one core than when the kernel wakes each on whichever core is idle (``--jobs 2`` on this
        2-core VM: 17% less time). Only when the batch takes every core, though: two runs
        started with fewer workers than cores would be pinned to the same first ones."""
        allowed = allowed_cpus()
        pinned = self.size > 1 and self.threads == 1 and len(allowed) == self.size
        return allowed if pinned else [None] * self.size

    def _spawn(self, cpu: int | None, threads: int) -> _Worker:
        # -P: the current folder must not shadow numpy or grader with a file of the same name.
        command = [sys.executable, "-P", "-m", "grader.grading.worker", str(os.getpid())]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   env={**ONE_THREAD, **os.environ},  # what the user set wins
                                   process_group=0)  # Ctrl-C in a terminal reaches the coordinator only
        worker = _Worker(process, cpu, threads=threads)
        self._send(worker, json.dumps({"course_root": str(self.course_root), "assignment": self.assignment.name,
                                       "visibility": self.visibility, "require_isolation": self.require_isolation,
                                       "cpu": cpu, "threads": threads}))
        return worker

    def _feed(self, worker: _Worker) -> None:
        # One request in flight near the end, so no worker idles while another has a queue.
        room = worker.threads + (IN_FLIGHT - 1 if len(self._queue) >= self.jobs else 0)
        self._hand_out(worker, room)

    def _hand_out(self, worker: _Worker, room: int) -> None:
        """Send ``worker`` files from the queue until it holds ``room``."""
        while self._queue and len(worker.in_flight) < room:
            # A suspect goes to a worker holding nothing else, and nothing joins it there.
            if any(held in self._suspects for _, held in worker.in_flight) or \
                    (self._queue[0] in self._suspects and worker.in_flight):
                return
            file = self._queue.popleft()
            request = next(self._ids)
            worker.in_flight.append((request, file))
            self._send(worker, json.dumps({"id": request, "path": str(file.path), "student": file.student}))

    def _keep_only(self, files: list[SubmissionFile]) -> None:
        """Queue ``files`` behind the requests already handed out for them; replace every worker
        that holds a request for anything else."""
        unsent = Counter(files)
        for index, worker in enumerate(self._workers):
            held = Counter(file for _, file in worker.in_flight)
            if held <= unsent:
                unsent -= held
                continue
            worker.process.kill()
            self._reap(worker)
            self._workers[index] = self._spawn(worker.cpu, worker.threads)
        self._queue = deque()
        for file in files:
            if unsent[file]:
                unsent[file] -= 1
                self._queue.append(file)

    # --- grading ---------------------------------------------------------------------------------

    def grade(self, files: list[SubmissionFile]) -> Iterator[tuple[SubmissionFile, SubmissionResult]]:
        """Grade ``files`` across the workers; yields ``(file, result)`` in the order they finish.
        What ``start`` handed out counts where it is among ``files``.

        A worker that dies is replaced by a fresh one, and the submissions it held are tried
        once more there; a submission a worker dies on twice is an ``error`` result (the
        grader's fault), and the batch goes on. Only a death while a worker held that submission
        alone counts against it: the submissions of a worker that died holding several (being
        graded side by side in threads, or waiting behind one another) are each tried again alone."""
        if not self._workers:
            raise RuntimeError("WorkerPool.start() was not called")
        self._keep_only(files)
        tries: Counter = Counter()
        with selectors.DefaultSelector() as selector:
            for worker in self._workers:
                selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
                self._hand_out(worker, worker.threads)  # a file for every job first, as in ``start``
            for worker in self._workers:
                self._feed(worker)
            remaining = len(files)
            while remaining:
                for key, _ in selector.select():
                    worker = key.data
                    try:
                        messages = self._read(worker)
                    except WorkerDied as death:
                        selector.unregister(worker.process.stdout)
                        lost = [file for _, file in worker.in_flight]
                        replacement = self._replace(worker)
                        for file in reversed(lost):
                            if len(lost) > 1:  # one of them, or none, took the worker down
                                self._suspects.add(file)
                                self._queue.appendleft(file)
                                continue
                            tries[file] += 1
                            if tries[file] > 1:
                                remaining -= 1
                                self._suspects.discard(file)
                                yield file, self._died_on(file, death)
                            else:
                                self._queue.appendleft(file)
                        selector.register(replacement.process.stdout, selectors.EVENT_READ, replacement)
                        self._feed(replacement)
                        continue
                    for message in messages:
                        if not worker.ready:  # its first message: started, or why not
                            if "ready" not in message:
                                _raise(message.get("error", {}), "while starting")
                            worker.ready = True
                            continue
                        file = worker.answered(message.get("id"))
                        self._suspects.discard(file)
                        if "error" in message:
                            _raise(message["error"], f"on {file.path}")
                        self._feed(worker)  # before handing the result on: the worker keeps busy meanwhile
                        remaining -= 1
                        yield file, SubmissionResult.from_dict(message["result"])

    def _replace(self, worker: _Worker) -> _Worker:
        """A fresh worker on the same CPU in place of one that died."""
        self._reap(worker)
        fresh = self._spawn(worker.cpu, worker.threads)
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    def _died_on(self, file: SubmissionFile, death: "WorkerDied") -> SubmissionResult:
        from grader.grading.failures import ungraded
        from grader.text import clean_name

        return ungraded(self.assignment, student=file.student, file=clean_name(str(file.path), 4096), content_hash="",
                        error=f"a grading worker stopped twice while grading this file ({death.how}); this is the "
                              "grader's failure, not the submission's: the course staff can regrade it",
                        fault="grader", visibility=self.visibility)

    def _send(self, worker: _Worker, line: str) -> None:
        try:
            worker.process.stdin.write(line.encode() + b"\n")
            worker.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            self._died(worker)

    def _read(self, worker: _Worker) -> list[dict]:
        try:
            chunk = os.read(worker.process.stdout.fileno(), 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            self._died(worker)
        worker.buffer += chunk
        *lines, rest = worker.buffer.split(b"\n")
        worker.buffer = bytearray(rest)
        return [json.loads(line) for line in lines if line.strip()]

    def _died(self, worker: _Worker):
        """A worker's pipe closed: raise what it said last if it explained itself (a start-up
        refusal), else ``WorkerDied`` (``WorkerError`` while it was still starting)."""
        try:
            code = worker.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
            code = None
        try:
            worker.buffer += worker.process.stdout.read()
        except (OSError, ValueError):
            pass
        for line in bytes(worker.buffer).split(b"\n"):
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "error" in message:  # e.g. a start-up refusal, sent before it exited
                _raise(message["error"], _doing(worker))
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit status {code}" if code is not None else "it stopped answering"
        if not worker.ready:
            raise WorkerError(f"a grading worker stopped unexpectedly ({how}) while starting; "
                              "results stored so far are kept (run with --jobs 1 to see the underlying error)")
        raise WorkerDied(how)

    # --- ending --------------------------------------------------------------------------------

    def close(self) -> None:
        """End of input for every worker: each closes its grader and exits; wait for them."""
        for worker in self._workers:
            try:
                worker.process.stdin.close()
            except OSError:
                pass
        for worker in self._workers:
            try:
                worker.process.wait(timeout=CLOSE_TIMEOUT)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.process.stdout.close()
        self._workers = []

    def kill(self) -> None:
        """Stop at once (interrupted): a killed worker's warm parent kills its sandboxes."""
        for worker in self._workers:
            worker.process.kill()
        for worker in self._workers:
            self._reap(worker)
        self._workers = []

    @staticmethod
    def _reap(worker: _Worker) -> None:
        worker.process.wait()
        for stream in (worker.process.stdin, worker.process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> "WorkerPool":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.kill()
