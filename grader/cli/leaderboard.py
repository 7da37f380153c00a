"""``grader leaderboard``: each student's best run, ranked, under a pseudonym. Reads the gradebook only."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root

FORMATS = ("table", "csv", "html")


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="A table on the terminal, CSV, or one self-contained HTML page.")
@click.option("--names", is_flag=True, help="Add each student's real id and file (for staff only).")
@click.option("--db", default="gradebook.db", show_default=True,
              help="Gradebook: a SQLite file path or a SQLAlchemy URL (opened read-only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.pass_context
def leaderboard(ctx: click.Context, assignment: str, fmt: str, names: bool, db: str, out: Path | None) -> None:
    """Rank each student's best run of ASSIGNMENT by its [leaderboard] metrics.

    Students appear under the LEADERBOARD_NAME they chose, else under a pseudonym derived
    from their id with the course secret; their ids only with --names.
    """
    from grader.course.assignment import get_assignment
    from grader.course.leaderboard import leaderboard_spec
    from grader.errors import AssignmentError, UsageError
    from grader.gradebook import Gradebook
    from grader.reports import leaderboard as boards

    spec_of = get_assignment(assignment, course_root(ctx))
    spec = leaderboard_spec(spec_of)
    if spec is None:
        raise AssignmentError(f"{assignment} has no leaderboard: its assignment.toml has no [leaderboard] table")
    with Gradebook.open(db, must_exist=True, read_only=True) as gradebook:
        board = boards.build_leaderboard(gradebook, assignment, spec, title=spec_of.title, names=names)
    if fmt == "table":
        from grader.reports.terminal import console

        if out is not None:
            raise UsageError("--out writes csv or html: add --format csv or --format html")
        terminal = console()
        if not board.entries:
            click.echo(f"no run of {assignment} is ranked yet: none recorded {spec.metrics[0].name} in "
                       f"{spec.check}")
            return
        terminal.print(boards.to_table(board))
        if board.requirement:
            click.echo(f"Not ranked: {board.requirement}.")
        return
    text = boards.to_csv(board) if fmt == "csv" else boards.to_html(board)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} ({len(board.entries)} students)", err=True)
