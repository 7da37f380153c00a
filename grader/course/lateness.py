"""Due dates and late penalties.

An assignment may set, in assignment.toml::

    due = 2026-10-01T23:59:00+02:00     # a TOML datetime; without an offset it is the grading machine's local time
    [late]
    penalty_per_day = 0.1               # fraction of the maximum score per started day late
    max_penalty = 0.5                   # the penalty never exceeds this fraction
    grace_minutes = 15                  # submissions this close after the due time are on time
    zero_after = 2026-10-08T23:59:00+02:00   # submitted after this: score 0

The penalty is computed by the coordinating process from the submission time (an option,
a manifest, or the file's modification time) and stored with the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from grader.errors import AssignmentError, UsageError
from grader.results import SubmissionResult

DAY = timedelta(days=1)


def aware(moment: datetime) -> datetime:
    """A timezone-aware datetime: naive ones are taken as the machine's local time."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def parse_moment(text: str, *, what: str = "time") -> datetime:
    """An ISO 8601 date or datetime (``2026-10-01``, ``2026-10-01T23:59``, with or without offset)."""
    text = text.strip()
    try:
        return aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(f"{what} {text!r} is not an ISO date and time like 2026-10-01T23:59:00+02:00") from None


@dataclass(frozen=True)
class LatePolicy:
    """When an assignment is due and what lateness costs."""

    due: datetime
    penalty_per_day: float = 0.0
    max_penalty: float = 1.0
    grace: timedelta = timedelta(0)
    zero_after: datetime | None = None

    @classmethod
    def from_config(cls, config: dict, where: str) -> "LatePolicy | None":
        due = config.get("due")
        late = config.get("late", {})
        if due is None:
            if late:
                raise AssignmentError(f"{where}: [late] is set but there is no due date")
            return None

        def moment(value, key):
            if isinstance(value, datetime):
                return aware(value)
            if isinstance(value, date):  # a bare date: due at the end of that day
                return aware(datetime.combine(value, time(23, 59, 59)))
            raise AssignmentError(f"{where}: {key} must be a TOML date or datetime, not {value!r}")

        try:
            policy = cls(due=moment(due, "due"),
                         penalty_per_day=float(late.get("penalty_per_day", 0.0)),
                         max_penalty=float(late.get("max_penalty", 1.0)),
                         grace=timedelta(minutes=float(late.get("grace_minutes", 0))),
                         zero_after=moment(late["zero_after"], "zero_after") if "zero_after" in late else None)
        except (TypeError, ValueError) as exc:
            raise AssignmentError(f"{where}: [late]: {exc}") from None
        unknown = set(late) - {"penalty_per_day", "max_penalty", "grace_minutes", "zero_after"}
        if unknown:
            raise AssignmentError(f"{where}: unknown [late] setting(s) {', '.join(sorted(unknown))}")
        if not (0 <= policy.penalty_per_day <= 1 and 0 <= policy.max_penalty <= 1):
            raise AssignmentError(f"{where}: penalty_per_day and max_penalty are fractions between 0 and 1")
        return policy

    def penalty_fraction(self, submitted_at: datetime) -> tuple[float, float]:
        """(days late, fraction of the maximum score deducted) for a submission time."""
        late_by = aware(submitted_at) - self.due
        if late_by <= self.grace:
            return 0.0, 0.0
        days = late_by / DAY
        if self.zero_after is not None and aware(submitted_at) > self.zero_after:
            return days, 1.0
        return days, min(self.max_penalty, self.penalty_per_day * math.ceil(days))


def apply_lateness(result: SubmissionResult, policy: LatePolicy | None, submitted_at: datetime | None,
                   source: str | None = None) -> None:
    """Record the submission time (and where it came from) on ``result`` and deduct the late
    penalty from its score."""
    if submitted_at is None:
        return
    result.submitted_at = aware(submitted_at).isoformat(timespec="seconds")
    result.submitted_at_source = source
    if policy is None:
        return
    days, fraction = policy.penalty_fraction(submitted_at)
    result.days_late = round(days, 4)
    result.penalty = round(min(result.score, fraction * result.max_score), 6)
    result.score = round(result.score - result.penalty, 6)
