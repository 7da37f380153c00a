"""Where a class struggles: scores, checks, failure messages, lateness and grading time.

Every figure is over each student's latest run. The counting happens in SQL (grouped queries
over the latest runs' check results), so a class of hundreds costs a handful of queries; Python
sees one row per student (for the distributions) and one row per check or per distinct message.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import case, func, or_, select

from grader.gradebook.models import CheckResultRow, GradingRun
from grader.reports.analytics.readonly import ReadOnlyGradebook, latest_runs

#: How many of the most failed checks get their failure messages grouped.
MOST_FAILED = 5
#: Message groups kept per check (the rest are counted, not listed).
GROUPS_PER_CHECK = 8
#: Numbers in messages (``3 / 12``, ``-1.5e-07``, ``nan``) but not digits inside names (``W1``, ``conv2d``).
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])|(?<![\w.])[-+]?(?:nan|inf)\b")


@dataclass
class Bin:
    """One bar of a histogram."""

    #: The bin's lower edge.
    low: float
    #: Its upper edge (the last bin includes it).
    high: float
    #: Values in the bin.
    count: int


@dataclass
class Distribution:
    """A few numbers that describe a list of values, and its histogram."""

    #: How many values.
    count: int
    mean: float
    median: float
    #: 25th percentile.
    p25: float
    #: 75th percentile.
    p75: float
    #: 90th percentile.
    p90: float
    minimum: float
    maximum: float
    histogram: list[Bin] = field(default_factory=list)


@dataclass
class CheckStats:
    """How the class did on one check."""

    #: The check's name.
    name: str
    #: ``public`` or ``hidden``.
    visibility: str
    #: Its order in checks.py.
    position: int
    #: Points it is worth.
    max_score: float
    #: Students' latest runs that have this check.
    runs: int
    passed: int
    #: Wrong answers (status ``failed``), partial credit included.
    failed: int
    #: Raised, crashed or missing (status ``error``), files that could not be graded included.
    errors: int
    timeouts: int
    #: ``passed / runs``.
    pass_rate: float
    #: Mean seconds the check took.
    mean_seconds: float
    #: For ``error`` and ``timeout`` outcomes: how many of each reason (``REASONS``; ``raised``
    #: when the student's code raised, which has no reason code), files not graded at all left out.
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class FailureGroup:
    """Failure messages of one check that differ only in their numbers."""

    #: The message with each number replaced by ``#``.
    pattern: str
    #: Students whose latest run failed the check with a message of this pattern.
    count: int
    #: One of them (the first by name, of the most common exact message).
    example_student: str
    #: That student's message.
    example_message: str


@dataclass
class Lateness:
    """Submission times against the due date."""

    on_time: int
    late: int
    #: Late students whose score had points deducted.
    penalised: int
    #: Points deducted, over the class.
    total_penalty: float
    #: Days late of the late students.
    days_late: Distribution | None
    #: Points deducted, of the penalised students.
    penalties: Distribution | None


@dataclass
class ClassStats:
    """Where the class of one assignment stands, from each student's latest run."""

    assignment: str
    #: The gradebook it was read from (a path, or a URL without its password).
    gradebook: str
    #: Students with a grade.
    students: int
    #: The assignment's points (the largest max score of the latest runs).
    max_score: float
    #: Scores after lateness penalties.
    scores: Distribution
    #: Students with every point.
    full_marks: int
    #: Latest runs whose file could not be graded at all (status ``error``).
    ungraded: int
    #: Every check, in checks.py order.
    checks: list[CheckStats]
    #: The most failed checks' names, lowest pass rate first.
    most_failed: list[str]
    #: For each of those, its failure messages grouped, most common first.
    failures: dict[str, list[FailureGroup]]
    #: How many more groups each of those has than are listed.
    more_failures: dict[str, int]
    lateness: Lateness
    #: Seconds to grade each submission (the whole file).
    grading_seconds: Distribution

    def to_json(self) -> dict:
        return asdict(self)


def normalise_message(message: str) -> str:
    """A failure message with its numbers replaced by ``#``, so that ``dx: 3 / 12 differ`` and
    ``dx: 5 / 12 differ`` read the same."""
    return _NUMBER.sub("#", message)


