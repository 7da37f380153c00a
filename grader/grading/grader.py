"""Grading one submission: run every check against the sandboxed student module."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from grader.course.assignment import Assignment, list_assignments
from grader.course.devices import needs_gpu, require_device
from grader.compare import FIRST_FAILED
from grader.checks import Check, CheckContext, CheckFailed, Partial
from grader.errors import AssignmentError, SandboxError
from grader.grading.failures import ungraded
from grader.grading.generators import CheckGenerators
from grader.grading.jobs import allowed_cpus
from grader.grading.prepared import Prepared
from grader.grading.reference_cache import CachedReference, ReferenceHarness
from grader.grading.recorded import fingerprint_of, labels_of, metrics_of, student_place
from grader.results import CheckResult, Note, SubmissionResult
from grader.text import clean, clean_name
from grader.sandbox.encoded import EncodedArguments
from grader.sandbox.forkserver import ForkServer
from grader.sandbox.outcomes import SandboxOutcome
from grader.sandbox.session import ModuleProxy, SubmissionSandbox
from grader.intake.names import Expected, expected_from_stub, wrong_assignment
from grader.intake.submission import Submission, load_submission


log = logging.getLogger(__name__)
#: See ``Grader.trusted_lock``.
REFERENCE_LOCK = threading.RLock()
#: Notes kept per submission (a file of a thousand failing cells does not need a thousand).
MAX_NOTES = 100


def _position(note: Note) -> tuple[int, int]:
    """Where a note points in the file, so notes read top to bottom."""
    where = note.where
    if where is None:
        return (0, 0)
    return (where.cell or 0, where.line or 0)


@dataclass
class _Turn:
    """A submission read and waiting for its turn, its sandbox perhaps loading already."""

    submission: Submission
    #: Reading it failed (our fault): its result says so.
    unreadable: bool = False
    sandbox: SubmissionSandbox | None = None


class Grader:
    """Grades submissions of one assignment, each in a fresh sandbox forked from one warm parent.

    ``visibility`` is ``all`` (a TA grading) or ``public`` (a student's self-check).
    """

    def __init__(self, assignment: Assignment, *, visibility: str = "all", forkserver: ForkServer | None = None,
                 require_isolation: bool = False):
        self.assignment = assignment
        self.visibility = visibility
        #: Refuse to start (``SandboxError``) where the host lacks a namespace layer (TA grading).
        self.require_isolation = require_isolation
        # A fork server passed in is shared and stays running; one we start is ours to stop.
        self._forkserver: ForkServer | None = forkserver
        self._owns_forkserver = forkserver is None
        #: Held around every call of the reference (cached or through the harness): one for the
        #: process, since threads grading at once, with this grader (``grader.grading.worker``) or
        #: with one each (Dask's worker threads), share the imported reference module and its
        #: global state (harness functions seed torch's global generator).
        self.trusted_lock = REFERENCE_LOCK

    @functools.cached_property
    def _reference(self) -> CachedReference:
        """The reference, its answers remembered across this grader's submissions."""
        return CachedReference(self.assignment.reference, self.trusted_lock)

    @functools.cached_property
    def _prepared(self) -> Prepared:
        """What checks drew once for the whole batch (``ctx.once``)."""
        return Prepared(self.trusted_lock)

    @functools.cached_property
    def _reference_harness(self) -> "ReferenceHarness":
        return ReferenceHarness(self.assignment.harness_module, self.assignment.reference, self.trusted_lock)

    @functools.cached_property
    def checks(self) -> list[Check]:
        return self.assignment.checks_for(self.visibility)

    @functools.cached_property
    def time_limits(self) -> dict[str, float]:
        """Each check's wall-clock limit in seconds, from its ``timeout`` (a number, or a function of
        the assignment's settings) or ``[limits] check_timeout``: worked out once, when grading starts."""
        try:
            return {c.name: c.time_limit(self.assignment.extra, self.assignment.limits.check_timeout)
                    for c in self.checks}
        except ValueError as exc:
            raise AssignmentError(f"{self.assignment.directory / 'checks.py'}: {exc}") from None

    def launch(self) -> "Grader":
        """Start the warm sandbox parent without waiting for it; ``start`` finishes the start-up.

        Its imports (numpy, torch) take a while: launched early, they overlap the caller's own."""
        if self._forkserver is None:
            self._forkserver = ForkServer(self.assignment.limits.warm_imports, gpu=needs_gpu(self.assignment),
                                          limits=self.assignment.limits).launch()
        return self

    def start(self) -> "Grader":
        self.launch()
        try:
            # The trusted parts first, so a broken checks.py or reference fails before any grading,
            # and a device the machine lacks (device = "cuda") too.
            require_device(self.assignment)
            self.checks
            self.time_limits
            self._prepared, self._arguments  # made here, not by whichever grading thread asks first
            # Every check gets a generator (ctx.rng): numpy imports numpy.random only on first use,
            # 15-20 ms that would otherwise come after waiting for the warm parent, not during it.
            importlib.import_module("numpy.random")
            if self.assignment.checks_use_reference:
                self.assignment.reference
                self.assignment.harness_module
                self._reference, self._reference_harness  # made here, not by whichever thread asks first
                self._warm_trusted_side()
            else:
                # Checks that never ask the reference (lenet scores logits against hidden labels)
                # leave it unimported: with torch, that is seconds and hundreds of MB per worker.
                self.assignment.compile_reference()
            self._forkserver.wait_ready()
            if self.require_isolation:
                self._forkserver.refuse_unless_isolated()
        except BaseException:
            self.close()
            raise
        return self

    def _warm_trusted_side(self) -> None:
        """Import what the sandbox's warm parent imports here too, so a reference-harness call does not
        pay for first imports inside a check's time limit; and keep torch to one thread per grader,
        since parallelism comes from grading several submissions at once."""
        for name in self.assignment.limits.warm_imports:
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # the sandbox side reports a missing module clearly; the reference may not need it
        torch = sys.modules.get("torch")
        if torch is not None and torch.get_num_threads() != 1:
            torch.set_num_threads(1)

    def close(self) -> None:
        if self._forkserver is not None and self._owns_forkserver:
            self._forkserver.close()
        self._forkserver = None

    def __enter__(self) -> "Grader":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def missing_layers(self) -> list:
        """Isolation layers the warm parent found this host does not allow (after ``start``)."""
        return self._forkserver.missing_layers if self._forkserver is not None else []

    @functools.cached_property
    def expected(self) -> Expected:
        """The names a file for this assignment defines (its stub's), to recognise a file for another."""
        return expected_from_stub(self.assignment.name, self.assignment.stub_path)

    def _other_assignments(self) -> list[Expected]:
        """The names of the course's other assignments (asked only of a file that defines none of ours)."""
        try:
            others = list_assignments(self.assignment.directory.parent.parent)
        except AssignmentError:
            return []
        return [expected_from_stub(a.name, a.stub_path) for a in others if a.name != self.assignment.name]

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def grade_file(self, path: Path, student: str) -> SubmissionResult:
        return self._finish(self._read(Path(path), student))

    def grade_files(self, files: Iterable[tuple[Path, str]]) -> Iterator[SubmissionResult]:
        """Grade ``(path, student)`` pairs one after the other, yielding each result in order.

        While one submission's checks run, the next one's sandbox starts and loads its code
        (``SubmissionSandbox.preload``; see ``_loads_ahead`` for where): on a machine with a core
        to spare (``--jobs 1``) the load no longer waits in line. Each sandbox still holds one
        submission only, and each submission's budget starts at its turn."""
        waiting: _Turn | None = None  # read, and loading in its sandbox, while the one before is graded
        try:
            for path, student in files:
                upcoming = self._read(Path(path), student)
                self._preload(upcoming)
                turn, waiting = waiting, upcoming
                if turn is not None:
                    yield self._finish(turn)
            if waiting is not None:
                turn, waiting = waiting, None
                yield self._finish(turn)
        finally:
            if waiting is not None and waiting.sandbox is not None:
                waiting.sandbox.close()  # the caller stopped (Ctrl-C): never graded, nothing kept

    def _read(self, path: Path, student: str) -> "_Turn":
        try:
            return _Turn(load_submission(path, student))
        except Exception:  # noqa: BLE001 - reading is ours to get right; one file must not stop the rest
            log.exception("reading %s failed", clean_name(str(path)))
            return _Turn(Submission(path, student, "", error="the grader failed to read this file; this is not the "
                                    "submission's fault: the course staff have the details in the grader's log"),
                         unreadable=True)

    @functools.cached_property
    def _loads_ahead(self) -> bool:
        """Whether ``grade_files`` loads the next submission while this one's checks run: where
        sandboxes cannot see each other, a CPU is there for it, and the assignment is NumPy only.
        Torch assignments' submissions take seconds each (a load is no share of that worth having),
        and their code starts processes of its own (a DataLoader's), which two sandboxes of one
        slot uid would count together."""
        return (self._forkserver is not None and self._forkserver.sandboxes_apart and len(allowed_cpus()) > 1
                and "torch" not in self.assignment.limits.warm_imports)

    def _preload(self, turn: "_Turn") -> None:
        """Start the sandbox of a submission that will be run, and send it its code."""
        submission = turn.submission
        if not self._loads_ahead or self._refusal(submission) is not None:
            return
        sandbox = self._sandbox_for(submission)
        try:
            sandbox.preload()
        except Exception:  # noqa: BLE001 - the turn loads it the usual way and reports what goes wrong
            sandbox.close()
            return
        turn.sandbox = sandbox

    def _finish(self, turn: "_Turn") -> SubmissionResult:
        result = self.grade(turn.submission, sandbox=turn.sandbox)
        if turn.unreadable:
            result.fault = "grader"
            for check in result.checks:
                check.reason = "grader_error"
        return result

    def grade(self, submission: Submission, *, sandbox: SubmissionSandbox | None = None) -> SubmissionResult:
        """Grade one submission (in ``sandbox``, if one was preloaded for it). Never raises for
        anything the submission does: a failure of ours on this file becomes its ``error`` result
        (``fault="grader"``), and the batch goes on."""
        if self._forkserver is None:
            raise RuntimeError("Grader.start() was not called")
        started = time.monotonic()
        try:
            result = self._grade(submission, sandbox)
        except (KeyboardInterrupt, SystemExit):
            raise
        except SandboxError:
            raise  # the host cannot sandbox any more (the warm parent died): nothing else can be graded either
        except Exception as exc:  # noqa: BLE001 - our own bug on this file must not stop the others
            log.exception("grading %s of %s failed", submission.display_name, self.assignment.name)
            result = self._ungraded(submission, f"the grader failed on this file ({type(exc).__name__}); "
                                                "this is not the submission's fault: the course staff have "
                                                "the details in the grader's log", fault="grader")
        finally:
            if sandbox is not None:
                sandbox.close()  # closed by _grade already, unless it never got that far
        result.duration = time.monotonic() - started
        return result

    def _ungraded(self, submission: Submission, error: str, *, fault: str, where=None) -> SubmissionResult:
        return ungraded(self.assignment, student=submission.student, file=_shown_path(submission.path),
                        content_hash=submission.content_hash, error=error, fault=fault, where=where,
                        notes=list(submission.notes)[:MAX_NOTES], visibility=self.visibility)

    def _refusal(self, submission: Submission) -> SubmissionResult | None:
        """The result of a submission that is not run at all (unreadable, or for another assignment)."""
        if submission.error is not None:
            return self._ungraded(submission, clean(submission.error), fault="submission",
                                  where=submission.error_where)
        mismatch = wrong_assignment(submission.defined, self.expected, self._other_assignments)
        if mismatch is not None:
            return self._ungraded(submission, mismatch, fault="submission")
        return None

    @functools.cached_property
    def _generators(self) -> CheckGenerators:
        return CheckGenerators(self.assignment.seed)

    @functools.cached_property
    def _arguments(self) -> EncodedArguments:
        """The wire encodings of what checks send, remembered across this grader's submissions."""
        return EncodedArguments()

    def _sandbox_for(self, submission: Submission) -> SubmissionSandbox:
        return SubmissionSandbox(self._forkserver, self.assignment.limits, submission,
                                 module_name=self.assignment.module, harness_source=self.assignment.harness_source,
                                 arguments=self._arguments)

    def _grade(self, submission: Submission, sandbox: SubmissionSandbox | None) -> SubmissionResult:
        refused = self._refusal(submission)
        if refused is not None:
            return refused
        result = SubmissionResult(
            student=submission.student, assignment=self.assignment.name, file=_shown_path(submission.path),
            content_hash=submission.content_hash, score=0.0, max_score=self.max_score,
            status="graded", error=None, notes=list(submission.notes))
        if sandbox is None:
            sandbox = self._sandbox_for(submission)
        else:
            sandbox.begin()
        try:
            result.checks = [self._run_check(check, sandbox, submission) for check in self.checks]
        finally:
            sandbox.close()
        notes = sorted(result.notes + sandbox.load_notes(), key=_position)
        result.notes = notes[:MAX_NOTES]
        if len(notes) > MAX_NOTES:
            result.notes.append(Note(f"... and {len(notes) - MAX_NOTES} more notes"))
        result.output = clean(sandbox.output(), self.assignment.limits.output_bytes * 2)
        result.student_seconds = round(sandbox.student_seconds, 6)
        result.score = round(sum(c.score for c in result.checks), 6)
        return result

    def _run_check(self, check: Check, sandbox: SubmissionSandbox, submission: Submission) -> CheckResult:
        assignment = self.assignment
        context = CheckContext(
            student=ModuleProxy(sandbox, "student"),
            reference=self._reference,
            harness=ModuleProxy(sandbox, "harness"),
            rng=self._generators.fresh(check.name),
            seed=assignment.seed,
            student_id=submission.student,
            reference_harness=self._reference_harness,
            settings=assignment.extra,
            check_name=check.name,
            prepared=self._prepared,
        )
        timeout = self.time_limits[check.name]
        if sandbox.budget_left <= 0:
            return CheckResult(name=check.name, score=0.0, max_score=check.points, status="timeout",
                               message=f"not run: the submission's time budget of {assignment.limits.submission_budget:g} s "
                                       "(loading, reloads and every check together) ran out before this check",
                               visibility=check.visibility, description=check.description, reason="budget")
        started = time.monotonic()
        fraction, where, reason, fingerprint = 0.0, None, None, None
        FIRST_FAILED.set(None)
        try:
            # (Re)loading the submission has its own limits; the check's clock starts after it.
            sandbox.ensure_running()
            started = time.monotonic()
            sandbox.start_check(timeout)
            returned = check.function(context)
            if isinstance(returned, Partial) and returned.fraction < 1.0:
                status, message, fraction = "failed", returned.message, float(returned.fraction)
            else:
                status, message, fraction = "passed", returned.message if isinstance(returned, Partial) else "", 1.0
        except CheckFailed as failure:
            status, message, where = "failed", str(failure), failure.where or student_place(failure)
            fingerprint = fingerprint_of(failure) or FIRST_FAILED.get()
        except SandboxOutcome as outcome:
            status, message, where, reason = outcome.status, outcome.message, outcome.where, outcome.reason
        except Exception as exc:  # noqa: BLE001 - a broken check must not sink the submission
            # The details may quote the reference or hidden inputs: staff get them in the log.
            log.exception("check %s of %s crashed on %s", check.name, assignment.name, submission.display_name)
            status, reason = "error", "grader_error"
            message = f"the grader could not finish this check ({type(exc).__name__} in the check); tell the course staff"
        finally:
            sandbox.end_check()
        return CheckResult(
            name=check.name, score=round(check.points * fraction, 6), max_score=check.points,
            status=status, message=clean(message), visibility=check.visibility, description=check.description,
            duration=round(time.monotonic() - started, 4), metrics=metrics_of(context.metrics),
            labels=labels_of(context.labels), where=where,
            reason=reason, fingerprint=fingerprint)


def _shown_path(path: Path) -> str:
    """The submission's path as stored and shown: itself, or a printable form of a name of odd bytes."""
    text = str(path)
    shown = clean_name(os.fsencode(text), 4096)
    return text if shown == text else shown
