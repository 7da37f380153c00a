"""What grading produces: plain data, no formatting.

Every fact an output needs is a field: where in the file an error happened (``Where``), why a
check never reached a verdict of its own (``reason``), whose fault a failed submission is
(``fault``). Reports, exports and platform adapters render these fields; none of them parses
a message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

CHECK_STATUSES = ("passed", "failed", "error", "timeout")

#: Why a check ended without a verdict of its own (``CheckResult.reason``), in a few words each.
#: The status says how it counts (``error`` or ``timeout``); the reason says what happened.
REASONS = {
    "submission_error": "the file could not be graded at all",
    "timeout": "the check's time limit ran out",
    "budget": "the submission's time budget ran out",
    "memory": "the submission ran out of memory",
    "crashed": "the submission's process was killed (a crash or a signal)",
    "cpu": "the submission used up its CPU time",
    "file_size": "the submission wrote a file over the size limit",
    "invalid_reply": "the submission's process sent something invalid",
    "reply_limit": "the submission's answers were larger than allowed",
    "grader_error": "the grader failed (not the submission's fault)",
}
#: Whose fault it is that a submission could not be graded (``SubmissionResult.fault``).
FAULTS = ("submission", "grader")
#: Characters of one label (``CheckResult.labels``) that are kept, and labels kept per check.
LABEL_LIMIT = 40
MAX_LABELS = 8
#: Where a submission time came from (``SubmissionResult.submitted_at_source``). A file's
#: modification time is the student's to set (inside a zip, say), so it is flagged as such.
TIME_SOURCES = ("option", "manifest", "lms", "mtime")


def format_points(value: float) -> str:
    """Points as people write them: 3, 2.5, 0.25 (no trailing .0)."""
    return f"{value:g}"


@dataclass(frozen=True)
class Where:
    """A place in the student's file that a message points at."""

    #: The place as the student reads it: ``cell 4, line 3``, ``perceptron.py, line 12``, ``line 5``.
    label: str
    #: Notebook cell number (1-based among all cells, as the file stores them), or None for a ``.py`` file.
    cell: int | None = None
    #: Line within the cell, or within the ``.py`` file; None if only the cell is known.
    line: int | None = None
    #: The student's own source line there, stripped and capped; empty if unknown.
    source: str = ""

    @classmethod
    def from_dict(cls, data: dict | None) -> "Where | None":
        return None if data is None else cls(**data)


@dataclass(frozen=True)
class Note:
    """Something about the file worth telling the student that did not stop grading."""

    #: What happened, in a student's words (``cell 10: ModuleNotFoundError: ...``).
    text: str
    #: The cell or line it is about, if any.
    where: Where | None = None

    @classmethod
    def from_dict(cls, data: dict | str) -> "Note":
        if isinstance(data, str):  # results stored before notes were structured
            return cls(data)
        return cls(data["text"], Where.from_dict(data.get("where")))


@dataclass
class CheckResult:
    """The outcome of one check on one submission."""

    #: The check's name (its function name in checks.py).
    name: str
    #: Points earned: ``max_score`` if passed, part of it for partial credit, else 0.
    score: float
    #: Points the check is worth.
    max_score: float
    #: ``passed``, ``failed`` (wrong answer), ``error`` (raised, crashed, missing) or ``timeout``.
    status: str
    #: What went wrong, in a student's words; empty when passed.
    message: str
    #: ``public`` or ``hidden``.
    visibility: str = "public"
    #: What the check is about (the first line of its docstring).
    description: str = ""
    #: Wall-clock seconds the check took.
    duration: float = 0.0
    #: Numbers the check measured (``accuracy``, ``train_seconds``, ``parameters``), by name.
    metrics: dict[str, float] = field(default_factory=dict)
    #: Short texts the check recorded (``leaderboard_name``), by name: student text, cleaned and
    #: capped at ``LABEL_LIMIT`` characters.
    labels: dict[str, str] = field(default_factory=dict)
    #: Where in the student's file the failure happened (an exception's line), if known.
    where: Where | None = None
    #: For a check that ended without a verdict of its own, why (a key of ``REASONS``), else None.
    reason: str | None = None
    #: For a failed comparison, a hash of what it compared (``grader.fingerprint``), never the values.
    fingerprint: str | None = None


