"""``grader export`` and ``grader feedback``: what the gradebook holds, as tables and reports."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root
from grader.course.assignment import get_assignment
from grader.errors import AssignmentError, ExportError, GradebookError
from grader.text import clean_name

FORMATS = ["csv", "json", "canvas", "moodle", "blackboard"]


def _gradebook_results(db: str, assignment: str):
    from grader.gradebook import Gradebook

    with Gradebook.open(db, must_exist=True, read_only=True, check=True, assignment=assignment) as gradebook:
        return gradebook.latest(assignment)


def _title_and_points(ctx: click.Context, assignment: str, results) -> tuple[str, float]:
    """The assignment's title and points from the course, or (graded elsewhere) from the results."""
    try:
        spec = get_assignment(assignment, course_root(ctx))
        return spec.title, spec.max_score()
    except AssignmentError:
        return assignment, max((r.max_score for r in results), default=0.0)


def _write(text: str, out: Path | None, count: int) -> None:
    """UTF-8 to ``out`` or to stdout as bytes (a console's own encoding could not hold every name)."""
    data = text.encode("utf-8")
    if out:
        out.write_bytes(data)
        click.echo(f"wrote {count} students to {out}", err=True)
    else:
        click.echo(data, nl=False)  # bytes go to the binary stream underneath


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
              help="csv: a row per student, a column per check (its maximum points in the header); json: the same "
                   "as a list; canvas, moodle, blackboard: the LMS's gradebook import file.")
@click.option("--db", default="gradebook.db", show_default=True, help="Gradebook: a SQLite file path or a SQLAlchemy URL.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path),
              help="The LMS's gradebook export (CSV), to find each student's LMS ids (required for canvas).")
@click.option("--column-id", help="The LMS's id of the assignment (canvas) or grade column (blackboard) "
                                  "[default: found in the roster's header].")
@click.option("--moodle-id", type=click.Choice(["email", "idnumber", "username"]), default="email", show_default=True,
              help="The Moodle user field identifying students (moodle).")
@click.option("--relative-to", type=click.Path(file_okay=False),
              help="Show files relative to this folder (csv, json) [default: the folder holding every graded file].")
@click.option("--allow-unmatched", is_flag=True,
              help="Export even if some grades cannot be placed (each is still listed on stderr).")
@click.pass_context
def export(ctx: click.Context, assignment: str, fmt: str, db: str, out: Path | None, roster: Path | None,
           column_id: str | None, moodle_id: str, relative_to: str | None, allow_unmatched: bool) -> None:
    """Export the latest grade of every student, as a table or as an LMS's gradebook import.

    A grade that cannot be placed (a student the roster does not know, a gradebook row that
    cannot be read) is named on stderr, one line each, and nothing is exported unless
    --allow-unmatched is given: no grade is ever dropped without a word.
    """
    from grader.reports import lms
    from grader.reports.export import grade_table, to_csv, to_json
    from grader.reports.roster import read_roster

    results = _gradebook_results(db, assignment)
    if not results:
        raise GradebookError(f"the gradebook {db} has no grades for {assignment!r}")
    class_list = read_roster(roster) if roster else None
    title, points = _title_and_points(ctx, assignment, results)
    column = lms.GradeColumn(title=title, points=points, column_id=column_id)
    if fmt == "canvas":
        if class_list is None:
            raise ExportError("a Canvas import needs --roster: export the gradebook from Canvas (Grades → Export → "
                              "Export Entire Gradebook) and pass that CSV, so each grade gets its Canvas ids")
        table = lms.canvas_table(results, class_list, column)
    elif fmt == "moodle":
        table = lms.moodle_table(results, class_list, column, identifier=moodle_id)
    elif fmt == "blackboard":
        table = lms.blackboard_table(results, class_list, column)
    else:
        table = grade_table(results, relative_to=relative_to)
    for problem in table.unplaced:
        click.echo(f"warning: {problem.student}: not exported: {problem.reason}", err=True)
    if table.unplaced and not allow_unmatched:
        raise ExportError(f"{len(table.unplaced)} grade(s) could not be placed (listed above) and nothing was "
                          "exported; fix the roster or the ids, or pass --allow-unmatched to export the others")
    if fmt == "json":
        text = to_json(table)
    else:
        text = to_csv(table, quote_all=fmt == "blackboard", multiline=frozenset({"feedback"}))
    _write(text, out, len(table.rows))


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
    pass/fail. A student whose feedback cannot be written gets a warning; the others are written.
    """
    from grader.reports.feedback import select_results, write_feedback

    results = select_results(_gradebook_results(db, assignment), assignment, student=student,
                             where=f"the gradebook {db}")
    try:
        spec = get_assignment(assignment, course_root(ctx))
        title, checks = spec.title, spec.checks
    except AssignmentError:  # graded with another course folder: names and messages place the feedback
        title, checks = assignment, []
    written = write_feedback(results, out, title=title, checks=checks, include_output=include_output)
    for item in written:
        for warning in item.warnings:
            click.echo(f"warning: {clean_name(warning, 1000)}", err=True)
    click.echo(f"wrote feedback for {len(written)} student(s) to {clean_name(str(out), 1000)}")
