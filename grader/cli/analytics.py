"""``grader stats`` and ``grader similar``: what the gradebook says about a class. Both only read it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root

_DB = click.option("--db", default="gradebook.db", show_default=True,
                   help="Gradebook: a SQLite file path or a SQLAlchemy URL (opened read-only).")
_JSON = click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object on stdout, nothing else.")


def _title(ctx: click.Context, assignment: str) -> str:
    from grader.course.assignment import get_assignment
    from grader.errors import AssignmentError

    try:
        return get_assignment(assignment, course_root(ctx)).title
    except AssignmentError:  # graded with another course folder: the gradebook alone will do
        return assignment


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one self-contained HTML page with plots here.")
@_DB
@_JSON
@click.pass_context
def stats(ctx: click.Context, assignment: str, out: Path | None, db: str, as_json: bool) -> None:
    """Where the class struggles: scores, the most failed checks and their messages, timeouts and
    crashes, lateness and grading time, from each student's latest run."""
    from grader.reports.analytics.readonly import ReadOnlyGradebook
    from grader.reports.analytics.stats import class_stats
    from grader.reports.terminal import console

    with ReadOnlyGradebook(db) as gradebook:
        figures = class_stats(gradebook, assignment)
    if out is not None:
        from grader.reports.analytics.page import render_stats_html

        out.write_text(render_stats_html(figures, title=_title(ctx, assignment)), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(figures.to_json(), indent=2))
        return
    _print_stats(console(), figures)
    if out is not None:
        click.echo(f"wrote {out}")


def _print_stats(out, figures) -> None:
    from rich.markup import escape
    from rich.table import Table

    from grader.results import format_points

    s = figures.scores
    out.print(f"[bold]{escape(figures.assignment)}[/bold]: {figures.students} students (latest run each), "
              f"{figures.full_marks} with full marks, {figures.ungraded} not gradable")
    out.print(f"Scores of {format_points(figures.max_score)}: median {s.median:g} (middle half {s.p25:g}–{s.p75:g}), "
              f"mean {s.mean:.3g}, lowest {s.minimum:g}, highest {s.maximum:g}")
    late = figures.lateness
    out.print(f"Late: {late.late} ({late.penalised} penalised, {late.total_penalty:g} points in all); "
              f"grading took a median {figures.grading_seconds.median:.2f} s per submission")
    if not figures.most_failed:
        out.print("Every student passed every check.")
        return
    by_name = {c.name: c for c in figures.checks}
    table = Table(title="Most failed checks")
    for column in ("check", "visibility", "passed", "wrong", "error", "timeout", "most common message"):
        table.add_column(column, justify="right" if column in ("passed", "wrong", "error", "timeout") else "left")
    for name in figures.most_failed:
        check = by_name[name]
        groups = figures.failures.get(name) or []
        common = f"{groups[0].count}× {groups[0].pattern}" if groups else ""
        table.add_row(escape(name), check.visibility, f"{check.passed}/{check.runs} ({100 * check.pass_rate:.0f}%)",
                      str(check.failed), str(check.errors), str(check.timeouts), escape(common[:90]))
    out.print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to ``group`` (the ``grader`` command)."""
    for command in (stats,):
        group.add_command(command)
