"""Students whose code is wrong in the same way: the same fingerprint on the same failed check.

How much a shared wrong answer says depends on how many others gave it. If ``n`` of the ``N``
students who ran a check gave the same wrong answer, the chance that another student gives it
too is ``(n - 1) / (N - 1)``; sharing it is worth ``-log2`` of that, in bits: 7.2 bits for an
answer only two of 150 gave, 1 bit for a mistake half the class makes (answers that more than
half the class share are not evidence at all and are left out).

One bug usually fails several checks the same way, so fingerprints that exactly the same
students share are one piece of evidence, not one per check: four students with the same
off-by-one in ``step`` share five wrong answers but only one mistake. Evidence for a pair is
the sum over the distinct groups of students they belong to together.

The grouping is SQL (GROUP BY check and fingerprint over the latest runs); Python sees only
the rows of answers that at least two students share.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from sqlalchemy import func, select

from grader.gradebook.models import CheckResultRow
from grader.reports.analytics.readonly import ReadOnlyGradebook, latest_runs


@dataclass(frozen=True)
class SharedAnswer:
    """A wrong answer to one check that several students gave."""

    #: The check's name.
    check: str
    #: ``public`` or ``hidden``.
    visibility: str
    #: Students who gave exactly this wrong answer.
    students: int
    #: Students whose latest run has this check.
    takers: int


@dataclass(frozen=True)
class Mistake:
    """Wrong answers given by exactly the same group of students: one piece of evidence."""

    #: The students, sorted.
    students: tuple[str, ...]
    #: The answers they share, in check order.
    answers: tuple[SharedAnswer, ...]
    #: ``-log2`` of the chance that another student shares the rarest of these answers.
    bits: float


def bits(students: int, takers: int) -> float:
    """Evidence, in bits, of sharing an answer ``students`` of ``takers`` gave."""
    if students < 2 or takers < 2:
        return 0.0
    return max(0.0, -math.log2((students - 1) / (takers - 1)))


def shared_mistakes(gradebook: ReadOnlyGradebook, assignment: str) -> list[Mistake]:
    """Every group of at least two students who gave the same wrong answers, weakest evidence left out."""
    c = CheckResultRow
    latest = latest_runs(assignment)
    wrong = (select(latest.c.student, c.name, c.visibility, c.position, c.fingerprint)
             .join(latest, latest.c.run_id == c.run_id)
             .where(c.status == "failed", c.fingerprint.is_not(None))).subquery("wrong")
    shared = (select(wrong.c.name, wrong.c.fingerprint).group_by(wrong.c.name, wrong.c.fingerprint)
              .having(func.count() >= 2)).subquery("shared")
    rows = gradebook.execute(
        select(wrong.c.student, wrong.c.name, wrong.c.visibility, wrong.c.position, wrong.c.fingerprint)
        .join(shared, (shared.c.name == wrong.c.name) & (shared.c.fingerprint == wrong.c.fingerprint)))
    takers = dict(gradebook.execute(
        select(c.name, func.count()).where(c.run_id.in_(select(latest.c.run_id))).group_by(c.name)))
    answers: dict[tuple[str, str], list] = {}
    for student, name, visibility, position, digest in rows:
        entry = answers.setdefault((name, digest), [visibility, position, []])
        entry[2].append(student)
    by_group: dict[tuple[str, ...], list[tuple[int, SharedAnswer]]] = defaultdict(list)
    for (name, _), (visibility, position, students) in answers.items():
        group = tuple(sorted(students))
        by_group[group].append((position, SharedAnswer(name, visibility, len(group), int(takers.get(name, 0)))))
    mistakes = []
    for group, found in by_group.items():
        ordered = tuple(answer for _, answer in sorted(found, key=lambda item: (item[0], item[1].check)))
        evidence = max(bits(a.students, a.takers) for a in ordered)
        if evidence >= 1.0:  # more than half the class gave it: no evidence of anything
            mistakes.append(Mistake(group, ordered, evidence))
    return sorted(mistakes, key=lambda m: (-m.bits, m.students))


def pair_evidence(mistakes: list[Mistake]) -> dict[tuple[str, str], list[Mistake]]:
    """For each pair of students (sorted), the mistakes they share."""
    pairs: dict[tuple[str, str], list[Mistake]] = defaultdict(list)
    for mistake in mistakes:
        for pair in combinations(mistake.students, 2):
            pairs[pair].append(mistake)
    return dict(pairs)
