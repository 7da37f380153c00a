"""One submission's life in the sandbox: load its units, serve calls, recover from crashes.

``SubmissionSandbox`` starts a child, runs the submission's units in it (skipping any unit
that hung or crashed the child before, so a fresh child can get past it), and turns the
child's answers into values or ``SandboxOutcome`` exceptions. ``ModuleProxy`` is what a
check sees as ``ctx.student`` / ``ctx.harness``.
"""

from __future__ import annotations

import time

from grader.sandbox.forkserver import ForkServer
from grader.sandbox.limits import Limits
from grader.sandbox.outcomes import (CallTimeout, InputMutated, MissingName, SandboxCrashed, SandboxOutcome,
                                     StudentError)
from grader.sandbox.runner import Sandbox
from grader.intake.submission import Submission
from grader.sandbox.wire import Decoder, Encoder

#: After this many units that hang or crash, the rest of the submission is not run.
MAX_BAD_UNITS = 5


def _where(report: dict) -> str:
    return f" ({report['where']})" if report.get("where") else ""


class SubmissionSandbox:
    """The sandboxed side of grading one submission."""

    def __init__(self, forkserver: ForkServer, limits: Limits, submission: Submission, *,
                 module_name: str, harness_source: str | None = None):
        self._forkserver = forkserver
        self._limits = limits
        self._submission = submission
        self._module_name = module_name
        self._harness_source = harness_source
        self._sandbox: Sandbox | None = None
        self._bad_units: dict[int, str] = {}
        self._load_errors: dict[int, str] | None = None
        self._output: list[str] = []
        #: Absolute time by which the current check's calls must be answered.
        self.deadline = float("inf")
        #: Seconds spent running the student's own code (top level and calls), as the child measured.
        self.student_seconds = 0.0

    # --- life cycle ------------------------------------------------------------------------

    def _load(self) -> None:
        """Start a child and run the units, skipping known-bad ones; retry past new bad ones."""
        while True:
            sandbox = Sandbox(self._forkserver, self._limits).start()
            units = self._submission.units
            request = {
                "op": "load", "module": self._module_name, "filename": self._submission.path.name,
                "compile_flags": self._submission.compile_flags, "harness": self._harness_source,
                "skip": sorted(self._bad_units),
                "units": [{"source": u.source, "filename": u.filename, "first_line": u.first_line} for u in units],
            }
            current = None
            try:
                sandbox.send(request, [], time.monotonic() + self._limits.load_timeout)
                deadline = time.monotonic() + self._limits.load_timeout
                while True:
                    header, _ = sandbox.receive(deadline)
                    if header.get("event") == "unit":
                        current = int(header["index"])
                        deadline = time.monotonic() + self._limits.load_timeout
                    elif header.get("event") == "loaded":
                        self.student_seconds += float(header.get("elapsed", 0.0))
                        break
            except (CallTimeout, SandboxCrashed) as outcome:
                self._output.append(sandbox.output())
                if current is None or current in self._bad_units:
                    raise SandboxCrashed(f"could not start your code: it {outcome.message}") from None
                what = (f"did not finish within {self._limits.load_timeout:g} s" if isinstance(outcome, CallTimeout)
                        else f"stopped the sandbox: it {outcome.message}")
                self._bad_units[current] = f"{units[current].label}: {what} (skipped)"
                if len(self._bad_units) >= MAX_BAD_UNITS:
                    self._bad_units.update({i: f"{u.label}: not run (too many cells hung or crashed)"
                                            for i, u in enumerate(units) if i > current})
                continue
            if self._load_errors is None:
                self._load_errors = {int(e["index"]): self._describe_unit_error(e) for e in header.get("errors", [])}
            self._sandbox = sandbox
            return

    def _describe_unit_error(self, error: dict) -> str:
        unit = self._submission.units[int(error["index"])]
        detail = f"{error['type']}: {error['message']}" if error["message"] else error["type"]
        return f"{unit.label}: {detail}{_where(error)}"

    def ensure_running(self) -> None:
        if self._sandbox is None or not self._sandbox.alive:
            if self._sandbox is not None:
                self._output.append(self._sandbox.output())
            self._sandbox = None
            self._load()

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.kill()
            self._output.append(self._sandbox.output())
            self._sandbox = None

    def load_notes(self) -> list[str]:
        """Units that raised, hung or crashed while loading, in a student's words."""
        notes = {**(self._load_errors or {}), **self._bad_units}
        return [notes[index] for index in sorted(notes)]

    def output(self) -> str:
        """What the student's code printed, across restarts (each part capped)."""
        parts = self._output + ([self._sandbox.output()] if self._sandbox is not None else [])
        return "".join(p for p in parts if p)

    # --- requests ----------------------------------------------------------------------------

    def _exchange(self, header: dict, blobs: list[bytes], what: str) -> tuple[dict, list[bytes]]:
        self.ensure_running()
        assert self._sandbox is not None
        try:
            self._sandbox.send(header, blobs, self.deadline)
            reply, reply_blobs = self._sandbox.receive(self.deadline)
            self.student_seconds += float(reply.get("elapsed", 0.0))
            return reply, reply_blobs
        except CallTimeout:
            raise CallTimeout(f"{what} did not finish within the time limit of this check") from None
        except SandboxCrashed as crash:
            raise SandboxCrashed(f"your code stopped the sandbox during {what}: it {crash.message}") from None

    def _answer(self, header: dict, blobs: list[bytes], what: str, name: str):
        if "missing" in header:
            raise MissingName(f"{name} is not defined in your submission")
        if "not_callable" in header:
            raise MissingName(f"{name} in your submission is a {header['type']}, not a function")
        if "raised" in header:
            report = header["raised"]
            detail = f"{report['type']}: {report['message']}" if report["message"] else report["type"]
            raise StudentError(f"{what} raised {detail}{_where(report)}", detail=detail,
                               type_name=report["type"], mro=tuple(report.get("mro", ())), where=report.get("where", ""))
        if "unsupported" in header:
            raise StudentError(f"{what} returned a value that cannot be graded: {header['unsupported']}",
                               type_name="TypeError", mro=("TypeError", "Exception"))
        if "value" not in header:
            raise SandboxCrashed(f"the sandbox gave an unexpected answer to {what}")
        value = Decoder(blobs).decode(header["value"])
        mutated = header.get("mutated") or []
        if mutated:
            raise InputMutated(f"{what} modified its argument {mutated[0]} in place; "
                               f"leave inputs unchanged (work on a copy, e.g. x = x.copy())")
        return value

    def call(self, target: str, name: str, args: tuple, kwargs: dict):
        encoder = Encoder()
        header = {"op": "call", "target": target, "name": name,
                  "args": encoder.encode(list(args)), "kwargs": encoder.encode(dict(kwargs))}
        what = f"{name}()" if target == "student" else f"the grader's harness {name}() with your code"
        reply, blobs = self._exchange(header, encoder.blobs, what)
        return self._answer(reply, blobs, what, name)

    def value(self, name: str):
        reply, blobs = self._exchange({"op": "value", "name": name}, [], f"reading {name}")
        return self._answer(reply, blobs, name, name)


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


__all__ = ["SubmissionSandbox", "ModuleProxy", "SandboxOutcome"]
