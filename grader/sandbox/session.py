"""One submission's life in the sandbox: load its units, serve calls, recover from crashes.

``SubmissionSandbox`` starts a child, runs the submission's units in it (skipping any unit
that hung or crashed the child before, so a fresh child can get past it), and turns the
child's answers, checked by ``grader.sandbox.replies``, into values or ``SandboxOutcome``
exceptions. ``ModuleProxy`` is what a check sees as ``ctx.student`` / ``ctx.harness``.

Time belongs to the grader: every wait is bounded by an absolute deadline that nothing the
child sends can move, and all of them by the submission's budget (``Limits.submission_budget``),
which covers loading, every reload and every check.
"""

from __future__ import annotations

import time

from grader.intake.submission import Submission
from grader.results import Note, Where
from grader.sandbox import explain, replies
from grader.sandbox.encoded import EncodedArguments
from grader.sandbox.forkserver import ForkServer
from grader.sandbox.limits import MIB, Limits
from grader.sandbox.outcomes import (CallOutcome, CallTimeout, InputMutated, InvalidReply, MissingName, ReplyLimit,
                                     SandboxCrashed, SandboxOutcome, StudentError)
from grader.sandbox.runner import Sandbox
from grader.sandbox.wire import Encoder

#: After this many units that hang or crash, the rest of the submission is not run.
MAX_BAD_UNITS = 5


