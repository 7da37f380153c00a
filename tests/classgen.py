"""A generated class in a gradebook: hundreds of students, regrades, lateness, timeouts and crashes.

``generate`` stores the results through ``Gradebook.record`` (the grader's own writes) and
returns what it stored, so a test can work out the expected figures on its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from grader.gradebook import Gradebook
from grader.results import CheckResult, SubmissionResult

#: (name, points, visibility) of the generated assignment's checks.
CHECKS = [(f"public_{i:02d}", 2.0, "public") for i in range(6)] + [(f"hidden_{i:02d}", 1.0, "hidden") for i in range(8)]
MAX_SCORE = sum(points for _, points, _ in CHECKS)


@dataclass
class Generated:
    """What ``generate`` stored."""

    #: Each student's latest result, by student.
    latest: dict[str, SubmissionResult]
    #: Results stored in all, regrades and older versions included.
    runs: int


def _check(rng: random.Random, name: str, points: float, visibility: str, skill: float) -> CheckResult:
    draw = rng.random()
    hardness = 0.5 if name.endswith("03") else 0.0  # one public and one hidden check most fail
    if draw < skill - hardness:
        return CheckResult(name, points, points, "passed", "", visibility=visibility, duration=rng.uniform(0.001, 0.02))
    if draw < skill - hardness + 0.04:
        reason = rng.choice(["timeout", "crashed", "memory"])
        status = "timeout" if reason == "timeout" else "error"
        return CheckResult(name, 0.0, points, status, f"{reason}: the check stopped", visibility=visibility,
                           reason=reason, duration=rng.uniform(0.5, 2.0))
    if draw < skill - hardness + 0.06:
        return CheckResult(name, 0.0, points, "error", f"raised ValueError: bad shape (line {rng.randint(3, 40)})",
                           visibility=visibility, duration=0.01)
    differ = rng.randint(1, 12)
    message = rng.choice([f"dx: not close (rtol=1e-06, atol=1e-08): {differ} / 12 elements ({differ / 12:.1%}) differ",
                          f"grads['W1']: shape ({differ}, 3) (yours), expected (3, {differ})"])
    return CheckResult(name, 0.0, points, "failed", message, visibility=visibility,
                       fingerprint=f"{rng.randint(0, 3):064x}", duration=rng.uniform(0.001, 0.02))


def _result(rng: random.Random, student: str, version: int, assignment: str) -> SubmissionResult:
    skill = rng.uniform(0.5, 1.05)
    checks = [_check(rng, name, points, visibility, skill) for name, points, visibility in CHECKS]
    days_late = rng.choice([0.0] * 4 + [rng.uniform(0.01, 4.0)])
    raw = sum(c.score for c in checks)
    penalty = round(min(raw, 0.1 * MAX_SCORE * int(days_late + 0.999)), 6)
    return SubmissionResult(
        student=student, assignment=assignment, file=f"submissions/{student}.py", content_hash=f"{student}-v{version}",
        score=round(raw - penalty, 6), max_score=MAX_SCORE, status="graded", error=None, checks=checks,
        duration=rng.uniform(0.02, 0.3), submitted_at="2026-11-03T10:00:00+00:00", submitted_at_source="manifest",
        days_late=days_late, penalty=penalty)


def generate(url: str, *, students: int = 300, seed: int = 1, assignment: str = "generated") -> Generated:
    """Grade a made-up class into the gradebook at ``url``: every student once, a third of them
    again (a new version), a few regraded; four files that could not be graded at all."""
    rng = random.Random(seed)
    latest: dict[str, SubmissionResult] = {}
    runs = 0
    with Gradebook(url) as gradebook:
        for number in range(students):
            student = f"s{number:04d}"
            versions = 1 + (number % 3 == 0)
            for version in range(versions):
                result = _result(rng, student, version, assignment)
                if number < 4 and version == versions - 1:
                    result = _ungradable(student, assignment)
                gradebook.record(result)
                runs += 1
                latest[student] = result
    return Generated(latest, runs)


def _ungradable(student: str, assignment: str) -> SubmissionResult:
    return SubmissionResult(
        student=student, assignment=assignment, file=f"submissions/{student}.py", content_hash=f"{student}-broken",
        score=0.0, max_score=MAX_SCORE, status="error", error="SyntaxError at line 3: invalid syntax", fault="submission",
        checks=[CheckResult(name, 0.0, points, "error", "not graded: SyntaxError at line 3", visibility=visibility,
                            reason="submission_error") for name, points, visibility in CHECKS],
        duration=0.01)