def distribution(values, *, bins: int = 20, value_range: tuple[float, float] | None = None) -> Distribution | None:
    """The summary and histogram of ``values``, or None when there are none."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return None
    low, high = value_range if value_range is not None else (float(array.min()), float(array.max()))
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(array, bins=bins, range=(low, high))
    p25, median, p75, p90 = (float(q) for q in np.percentile(array, [25, 50, 75, 90]))
    return Distribution(count=int(array.size), mean=float(array.mean()), median=median, p25=p25, p75=p75, p90=p90,
                        minimum=float(array.min()), maximum=float(array.max()),
                        histogram=[Bin(float(a), float(b), int(c)) for a, b, c in zip(edges[:-1], edges[1:], counts)])


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def class_stats(gradebook: ReadOnlyGradebook, assignment: str) -> ClassStats:
    """The class's statistics for ``assignment``; a ``GradebookError`` if it has no grades."""
    students = gradebook.require_grades(assignment)
    latest = latest_runs(assignment)
    in_latest = CheckResultRow.run_id.in_(select(latest.c.run_id))
    runs = gradebook.execute(
        select(GradingRun.score, GradingRun.max_score, GradingRun.status, GradingRun.days_late,
               GradingRun.penalty, GradingRun.duration).where(GradingRun.id.in_(select(latest.c.run_id))))
    score, max_scores, status, days_late, penalty, seconds = (np.array(column) for column in zip(*runs))
    max_score = float(max_scores.max())
    score_bins = int(np.ceil(max_score)) if 0 < max_score <= 40 else 20
    checks = _check_stats(gradebook, in_latest)
    ranked = sorted((c for c in checks if c.passed < c.runs), key=lambda c: (c.pass_rate, c.position))
    most_failed = [c.name for c in ranked[:MOST_FAILED]]
    failures, more = _failure_groups(gradebook, latest, most_failed)
    days_late = days_late.astype(np.float64)
    late, penalised = days_late > 0, penalty.astype(np.float64) > 0
    return ClassStats(
        assignment=assignment, gradebook=gradebook.where, students=students, max_score=max_score,
        scores=distribution(score, bins=score_bins, value_range=(0.0, max_score)),
        full_marks=int((score >= max_scores).sum()), ungraded=int((status == "error").sum()),
        checks=checks, most_failed=most_failed, failures=failures, more_failures=more,
        lateness=Lateness(on_time=int((~late).sum()), late=int(late.sum()), penalised=int(penalised.sum()),
                          total_penalty=float(penalty.sum()), days_late=distribution(days_late[late], bins=10),
                          penalties=distribution(penalty[penalised], bins=10)),
        grading_seconds=distribution(seconds))


def _check_stats(gradebook: ReadOnlyGradebook, in_latest) -> list[CheckStats]:
    c = CheckResultRow
    rows = gradebook.execute(
        select(c.name, func.max(c.visibility), func.min(c.position), func.max(c.max_score), func.count(),
               _count(c.status == "passed"), _count(c.status == "failed"), _count(c.status == "error"),
               _count(c.status == "timeout"), func.avg(c.duration))
        .where(in_latest).group_by(c.name))
    # "public" > "hidden": a check that was public in any run is shown as public.
    reasons: dict[str, dict[str, int]] = {}
    for name, reason, count in gradebook.execute(
            select(c.name, c.reason, func.count())
            .where(in_latest, c.status.in_(("error", "timeout")),
                   or_(c.reason.is_(None), c.reason != "submission_error"))
            .group_by(c.name, c.reason)):
        reasons.setdefault(name, {})[reason or "raised"] = int(count)
    stats = [CheckStats(name=name, visibility=visibility, position=int(position), max_score=float(points),
                        runs=int(runs), passed=int(passed), failed=int(failed), errors=int(errors),
                        timeouts=int(timeouts), pass_rate=passed / runs if runs else 0.0,
                        mean_seconds=float(seconds or 0.0), reasons=dict(sorted(reasons.get(name, {}).items())))
             for name, visibility, position, points, runs, passed, failed, errors, timeouts, seconds in rows]
    return sorted(stats, key=lambda s: (s.position, s.name))


def _failure_groups(gradebook: ReadOnlyGradebook, latest, names: list[str]
                    ) -> tuple[dict[str, list[FailureGroup]], dict[str, int]]:
    """Distinct messages per check come from SQL (GROUP BY message); only those distinct messages
    are normalised here, since SQLite has no regular expressions to do it in the query."""
    if not names:
        return {}, {}
    c = CheckResultRow
    rows = gradebook.execute(
        select(c.name, c.message, func.count(), func.min(latest.c.student))
        .join(latest, latest.c.run_id == c.run_id)
        .where(c.name.in_(names), c.status != "passed")
        .group_by(c.name, c.message))
    merged: dict[tuple[str, str], FailureGroup] = {}
    # Most common exact message first: it gives its group the example (ties: the first student by name).
    for name, message, count, student in sorted(rows, key=lambda row: (-row[2], row[3])):
        message = message or ""
        key = (name, normalise_message(message))
        if key in merged:
            merged[key].count += int(count)
        else:
            merged[key] = FailureGroup(key[1] or "(no message)", int(count), student, message)
    groups: dict[str, list[FailureGroup]] = {name: [] for name in names}
    for (name, _), group in merged.items():
        groups[name].append(group)
    more = {}
    for name in names:
        ordered = sorted(groups[name], key=lambda g: (-g.count, g.pattern))
        groups[name], more[name] = ordered[:GROUPS_PER_CHECK], max(0, len(ordered) - GROUPS_PER_CHECK)
    return groups, more
