"""The leaderboard of an assignment: each student's best run, ranked, under a pseudonym.

``build_leaderboard`` reads the gradebook (each student's best run by the assignment's
``[leaderboard]`` metrics is chosen and ranked in SQL, ``Gradebook.ranked``) and returns a
``Leaderboard``; ``to_csv``, ``to_html`` and ``to_table`` only render it. Students appear under
the name their newest graded run chose (``LEADERBOARD_NAME``, recorded as the check's
``leaderboard_name`` label) or a pseudonym derived from their id with the course secret
(``grader.reports.pseudonyms``); their ids appear only when asked for (``names=True``, staff).

Every name is student text: CSV cells that could start a formula are neutralised, HTML is
escaped on a page whose Content-Security-Policy lets nothing run or load, and the terminal gets
``rich.text.Text`` that is never parsed for markup.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field

from grader.course.leaderboard import NAME_LABEL, LeaderboardSpec, Metric
from grader.errors import GradebookError
from grader.gradebook import Gradebook
from grader.reports.export import csv_cell
from grader.reports.html import CSP
from grader.reports.pseudonyms import shown_names
from grader.results import LABEL_LIMIT
from grader.text import SHORT_LIMIT, clean_name


@dataclass(frozen=True)
class Entry:
    """One student's place on the leaderboard."""

    #: 1 for the best; equal metrics share a rank.
    rank: int
    #: The name shown: the student's own choice or a pseudonym, unique on this leaderboard.
    name: str
    #: True when the student chose the name, False for a pseudonym.
    chosen: bool
    #: The best run's metrics, in the order of ``Leaderboard.metrics`` (None: not recorded).
    values: tuple[float | None, ...]
    #: When that run was graded (UTC, ISO).
    graded_at: str
    #: The student's id and the file graded, only on a leaderboard built with ``names=True``.
    student: str | None = None
    file: str | None = None


@dataclass
class Leaderboard:
    """An assignment's leaderboard, best first."""

    assignment: str
    #: The assignment's title.
    title: str
    #: The ranked metrics, most important first.
    metrics: tuple[Metric, ...]
    entries: list[Entry] = field(default_factory=list)
    #: Whether entries carry real ids (staff only).
    with_names: bool = False
    #: Why some runs are not ranked (the ``[leaderboard] require``'s reason), if anything is required.
    requirement: str | None = None


def build_leaderboard(gradebook: Gradebook, assignment: str, spec: LeaderboardSpec, *, title: str = "",
                      names: bool = False) -> Leaderboard:
    """The leaderboard of ``assignment`` in ``gradebook``; ``GradebookError`` when it has no grades."""
    if not gradebook.has_grades(assignment):
        raise GradebookError(f"the gradebook {gradebook.where} has no grades for {assignment!r}")
    key = spec.key()
    best = gradebook.ranked(assignment, check=spec.check, metrics=[(m.name, m.order) for m in spec.metrics],
                            require=spec.require.metric if spec.require else None)
    labels = gradebook.newest_labels(assignment, spec.check)
    chosen: dict[str, str | None] = {}
    for run in best:
        name = labels.get(run.student, {}).get(NAME_LABEL)
        # Cleaned again: rows may come from a gradebook written by an older grader.
        chosen[run.student] = (" ".join(clean_name(name, LABEL_LIMIT).split()) or None) if isinstance(name, str) else None
    shown = shown_names(key, assignment, chosen)
    entries = [Entry(rank=run.rank, name=shown[run.student].name, chosen=shown[run.student].chosen,
                     values=run.values, graded_at=run.graded_at,
                     student=run.student if names else None, file=run.file if names else None) for run in best]
    return Leaderboard(assignment=assignment, title=title or assignment, metrics=spec.metrics, entries=entries,
                       with_names=names, requirement=spec.require.reason if spec.require else None)


def format_value(value: float | None) -> str:
    """A metric as people read it: ``35,914`` for a whole number, four significant digits otherwise."""
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _header(board: Leaderboard) -> list[str]:
    staff = ["student", "file"] if board.with_names else []
    return ["rank", "name", "name_chosen", *(m.label for m in board.metrics), "graded_at", *staff]


def _cells(board: Leaderboard, entry: Entry) -> list:
    staff = [entry.student, entry.file] if board.with_names else []
    values = [int(v) if v is not None and v.is_integer() else v for v in entry.values]  # 35914, not 35914.0
    return [entry.rank, entry.name, entry.chosen, *values, entry.graded_at, *staff]


def to_csv(board: Leaderboard) -> str:
    """The leaderboard as CSV: a header row, then a row per student (numbers as numbers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(cell) for cell in _header(board)])
    for entry in board.entries:
        writer.writerow([csv_cell(cell) for cell in _cells(board, entry)])
    return out.getvalue()


_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
table { border-collapse: collapse; width: 100%; } th, td { padding: .35rem .6rem; border-bottom: 1px solid #d1d9e0; text-align: left; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
.pseudonym { color: #59636e; font-style: italic; } .note { color: #59636e; }
"""


def to_html(board: Leaderboard) -> str:
    """The leaderboard as one self-contained HTML page (nothing runs, nothing loads)."""
    e = html.escape
    numbers = {0, *range(3, 3 + len(board.metrics))}
    header = "".join(f'<th class="number">{e(label)}</th>' if i in numbers else f"<th>{e(label)}</th>"
                     for i, label in enumerate(_header(board)) if i != 2)
    rows = []
    for entry in board.entries:
        name_class = "" if entry.chosen else ' class="pseudonym"'
        cells = [f'<td class="number">{entry.rank}</td>', f"<td{name_class}>{e(clean_name(entry.name))}</td>"]
        cells += [f'<td class="number">{e(format_value(v))}</td>' for v in entry.values]
        cells.append(f"<td>{e(entry.graded_at)}</td>")
        if board.with_names:
            cells += [f"<td>{e(clean_name(entry.student or ''))}</td>", f"<td>{e(clean_name(entry.file or ''))}</td>"]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ("Each student's best run; names in italics are pseudonyms." +
            (f" Not ranked: {board.requirement}." if board.requirement else ""))
    title = e(clean_name(f"{board.title}: leaderboard", SHORT_LIMIT))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">\n'
            f'<meta name="referrer" content="no-referrer">\n<title>{title}</title>\n<style>{_STYLE}</style>\n'
            f"</head>\n<body>\n<h1>{title}</h1>\n<p class=\"note\">{e(note)}</p>\n"
            f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n" + "\n".join(rows) +
            "\n</tbody>\n</table>\n</body>\n</html>\n")


def to_table(board: Leaderboard):
    """The leaderboard as a ``rich`` table for the terminal: student text as ``Text``, never markup."""
    from rich.table import Table

    from grader.reports.terminal import plain

    table = Table(title=plain(f"{board.title}: leaderboard", multiline=False, limit=SHORT_LIMIT))
    for i, label in enumerate(_header(board)):
        if i != 2:
            table.add_column(plain(label, multiline=False), justify="right" if i == 0 or 3 <= i < 3 + len(board.metrics)
                             else "left")
    for entry in board.entries:
        cells = [str(entry.rank), plain(entry.name, style="" if entry.chosen else "italic", multiline=False),
                 *(format_value(v) for v in entry.values), entry.graded_at]
        if board.with_names:
            cells += [plain(entry.student or "", multiline=False), plain(entry.file or "", multiline=False)]
        table.add_row(*cells)
    return table
