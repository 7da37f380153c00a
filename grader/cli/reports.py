"""``grader export`` and ``grader feedback``: what the gradebook holds, as tables and reports."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root
from grader.course.assignment import get_assignment
from grader.errors import GradebookError


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "canvas"]), default="csv", show_default=True,
              help="csv: one row per student, one column per check; json: the same as a list; "
                   "canvas: student and final score only.")
@click.option("--db", default="gradebook.db", show_default=True, help="Gradebook: a SQLite file path or a SQLAlchemy URL.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@click.pass_context
def export(ctx: click.Context, assignment: str, fmt: str, db: str, out: Path | None) -> None:
    """Export the latest grade of every student, with lateness and one column per check."""
    from grader.reports.export import canvas_table, grade_table, to_csv, to_json
    from grader.gradebook import Gradebook

    if "://" not in db and not Path(db).is_file():
        raise GradebookError(f"no gradebook at {db}; grade something first (grader grade {assignment} ...)")
    with Gradebook.open(db) as gradebook:
        results = gradebook.latest(assignment)
    if not results:
        raise GradebookError(f"the gradebook {db} has no grades for {assignment!r}")
    columns, rows = canvas_table(results) if fmt == "canvas" else grade_table(results)
    text = to_json(columns, rows) if fmt == "json" else to_csv(columns, rows)
    if out:
        out.write_text(text)
        click.echo(f"wrote {len(rows)} students to {out}", err=True)
    else:
        click.echo(text, nl=False)


@click.command("feedback", context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write the reports into.")
@click.option("--student", help="Only this student [default: every student with a grade].")
@click.option("--db", default="gradebook.db", show_default=True, help="Gradebook: a SQLite file path or a SQLAlchemy URL.")
@click.option("--output/--no-output", "include_output", default=False, show_default=True,
              help="Include what the student's code printed (collapsed, capped). Off by default: code run "
                   "by hidden checks can print their inputs.")
@click.pass_context
def feedback_command(ctx: click.Context, assignment: str, out: Path, student: str | None, db: str,
                     include_output: bool) -> None:
    """Write each student's feedback from their latest grade: <student>.md and .html.

    For a notebook submission also <student>.notebook.ipynb and .html: a copy of the notebook
    with feedback after each graded function's cell. Hidden checks show only name, points and
    pass/fail.
    """
    from grader.errors import AssignmentError
    from grader.reports.feedback import select_results, write_feedback
    from grader.gradebook import Gradebook

    if "://" not in db and not Path(db).is_file():
        raise GradebookError(f"no gradebook at {db}; grade something first (grader grade {assignment} ...)")
    with Gradebook.open(db) as gradebook:
        results = select_results(gradebook.latest(assignment), assignment, student=student, where=f"the gradebook {db}")
    try:
        spec = get_assignment(assignment, course_root(ctx))
        title, checks = spec.title, spec.checks
    except AssignmentError:  # graded with another course folder: names and messages place the feedback
        title, checks = assignment, []
    written = write_feedback(results, out, title=title, checks=checks, include_output=include_output)
    for item in written:
        for warning in item.warnings:
            click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote feedback for {len(written)} student(s) to {out}")