class SubmissionSandbox:
    """The sandboxed side of grading one submission. Its budget starts when it is made, or at
    ``begin`` for one whose code was sent ahead (``preload``)."""

    def __init__(self, forkserver: ForkServer, limits: Limits, submission: Submission, *,
                 module_name: str, harness_source: str | None = None, arguments: EncodedArguments | None = None):
        self._forkserver = forkserver
        self._limits = limits
        self._submission = submission
        self._module_name = module_name
        self._harness_source = harness_source
        #: Encodings of batch arguments, shared by a grader's submissions (None: encode each time).
        self._arguments = arguments
        self._sandbox: Sandbox | None = None
        #: A child sent its load request ahead (``preload``), not yet heard from.
        self._preloaded: Sandbox | None = None
        self._bad_units: dict[int, Note] = {}
        self._load_errors: dict[int, Note] | None = None
        #: Each exception report's place and hint (``_explained``), for the load errors known.
        self._explanations: dict = {}
        self._output: list[str] = []
        self._seq = 0
        self._reply_bytes = 0
        #: Why this submission cannot be loaded at all, once that is known.
        self._cannot_load: SandboxOutcome | None = None
        # Decoding a tensor imports torch: only where the assignment's sandbox has it too.
        self._allow_tensors = "torch" in limits.warm_imports
        #: Absolute time by which the current check's calls must be answered, and that limit in seconds.
        self.deadline = float("inf")
        self.check_seconds: float | None = None
        #: Absolute time by which everything of this submission must be done.
        self.budget_deadline = time.monotonic() + limits.submission_budget
        #: Seconds spent running the student's own code (top level and calls), as the child measured.
        self.student_seconds = 0.0

    def start_check(self, seconds: float) -> None:
        """The next calls belong to a check that may take ``seconds`` in all, from now."""
        self.check_seconds = seconds
        self.deadline = time.monotonic() + seconds

    def end_check(self) -> None:
        self.check_seconds, self.deadline = None, float("inf")

    @property
    def budget_left(self) -> float:
        return self.budget_deadline - time.monotonic()

    def _budget_spent(self) -> CallTimeout:
        return CallTimeout(f"not finished: the submission's time budget of {self._limits.submission_budget:g} s "
                           "(loading, reloads and every check together) ran out", reason="budget")

    # --- life cycle ------------------------------------------------------------------------

    def _load(self) -> None:
        """Start a child and run the units, skipping known-bad ones; retry past new bad ones."""
        if self._cannot_load is not None:  # it would fail the same way again: do not pay for it twice
            raise self._cannot_load
        while True:
            if self.budget_left <= 0:
                raise self._budget_spent()
            sandbox, self._preloaded = self._preloaded, None
            fresh = sandbox is None  # else it got its load request before (``preload``)
            if fresh:
                sandbox = Sandbox(self._forkserver, self._limits).start()
            units = self._submission.units
            current = None
            try:
                deadline = min(time.monotonic() + self._limits.load_timeout, self.budget_deadline)
                if fresh:
                    sandbox.send(self._load_request(), [], deadline)
                while True:
                    header, blobs = self._receive(sandbox, deadline)
                    event = replies.load_event(header, units=len(units), after=current)
                    if isinstance(event, replies.UnitStarted):
                        current = event.index
                        # A new unit gets its own time, but never beyond the budget.
                        deadline = min(time.monotonic() + self._limits.load_timeout, self.budget_deadline)
                    else:
                        self.student_seconds += event.elapsed
                        break
            except (CallTimeout, SandboxCrashed, InvalidReply, ReplyLimit) as outcome:
                sandbox.kill()
                self._output.append(sandbox.output())
                if self.budget_left <= 0:
                    raise self._budget_spent() from None
                if isinstance(outcome, (InvalidReply, ReplyLimit)):
                    self._cannot_load = type(outcome)(f"while loading your code, {outcome.message}")
                    raise self._cannot_load from None
                if current is None or current in self._bad_units:
                    self._cannot_load = SandboxCrashed(f"could not start your code: it {outcome.message}",
                                                       reason=outcome.reason)
                    raise self._cannot_load from None
                what = (f"did not finish within {self._limits.load_timeout:g} s" if isinstance(outcome, CallTimeout)
                        else f"stopped the sandbox: it {outcome.message}")
                unit = units[current]
                self._bad_units[current] = Note(f"{unit.label}: {what} (skipped)", self._unit_where(current))
                if len(self._bad_units) >= MAX_BAD_UNITS:
                    self._bad_units.update({i: Note(f"{u.label}: not run (too many cells hung or crashed)",
                                                    self._unit_where(i))
                                            for i, u in enumerate(units) if i > current})
                continue
            if self._load_errors is None:
                # In file order, each note can say that a name it misses is defined in an earlier unit that failed.
                failed, self._load_errors = sorted(event.errors), {}
                self._explanations = {}
                for index in failed:
                    self._load_errors[index] = self._unit_error_note(index, event.errors[index], failed)
            self._sandbox = sandbox
            return

    def _load_request(self) -> dict:
        return {
            "op": "load", "module": self._module_name, "filename": self._submission.display_name,
            "compile_flags": self._submission.compile_flags, "harness": self._harness_source,
            "skip": sorted(self._bad_units),
            "units": [{"source": u.source, "filename": u.filename, "first_line": u.first_line}
                      for u in self._submission.units],
        }

    def preload(self) -> None:
        """Start the child and send it the submission without waiting: its top level runs while
        the grader is still busy with the submission before (at ``--jobs 1`` the machine's other
        core would idle). The first check reads how the load went, as if it had just run; a
        unit still running then gets its full ``load_timeout`` from that moment. Call
        ``begin`` when this submission's turn comes."""
        if self._sandbox is not None or self._preloaded is not None:
            return
        sandbox = Sandbox(self._forkserver, self._limits).start()
        try:
            sandbox.send(self._load_request(), [], time.monotonic() + self._limits.load_timeout)
        except SandboxOutcome:
            sandbox.kill(need_status=False)  # the first check loads it again, and reports why not
            return
        self._preloaded = sandbox

    def begin(self) -> None:
        """This submission's turn: its budget starts now, not when it was preloaded (the
        submission before may have taken long; what ran here meanwhile was its top level,
        bounded by the sandbox's CPU limit)."""
        self.budget_deadline = time.monotonic() + self._limits.submission_budget

    def _unit_where(self, index: int) -> Where:
        unit = self._submission.units[index]
        return (self._submission.where(unit.filename, unit.first_line if unit.cell is None else None)
                or Where(unit.label, unit.cell))

    def _unit_error_note(self, index: int, error: replies.ExceptionReport, failed: list[int]) -> Note:
        """The note for a unit that raised while loading; ``failed`` lists the units that raised."""
        unit = self._submission.units[index]
        where = self._submission.where(error.file, error.line)
        place = f" ({where.label})" if where is not None else ""
        library = explain.plotting_library(error.type_name, error.name)
        hint = (explain.plotting_import_hint(library, unit) if library
                else self._hint(error, where, [i for i in failed if i < index]))
        return Note(f"{unit.label}: {error.detail}{place}{'.' + hint if hint else ''}", where or self._unit_where(index))

    def _explained(self, error: replies.ExceptionReport) -> tuple[Where | None, str]:
        """Where in the submission ``error`` was raised, and the hint for it: worked out once per
        distinct report (the cases of a batch that raise mostly raise alike)."""
        known = self._explanations.get(error)
        if known is None:
            where = self._submission.where(error.file, error.line)
            known = (where, self._hint(error, where, sorted(self._load_errors or {})))
            if len(self._explanations) < 256:
                self._explanations[error] = known
        return known

    def _hint(self, error: replies.ExceptionReport, where: Where | None, failed: list[int]) -> str:
        """A sentence saying what to do about ``error`` when the grader can tell, else "";
        ``failed`` lists the units that raised while loading."""
        hint = explain.numpy2_hint(error.type_name, error.name, error.message, where.source if where else "")
        if hint or error.type_name != "NameError" or not error.name:
            return hint
        # A name that only a plotting import would have defined, had it not failed.
        for index in failed:
            unit = self._submission.units[index]
            if error.name in explain.plotting_names(unit):
                return (f" {error.name} comes from the plotting import that failed ({unit.label}): "
                        f"plots are not available while grading.")
        # A name the student does define, in code that never ran (a cell with a SyntaxError).
        site = explain.definition_site(self._submission, error.name)
        note = self._note_of_unit_at(*site) if site is not None else None
        return f" {error.name} is defined in code that did not run: {note.text}" if note is not None else ""

    def _missing(self, name: str) -> MissingName:
        """``name`` is not defined: say why when the code that defines it never ran."""
        plain = MissingName(f"{name} is not defined in your submission")
        site = explain.definition_site(self._submission, name)
        note = self._note_of_unit_at(*site) if site is not None else None
        if note is None:
            return plain
        return MissingName(f"{name} is not defined in your submission because the code that defines it did not "
                           f"run: {note.text}", where=note.where)

    def _note_of_unit_at(self, filename: str, line: int) -> Note | None:
        """The note saying why the unit holding ``filename``, ``line`` did not run to its end, if it did not."""
        submission = self._submission
        for index, unit in enumerate(submission.units):
            last = unit.first_line + len(unit.source.splitlines()) - 1
            if unit.filename == filename and (unit.cell is not None or unit.first_line <= line <= last):
                return self._bad_units.get(index) or (self._load_errors or {}).get(index)
        # Not a unit at all: reading the file skipped it (a cell with a SyntaxError), and its note says so.
        cell = submission.where(filename, None)
        if cell is None or cell.cell is None:
            return None
        notes = [n for n in submission.notes if n.where is not None and n.where.cell == cell.cell]
        return notes[-1] if notes else None

    def _receive(self, sandbox: Sandbox, deadline: float) -> tuple[dict, list[bytes]]:
        """One frame from ``sandbox``, counted against the submission's bound on answer bytes."""
        before = sandbox.bytes_received
        header, blobs = sandbox.receive(deadline)
        self._reply_bytes += sandbox.bytes_received - before  # headers count too, not only arrays
        if self._reply_bytes > self._limits.replies_mb * MIB:
            sandbox.kill()
            raise ReplyLimit(f"your code's answers added up to more than the {self._limits.replies_mb} MiB "
                             "allowed for one submission")
        return header, blobs

    def ensure_running(self) -> None:
        if self._sandbox is None or not self._sandbox.alive:
            if self._sandbox is not None:
                self._output.append(self._sandbox.output())
            self._sandbox = None
            self._load()

    def close(self) -> None:
        if self._preloaded is not None:
            self._preloaded.kill(need_status=False)
            self._preloaded = None
        if self._sandbox is not None:
            self._sandbox.kill(need_status=False)
            self._output.append(self._sandbox.output())
            self._sandbox = None

    def load_notes(self) -> list[Note]:
        """Units that raised, hung or crashed while loading, in a student's words, in file order."""
        notes = {**(self._load_errors or {}), **self._bad_units}
        return [notes[index] for index in sorted(notes)]

    def output(self) -> str:
        """What the student's code printed, across restarts (each part capped)."""
        parts = self._output + ([self._sandbox.output()] if self._sandbox is not None else [])
        return "".join(p for p in parts if p)

    # --- requests ----------------------------------------------------------------------------

    def _exchange(self, header: dict, blobs: list[bytes], what: str, cases: int | None = None,
                  encoded: tuple[str, str] | None = None):
        """Send one request and read its checked answer (a list of answers for a batch of ``cases``);
        ``encoded`` is a field of the request as JSON text already."""
        if self.budget_left <= 0:
            raise self._budget_spent()
        self.ensure_running()
        assert self._sandbox is not None
        self._seq += 1
        deadline = min(self.deadline, self.budget_deadline)
        try:
            self._sandbox.send(dict(header, seq=self._seq), blobs, deadline, encoded)
            frame, frame_blobs = self._receive(self._sandbox, deadline)
            if cases is None:
                answer = replies.reply(frame, frame_blobs, seq=self._seq, allow_tensors=self._allow_tensors)
            else:
                answer = replies.batch_reply(frame, frame_blobs, seq=self._seq, allow_tensors=self._allow_tensors,
                                             cases=cases)
        except CallTimeout:
            if deadline == self.budget_deadline and self.budget_left <= 0:
                raise self._budget_spent() from None
            limit = f"the {self.check_seconds:g} s time limit" if self.check_seconds else "the time limit"
            raise CallTimeout(f"{what} did not finish within {limit} of this check") from None
        except SandboxCrashed as crash:
            raise SandboxCrashed(f"your code stopped the sandbox during {what}: it {crash.message}",
                                 reason=crash.reason) from None
        except (InvalidReply, ReplyLimit) as refused:
            self._sandbox.kill()
            raise type(refused)(f"during {what}, {refused.message}") from None
        self.student_seconds += answer.elapsed if cases is None else sum(a.elapsed for a in answer)
        return answer

    def _outcome(self, answer: replies.Reply, what: str, name: str):
        if answer.kind == "value" and not answer.mutated:  # most answers
            return answer.value
        if answer.kind == "missing":
            raise self._missing(name)
        if answer.kind == "not_callable":
            raise MissingName(f"{name} in your submission is a {answer.text}, not a function")
        if answer.kind == "raised":
            error = answer.error
            where, hint = self._explained(error)
            place = f" ({where.label})" if where is not None else ""
            if error.type_name == "MemoryError":
                raise StudentError(f"{what} ran out of memory: it used more than the {self._limits.memory_mb} MiB "
                                   f"the sandbox allows (MemoryError){place}", detail=error.detail,
                                   type_name=error.type_name, mro=error.bases, where=where, reason="memory")
            raise StudentError(f"{what} raised {error.detail}{place}{'.' + hint if hint else ''}", detail=error.detail,
                               type_name=error.type_name, mro=error.bases, where=where, hint=hint)
        if answer.kind == "unsupported":
            raise StudentError(f"{what} returned a value that cannot be graded: {answer.text}",
                               type_name="TypeError", mro=("TypeError", "Exception"))
        if answer.kind == "protocol_error":
            raise InvalidReply(f"the sandbox could not read the grader's request for {what} ({answer.text})")
        if answer.mutated:
            raise InputMutated.of(what, answer.mutated[0])
        return answer.value

    def call(self, target: str, name: str, args: tuple, kwargs: dict):
        encoder = Encoder()
        header = {"op": "call", "target": target, "name": name,
                  "args": encoder.encode(list(args)), "kwargs": encoder.encode(dict(kwargs))}
        what = f"{name}()" if target == "student" else f"the grader's harness {name}() with your code"
        return self._outcome(self._exchange(header, encoder.blobs, what), what, name)

    def batch(self, target: str, name: str, cases: list[tuple[tuple, dict]]) -> list[CallOutcome]:
        """Call ``name`` once per ``(args, kwargs)`` case in one round trip; how each call ended.

        Each case is a tuple and a dict of the caller's own (``CheckContext.calls`` makes them: the
        same types for every submission, so that encodings remembered by value are found again).
        The cases share the check's deadline: a case that hangs times the whole batch out."""
        if not cases:
            return []
        header = {"op": "batch", "target": target, "name": name}
        if self._arguments is not None:
            text, blobs = self._arguments.encode_cases(cases)
            encoded = ("cases", text)
        else:
            encoder = Encoder()
            header["cases"], blobs, encoded = encoder.encode_cases(cases), encoder.blobs, None
        what = f"{name}()" if target == "student" else f"the grader's harness {name}() with your code"
        outcomes = []
        for answer in self._exchange(header, blobs, what, cases=len(cases), encoded=encoded):
            try:
                outcomes.append(CallOutcome(self._outcome(answer, what, name)))
            except SandboxOutcome as error:
                outcomes.append(CallOutcome(error=error))
        return outcomes

    def value(self, name: str):
        return self._outcome(self._exchange({"op": "value", "name": name}, [], f"reading {name}"), name, name)


class ModuleProxy:
    """Attribute access returns a function that runs in the sandbox."""

    def __init__(self, sandbox: SubmissionSandbox, target: str):
        self.__sandbox = sandbox
        self.__target = target

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)

        def remote(*args, **kwargs):
            return self.__sandbox.call(self.__target, name, args, kwargs)

        remote.__name__ = name
        return remote

    def __grader_value__(self, name: str):
        return self.__sandbox.value(name)

    def __grader_batch__(self, name: str, cases: list[tuple[tuple, dict]]) -> list[CallOutcome]:
        return self.__sandbox.batch(self.__target, name, cases)


__all__ = ["SubmissionSandbox", "ModuleProxy", "SandboxOutcome"]
