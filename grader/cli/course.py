"""``grader list``, ``release``, ``new``, ``validate``: the course's assignments, for staff and students."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root
from grader.course.assignment import get_assignment, list_assignments
from grader.errors import AssignmentError


@click.command("list", context_settings=CONTEXT)
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the available assignments with their titles and points."""
    from grader.reports import terminal as present

    assignments = list_assignments(course_root(ctx))
    if not assignments:
        raise AssignmentError(f"no assignments in {course_root(ctx) / 'assignments'}; "
                              "point --course (or GRADER_COURSE) at a course folder, or create one: grader new NAME")
    present.console().print(present.assignment_table(assignments))


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write the bundle into.")
@click.option("--student", help="Write this student's personal variant (assignments with variants).")
@click.option("--force", is_flag=True, help="Overwrite the bundle's files where they exist already.")
@click.pass_context
def release(ctx: click.Context, assignment: str, out: Path, student: str | None, force: bool) -> None:
    """Write the student bundle: the stub as .py and .ipynb, a README, and the files of the
    assignment's data/ folder next to them.

    Files of the same names already in --out are not overwritten without --force.
    """
    from grader.course.release import release as write_release

    spec = get_assignment(assignment, course_root(ctx))
    for path in write_release(spec, out, student=student, force=force):
        click.echo(f"wrote {path}")
    if student is None and spec.variants_function is not None:
        click.echo(f"released the lecture's numbers, not a student's own: release each student's with --student ID "
                   f"(they check theirs with grader check {spec.name} FILE --student ID)")


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("--title", help="The assignment's title [default: from the name].")
@click.pass_context
def new(ctx: click.Context, name: str, title: str | None) -> None:
    """Scaffold a new assignment NAME with a worked example check."""
    from grader.course.authoring import scaffold

    for path in scaffold(course_root(ctx), name, title=title):
        click.echo(f"wrote {path}")
    click.echo(f"Next: edit them, then run: grader validate {name}")


@click.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1)
@click.pass_context
def validate(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Check assignments before release (all of them if no NAME is given).

    The reference must earn full marks, the unmodified stub zero; every check needs points
    and a docstring; the notebook stub must generate. Exits 1 if anything fails.
    """
    from grader.reports import terminal as present
    from grader.course.authoring import validate as validate_assignment

    names = names or tuple(a.name for a in list_assignments(course_root(ctx)))
    out = present.console()
    ok = True
    for name in names:
        report = validate_assignment(get_assignment(name, course_root(ctx)))
        present.validation(out, report)
        ok = ok and report.ok
    ctx.exit(0 if ok else 1)
