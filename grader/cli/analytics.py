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

    with ReadOnlyGradebook(db, assignment) as gradebook:
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


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one self-contained HTML page showing each pair side by side here.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.5, show_default=True,
              help="List a pair when this share of the smaller submission's own code is in the other.")
@click.option("--min-bits", type=click.FloatRange(min=0.0, min_open=True), default=5.0, show_default=True,
              help="List a pair when the wrong answers they share are worth this many bits "
                   "(5: an answer about one student in 32 gives).")
@_DB
@_JSON
@click.pass_context
def similar(ctx: click.Context, assignment: str, out: Path | None, threshold: float, min_bits: float, db: str,
            as_json: bool) -> None:
    """Pairs of submissions that look alike: similar code (renaming, reordering and comments do not
    hide it; the stub does not count) and the same rare wrong answers. Evidence for a person to
    judge: nothing is stored and no grade changes.

    Files are read again from the paths they were graded at (run it where grader grade ran);
    a file that is gone or has changed since is skipped, with a note.
    """
    from grader.course.assignment import get_assignment
    from grader.errors import AssignmentError
    from grader.reports.analytics.pairs import find_pairs
    from grader.reports.analytics.readonly import ReadOnlyGradebook

    try:
        spec = get_assignment(assignment, course_root(ctx))
        stub, title = spec.stub_path, spec.title
    except AssignmentError:  # graded with another course folder: no stub to subtract (a note says so)
        stub, title = None, assignment
    with ReadOnlyGradebook(db, assignment) as gradebook:
        found = find_pairs(gradebook, assignment, stub=stub, threshold=threshold, min_bits=min_bits)
    if out is not None:
        from grader.reports.analytics.similar_page import render_similar_html

        out.write_text(render_similar_html(found, title=title), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
        return
    from grader.reports.terminal import console

    _print_pairs(console(), found)
    if out is not None:
        click.echo(f"wrote {out}")


def _print_pairs(out, found) -> None:
    from rich.markup import escape
    from rich.table import Table

    out.print(f"[bold]{escape(found.assignment)}[/bold]: {found.students} students, {found.compared} files compared "
              f"by code; {len(found.pairs)} pairs over a threshold (code {100 * found.threshold:.0f}%, "
              f"wrong answers {found.min_bits:g} bits)")
    for note in found.notes:
        out.print(f"note: {escape(note)}", soft_wrap=True)
    if found.pairs:
        table = Table(title="Pairs that look alike, most suspicious first")
        for column in ("pair", "code", "wrong answers", "shared wrong checks", "flagged by"):
            table.add_column(column, justify="right" if column in ("code", "wrong answers") else "left")
        for pair in found.pairs:
            checks = ", ".join(f"{a.check} ({a.visibility})" for a in pair.shared_answers)
            table.add_row(f"{escape(pair.a)} & {escape(pair.b)}",
                          "—" if pair.code is None else f"{100 * pair.code:.0f}%",
                          f"{pair.bits:.1f} bits" if pair.mistakes else "—", escape(checks[:80]),
                          ", ".join(pair.flagged_by))
        out.print(table)
    out.print(found.notice, soft_wrap=True)
