"""What grading produces: plain data, no formatting."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

CHECK_STATUSES = ("passed", "failed", "error", "timeout")


def format_points(value: float) -> str:
    """Points as people write them: 3, 2.5, 0.25 (no trailing .0)."""
    return f"{value:g}"


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
    notes: list[str] = field(default_factory=list)
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
    #: Days after the due date (fractional); 0 when on time or when there is no due date.
    days_late: float = 0.0
    #: Points deducted for lateness; ``score`` is after the deduction.
    penalty: float = 0.0

    def to_json(self) -> dict:
        """The machine-readable shape of ``grader grade --json`` (design.md)."""
        return {
            "student": self.student, "assignment": self.assignment, "file": self.file,
            "score": self.score, "max_score": self.max_score, "status": self.status, "error": self.error,
            "checks": [{"name": c.name, "score": c.score, "max_score": c.max_score, "status": c.status,
                        "message": c.message} for c in self.checks],
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        data = dict(data)
        data["checks"] = [CheckResult(**c) for c in data.get("checks", [])]
        return cls(**data)
