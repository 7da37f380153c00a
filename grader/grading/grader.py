"""Grading one submission: run every check against the sandboxed student module."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from grader.course.assignment import Assignment, list_assignments
from grader.course.devices import needs_gpu, require_device
from grader.compare import FIRST_FAILED
from grader.checks import Check, CheckContext, CheckFailed, Partial, check_seed
from grader.errors import AssignmentError, SandboxError
from grader.grading.failures import ungraded
from grader.grading.prepared import Prepared
from grader.grading.reference_cache import CachedReference
from grader.results import LABEL_LIMIT, MAX_LABELS, CheckResult, Note, SubmissionResult, Where
from grader.text import clean, clean_name
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


#: At most this many metrics per check, each name at most 64 characters.
MAX_METRICS = 32


def _metrics(measured: dict) -> dict[str, float]:
    """A check's metrics as stored: string names, finite floats (others are dropped)."""
    kept: dict[str, float] = {}
    for name, value in list(measured.items())[:MAX_METRICS]:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if isinstance(name, str) and name and np.isfinite(number):
            kept[name[:64]] = number
    return kept


def _labels(recorded: dict) -> dict[str, str]:
    """A check's labels as stored: string names (at most 64 characters) and string values, cleaned
    onto one line with runs of spaces as one, and capped (``LABEL_LIMIT``); empty values and
    anything but strings are dropped."""
    kept: dict[str, str] = {}
    for name, value in list(recorded.items())[:MAX_LABELS]:
        if isinstance(name, str) and name and isinstance(value, str):
            text = clean_name(" ".join(clean_name(value, 4 * LABEL_LIMIT).split()), LABEL_LIMIT)
            if text:
                kept[name[:64]] = text
    return kept


class _ReferenceHarness:
    """``ctx.reference_harness.fn(*args)`` runs harness ``fn(reference, *args)`` in the trusted
    process, holding ``lock`` (harness functions seed and use torch's global RNG)."""

    def __init__(self, harness, reference, lock):
        self._harness = harness
        self._reference = reference
        self._lock = lock

    def __getattr__(self, name: str):
        if self._harness is None:
            raise AttributeError(f"this assignment has no harness.py (wanted {name})")
        function = getattr(self._harness, name)

        def locked(*args, **kwargs):
            with self._lock:
                return function(self._reference, *args, **kwargs)

        locked.__name__ = name
        return locked


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
    def _reference_harness(self) -> "_ReferenceHarness":
        return _ReferenceHarness(self.assignment.harness_module, self.assignment.reference, self.trusted_lock)

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
            self._prepared  # made here, not by whichever grading thread asks first
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
        try:
            submission = load_submission(Path(path), student)
        except Exception:  # noqa: BLE001 - reading is ours to get right; one file must not stop the rest
            log.exception("reading %s failed", clean_name(str(path)))
            submission = Submission(Path(path), student, "", error="the grader failed to read this file; this is "
                                    "not the submission's fault: the course staff have the details in the grader's log")
            result = self.grade(submission)
            result.fault = "grader"
            for check in result.checks:
                check.reason = "grader_error"
            return result
        return self.grade(submission)

    def grade(self, submission: Submission) -> SubmissionResult:
        """Grade one submission. Never raises for anything the submission does: a failure of ours
        on this file becomes its ``error`` result (``fault="grader"``), and the batch goes on."""
        if self._forkserver is None:
            raise RuntimeError("Grader.start() was not called")
        started = time.monotonic()
        try:
            result = self._grade(submission, started)
        except (KeyboardInterrupt, SystemExit):
            raise
        except SandboxError:
            raise  # the host cannot sandbox any more (the warm parent died): nothing else can be graded either
        except Exception as exc:  # noqa: BLE001 - our own bug on this file must not stop the others
            log.exception("grading %s of %s failed", submission.display_name, self.assignment.name)
            result = self._ungraded(submission, f"the grader failed on this file ({type(exc).__name__}); "
                                                "this is not the submission's fault: the course staff have "
                                                "the details in the grader's log", fault="grader")
        result.duration = time.monotonic() - started
        return result

    def _ungraded(self, submission: Submission, error: str, *, fault: str, where=None) -> SubmissionResult:
        return ungraded(self.assignment, student=submission.student, file=_shown_path(submission.path),
                        content_hash=submission.content_hash, error=error, fault=fault, where=where,
                        notes=list(submission.notes)[:MAX_NOTES], visibility=self.visibility)

    def _grade(self, submission: Submission, started: float) -> SubmissionResult:
        if submission.error is not None:
            return self._ungraded(submission, clean(submission.error), fault="submission",
                                  where=submission.error_where)
        mismatch = wrong_assignment(submission.defined, self.expected, self._other_assignments)
        if mismatch is not None:
            return self._ungraded(submission, mismatch, fault="submission")
        result = SubmissionResult(
            student=submission.student, assignment=self.assignment.name, file=_shown_path(submission.path),
            content_hash=submission.content_hash, score=0.0, max_score=self.max_score,
            status="graded", error=None, notes=list(submission.notes))
        sandbox = SubmissionSandbox(self._forkserver, self.assignment.limits, submission,
                                    module_name=self.assignment.module,
                                    harness_source=self.assignment.harness_source)
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
            rng=np.random.default_rng(check_seed(assignment.seed, check.name)),
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
            status, message, where = "failed", str(failure), failure.where or _student_place(failure)
            fingerprint = _fingerprint(failure) or FIRST_FAILED.get()
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
            duration=round(time.monotonic() - started, 4), metrics=_metrics(context.metrics),
            labels=_labels(context.labels), where=where,
            reason=reason, fingerprint=fingerprint)


def _student_place(failure: BaseException) -> Where | None:
    """Where the student's exception that a check turned into this failure was raised, if it was
    raised while handling one (``raise CheckFailed(...) from None`` still keeps it as context)."""
    seen = 0
    cause = failure.__cause__ or failure.__context__
    while cause is not None and seen < 8:
        if isinstance(cause, SandboxOutcome) and cause.where is not None:
            return cause.where
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def _fingerprint(failure: CheckFailed) -> str | None:
    """The fingerprint of the comparison a failure came from: its own, or that of a failure it
    re-raised with more words (``raise CheckFailed(f"{failure}: ...") from None`` keeps it as context)."""
    seen = 0
    while failure is not None and seen < 8:
        if isinstance(failure, CheckFailed) and failure.fingerprint is not None:
            return failure.fingerprint
        failure, seen = failure.__cause__ or failure.__context__, seen + 1
    return None


def _shown_path(path: Path) -> str:
    """The submission's path as stored and shown: itself, or a printable form of a name of odd bytes."""
    text = str(path)
    shown = clean_name(os.fsencode(text), 4096)
    return text if shown == text else shown
