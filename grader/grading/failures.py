"""A result for a submission that could not be graded: every check listed as not graded, score 0.

Used wherever one submission fails as a whole (its file cannot be read or parsed, the grader
failed on it, a grading worker died on it twice), so that it is stored as an ``error`` row
saying whose fault it is, and the rest of the batch goes on.
"""

from __future__ import annotations

from grader.course.assignment import Assignment
from grader.results import CheckResult, Note, SubmissionResult, Where


def ungraded(assignment: Assignment, *, student: str, file: str, content_hash: str, error: str, fault: str,
             where: Where | None = None, notes: list[Note] = (), visibility: str = "all") -> SubmissionResult:
    """A result scoring 0 whose checks all say ``not graded: <error>`` (reason ``submission_error``
    or ``grader_error``, after ``fault``)."""
    reason = "submission_error" if fault == "submission" else "grader_error"
    checks = assignment.checks_for(visibility)
    return SubmissionResult(
        student=student, assignment=assignment.name, file=file, content_hash=content_hash, score=0.0,
        max_score=sum(c.points for c in checks), status="error", error=error, error_where=where, fault=fault,
        notes=list(notes),
        checks=[CheckResult(name=c.name, score=0.0, max_score=c.points, status="error", message=f"not graded: {error}",
                            visibility=c.visibility, description=c.description, reason=reason) for c in checks])