@dataclass
class SubmissionResult:
    """The outcome of grading one submission file."""

    #: Student id: the file's stem, or its folder's name for ``submissions/<student>/<file>``.
    student: str
    #: Assignment name.
    assignment: str
    #: Path of the graded file, as given.
    file: str
    #: sha256 of the file's bytes.
    content_hash: str
    score: float
    max_score: float
    #: ``graded``, or ``error`` when the file itself could not be graded (it then scores 0).
    status: str
    #: Why the file could not be graded, or None.
    error: str | None
    checks: list[CheckResult] = field(default_factory=list)
    #: Cells or statements that raised, hung or were skipped; neutralised IPython syntax.
    notes: list[Note] = field(default_factory=list)
    #: Where ``error`` points in the file (a syntax error's line), if anywhere.
    error_where: Where | None = None
    #: For ``status == "error"``: ``submission`` (the file's fault) or ``grader`` (ours), else None.
    fault: str | None = None
    #: The student's own stdout/stderr, capped.
    output: str = ""
    #: Wall-clock seconds for the whole submission.
    duration: float = 0.0
    #: Of those, seconds spent running the student's own code (the rest is the grader's overhead).
    student_seconds: float = 0.0
    #: ISO time of grading (set when stored) — None until then.
    graded_at: str | None = None
    #: True when this result was read back from the gradebook instead of being graded now.
    cached: bool = False
    #: When the student submitted (ISO, with offset), if known.
    submitted_at: str | None = None
    #: Where ``submitted_at`` came from (a key of ``TIME_SOURCES``), or None when it is unknown.
    submitted_at_source: str | None = None
    #: Days after the due date (fractional); 0 when on time or when there is no due date.
    days_late: float = 0.0
    #: Points deducted for lateness; ``score`` is after the deduction.
    penalty: float = 0.0
    #: The LMS's own verdict when it gives one without a time (Canvas's LATE): True late, False on
    #: time, None when it says nothing. No penalty comes from it (nothing says how late).
    late_by_lms: bool | None = None
    #: sha256 of what grades the assignment (checks, reference, harness, settings, data), or None
    #: for runs stored before versions were recorded.
    assignment_version: str | None = None
    #: The grader package's version, and NumPy's and torch's where it was graded (None: unknown).
    grader_version: str | None = None
    numpy_version: str | None = None
    torch_version: str | None = None

    def to_json(self) -> dict:
        """The machine-readable shape of ``grader grade --json`` (design.md; ``where``, ``reason``,
        ``fault``, ``notes``, the lateness fields, ``unchanged``, the versions and per check ``metrics``
        and ``labels`` are additions to it)."""
        return {
            "student": self.student, "assignment": self.assignment, "file": self.file,
            "score": self.score, "max_score": self.max_score, "status": self.status, "error": self.error,
            "fault": self.fault, "error_where": _plain(self.error_where),
            "checks": [{"name": c.name, "score": c.score, "max_score": c.max_score, "status": c.status,
                        "message": c.message, "where": _plain(c.where), "reason": c.reason, "metrics": c.metrics,
                        "labels": c.labels}
                       for c in self.checks],
            "notes": [{"text": n.text, "where": _plain(n.where)} for n in self.notes],
            "submitted_at": self.submitted_at, "submitted_at_source": self.submitted_at_source,
            "days_late": self.days_late, "penalty": self.penalty, "late_by_lms": self.late_by_lms,
            # Not graded now: its content (at this assignment version) was graded before.
            "unchanged": self.cached,
            "assignment_version": self.assignment_version, "grader_version": self.grader_version,
            "numpy_version": self.numpy_version, "torch_version": self.torch_version,
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        """The inverse of ``to_dict`` (grading workers send results as these dicts)."""
        data = dict(data)
        data["checks"] = [CheckResult(**dict(c, where=Where.from_dict(c.get("where")))) for c in data.get("checks", [])]
        data["notes"] = [Note.from_dict(n) for n in data.get("notes", [])]
        data["error_where"] = Where.from_dict(data.get("error_where"))
        return cls(**data)


def _plain(where: Where | None) -> dict | None:
    return None if where is None else asdict(where)
