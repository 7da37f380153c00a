"""The attempt budget on Gradescope: at most ``attempts_per_day`` graded attempts in any 24 hours.

An assignment opts in with ``attempts_per_day = N`` in its ``assignment.toml``. Gradescope grades
every submission it receives, so the budget is kept by the autograder, from the earlier
submissions ``submission_metadata.json`` lists (as Gradescope suggests): an attempt over budget
is not graded (nothing runs), and its results.json says when the next attempt will be, and keeps
the best earlier score with that submission's results, so the student's grade does not drop.

What counts: earlier submissions made in the 24 hours before this one (``created_at``), but not
those refused for the budget (their results say so in ``extra_data``) nor those the autograder
itself failed on (not the student's doing). Times are Gradescope's, so a regrade decides the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from grader.course.assignment import Assignment
from grader.errors import AssignmentError
from grader.gradescope.metadata import Metadata, PreviousSubmission
from grader.gradescope.results import md_text, points

WINDOW = timedelta(hours=24)
#: ``extra_data["attempt"]`` of a results.json written for an attempt over budget.
REFUSED = "over budget"
#: ``extra_data["status"]`` of a results.json written when the autograder failed.
AUTOGRADER_ERROR = "autograder error"


def attempts_per_day(assignment: Assignment) -> int | None:
    """The assignment's ``attempts_per_day``, or None when it sets none (``AssignmentError`` if not a positive integer)."""
    value = assignment.extra.get("attempts_per_day")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AssignmentError(f"{assignment.directory / 'assignment.toml'}: attempts_per_day must be a positive "
                              f"integer, not {value!r}")
    return value


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is not graded, and what the student keeps."""

    #: The budget: graded attempts in any 24 hours.
    per_day: int
    #: The graded attempts of the last 24 hours, oldest first.
    used: tuple[datetime, ...]
    #: When an attempt will be graded again (in the offset of this submission's time).
    next_at: datetime
    #: The earlier submission whose score is kept (the best; the latest of equal ones), or None.
    best: PreviousSubmission | None


def _counts(previous: PreviousSubmission) -> bool:
    extra = previous.results.get("extra_data")
    extra = extra if isinstance(extra, dict) else {}
    return extra.get("attempt") != REFUSED and extra.get("status") != AUTOGRADER_ERROR


def over_budget(per_day: int | None, metadata: Metadata | None, *, now: datetime | None = None) -> Refusal | None:
    """A ``Refusal`` when this submission is over the budget, else None (grade it)."""
    if per_day is None or metadata is None:
        return None
    moment = metadata.created_at or now or datetime.now(timezone.utc)
    used = sorted(p.submitted_at for p in metadata.previous
                  if p.submitted_at is not None and moment - WINDOW < p.submitted_at < moment and _counts(p))
    if len(used) < per_day:
        return None
    # The attempt after the per_day-th most recent leaves the window 24 hours after it was made.
    next_at = (used[len(used) - per_day] + WINDOW).astimezone(moment.tzinfo or timezone.utc)
    scored = [p for p in metadata.previous if p.score is not None and (p.submitted_at is None or p.submitted_at < moment)]
    best = max(scored, key=lambda p: (p.score, p.submitted_at or datetime.min.replace(tzinfo=timezone.utc)),
               default=None)
    return Refusal(per_day=per_day, used=tuple(used), next_at=next_at, best=best)


def when(moment: datetime) -> str:
    """A time as a student reads it: ``2026-09-21 07:22 UTC-07:00`` (in the submission's own offset)."""
    return moment.strftime("%Y-%m-%d %H:%M %Z").replace("UTC+00:00", "UTC")


def refused_json(refusal: Refusal, *, heading: str, student_note: str, student: str) -> dict:
    """results.json for an attempt over budget: nothing graded; the best earlier score and its
    results (tests, leaderboard entries) kept, and when the next attempt will be graded."""
    best = refusal.best
    kept = best.results if best is not None else {}
    tests = kept.get("tests") if isinstance(kept.get("tests"), list) else []
    attempts = "attempt" if refusal.per_day == 1 else "attempts"
    parts = [heading, student_note,
             f"**This attempt was not graded.** This assignment grades at most {refusal.per_day} {attempts} in any "
             f"24 hours, and you made {len(refusal.used)} since {md_text(when(refusal.used[0]))}. "
             f"**Your next attempt can be graded from {md_text(when(refusal.next_at))}.**"]
    if best is not None:
        submitted = f" (submitted {md_text(when(best.submitted_at))})" if best.submitted_at else ""
        parts.append(f"Your score stays the best of your earlier attempts: **{points(best.score):g}**{submitted}. "
                     "Its results follow.")
        if isinstance(kept.get("output"), str) and kept["output"]:
            parts += ["---", kept["output"]]
    data = {
        "score": points(best.score) if best is not None else 0.0, "execution_time": 0,
        "output": "\n\n".join(part for part in parts if part), "output_format": "md", "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"student": student, "attempt": REFUSED, "next_attempt_at": refusal.next_at.isoformat(),
                       "attempts_in_24_hours": len(refusal.used),
                       "kept_from": best.submitted_at.isoformat() if best is not None and best.submitted_at else None},
    }
    if isinstance(kept.get("leaderboard"), list):
        data["leaderboard"] = kept["leaderboard"]
    return data
