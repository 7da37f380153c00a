"""An assignment's leaderboard, as its ``assignment.toml`` declares it (``[leaderboard]``).

::

    [leaderboard]
    check = "hidden_test_accuracy"            # the check whose metrics rank a run
    metrics = [                               # ranked by the first, ties broken by the next
        {name = "accuracy", label = "Accuracy"},                           # order "desc": higher first
        {name = "train_seconds", label = "Training seconds", order = "asc"},
        {name = "parameters", label = "Parameters", order = "asc"},
    ]
    require = {metric = "within_parameter_bound", reason = "a model over the parameter bound is not ranked"}
    secret = "hidden/secret.toml"             # holds leaderboard_key, the key of the pseudonyms

Only assignments with such a table have a leaderboard (``grader leaderboard``, and the
``leaderboard`` entries of Gradescope's results.json). ``require`` is optional: a run whose
metric of that name is missing or 0 is not ranked. ``secret`` is a TOML file under the
assignment's folder holding a ``leaderboard_key`` string; it is read only by trusted commands
(``grader leaderboard``), never released and never in the sandbox.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.course.assignment import Assignment
from grader.errors import AssignmentError

ORDERS = ("desc", "asc")
#: The label a check records as the student's chosen name on the leaderboard.
NAME_LABEL = "leaderboard_name"
#: The shortest key ``secret`` may hold (characters): a short one would let ids be guessed back.
MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class Metric:
    """One ranked quantity of a leaderboard."""

    #: The metric's name, as the check records it in ``ctx.metrics``.
    name: str
    #: How people see it (a column's header, Gradescope's ``name``).
    label: str
    #: ``desc`` (higher ranks first) or ``asc`` (lower first: seconds, parameters).
    order: str = "desc"


@dataclass(frozen=True)
class Requirement:
    """A metric a run must have, and not 0, to be ranked."""

    #: Its name in the check's metrics.
    metric: str
    #: Why a run without it is not ranked, in a student's words.
    reason: str


@dataclass(frozen=True)
class LeaderboardSpec:
    """What ranks an assignment's runs, and where the key of its pseudonyms is."""

    #: The check whose metrics (and ``leaderboard_name`` label) rank a run.
    check: str
    #: The ranked metrics, most important first.
    metrics: tuple[Metric, ...]
    #: The file holding ``leaderboard_key``, or None when none is declared.
    secret: Path | None = None
    #: A metric a run needs to be ranked, or None.
    require: Requirement | None = None

    def key(self) -> bytes:
        """The key pseudonyms are derived with (``AssignmentError`` when it is missing or short)."""
        if self.secret is None:
            raise AssignmentError("[leaderboard] names no secret: add secret = \"hidden/secret.toml\" (a TOML file "
                                  "with a leaderboard_key string, kept with the trusted parts)")
        try:
            value = tomllib.loads(self.secret.read_text(encoding="utf-8")).get("leaderboard_key")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AssignmentError(f"the leaderboard secret {self.secret} cannot be read: {exc}") from None
        if not isinstance(value, str) or len(value) < MIN_KEY_LENGTH:
            raise AssignmentError(f"{self.secret} needs a leaderboard_key string of at least {MIN_KEY_LENGTH} "
                                  "characters (python -c \"import secrets; print(secrets.token_hex(16))\")")
        return value.encode("utf-8")


def leaderboard_spec(assignment: Assignment) -> LeaderboardSpec | None:
    """The assignment's ``[leaderboard]``, checked; None when it declares none."""
    table = assignment.extra.get("leaderboard")
    if table is None:
        return None
    where = f"{assignment.directory / 'assignment.toml'} [leaderboard]"
    if not isinstance(table, dict):
        raise AssignmentError(f"{where} must be a table")
    unknown = set(table) - {"check", "metrics", "require", "secret"}
    if unknown:
        raise AssignmentError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    check = table.get("check")
    if not isinstance(check, str) or not check:
        raise AssignmentError(f"{where} needs check = \"NAME\": the check whose metrics rank a run")
    metrics = table.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise AssignmentError(f"{where} needs metrics = [{{name = \"...\", label = \"...\"}}, ...]")
    parsed = tuple(_metric(item, where) for item in metrics)
    if len({m.name for m in parsed}) != len(parsed):
        raise AssignmentError(f"{where}: a metric is named twice")
    return LeaderboardSpec(check=check, metrics=parsed, secret=_secret(table.get("secret"), assignment, where),
                           require=_requirement(table.get("require"), where))


def _metric(item, where: str) -> Metric:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise AssignmentError(f"{where}: each metric is a table {{name = \"...\", label = \"...\", order = "
                              f"\"desc\" | \"asc\"}}, not {item!r}")
    order = item.get("order", "desc")
    if order not in ORDERS:
        raise AssignmentError(f"{where}: metric {item['name']}: order must be \"desc\" or \"asc\", not {order!r}")
    label = item.get("label", item["name"])
    if not isinstance(label, str) or not label:
        raise AssignmentError(f"{where}: metric {item['name']}: label must be a string")
    return Metric(name=item["name"], label=label, order=order)


def _requirement(item, where: str) -> Requirement | None:
    if item is None:
        return None
    if not isinstance(item, dict) or not isinstance(item.get("metric"), str) or not isinstance(item.get("reason"), str):
        raise AssignmentError(f"{where}: require must be {{metric = \"...\", reason = \"...\"}}")
    return Requirement(metric=item["metric"], reason=item["reason"])


def _secret(value, assignment: Assignment, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise AssignmentError(f"{where}: secret must be a path under the assignment's folder")
    path = (assignment.directory / value).resolve()
    if not path.is_relative_to(assignment.directory.resolve()) or Path(value).is_absolute():
        raise AssignmentError(f"{where}: secret {value!r} must be a path under the assignment's folder")
    if path.is_relative_to((assignment.directory / "data").resolve()):
        raise AssignmentError(f"{where}: secret {value!r} is in data/, which is released to students")
    return path
