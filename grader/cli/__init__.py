"""The ``grader`` command: a thin layer over the library that formats what it returns."""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import traceback
from pathlib import Path

import click

from grader.course.assignment import COURSE_ENV, default_course_root, get_assignment, list_assignments
from grader.cli.db import db as db_group
from grader.errors import GraderError, GradebookError
from grader.cli.gradescope import gradescope

# Each command imports what it uses when it runs (rich, SQLAlchemy, numpy take ~0.4 s together):
# `grader grade` starts its grading workers first, so their start-up overlaps those imports.

CONTEXT = {"help_option_names": ["-h", "--help"]}


EXIT_OK, EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 130


class GraderGroup(click.Group):
    """Maps outcomes to exit codes: 0 done, 1 a usage or input error (one line, ``ErrorName: message``),
    2 a bug in the grader (with its traceback), 130 interrupted."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as done:
            code = done.exit_code
        except click.ClickException as error:  # bad options or arguments
            error.show()
            code = EXIT_INPUT
        except click.Abort as abort:
            if isinstance(abort.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
                click.echo("Interrupted: results stored so far are kept; rerun to grade the rest.", err=True)
                code = EXIT_INTERRUPTED
            else:
                click.echo("Aborted.", err=True)
                code = EXIT_INPUT
        except GraderError as error:
            click.echo(f"{type(error).__name__}: {error}", err=True)
            code = EXIT_INPUT
        except KeyboardInterrupt:
            click.echo("Interrupted: results stored so far are kept; rerun to grade the rest.", err=True)
            code = EXIT_INTERRUPTED
        except Exception:  # noqa: BLE001 - our own bug: show it in full
            traceback.print_exc()
            click.echo("This is a bug in grader, not in your files: please report it with the traceback above.",
                       err=True)
            code = EXIT_BUG
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _course(ctx: click.Context) -> Path:
    return ctx.obj["course"]


@click.group(cls=GraderGroup, context_settings=CONTEXT)
@click.option("--course", type=click.Path(file_okay=False, path_type=Path), envvar=COURSE_ENV,
              help="Course folder holding assignments/ and reference/ (default: the bundled course).")
@click.version_option(package_name="grader")
@click.pass_context
def cli(ctx: click.Context, course: Path | None) -> None:
    """Grade deep-learning exercises: sandboxed runs, numeric checks, a gradebook."""
    ctx.ensure_object(dict)
    ctx.obj["course"] = course.resolve() if course else default_course_root()
    logging.basicConfig(level=logging.WARNING, format="grader: %(levelname)s: %(message)s", stream=sys.stderr)


@cli.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the available assignments with their titles and points."""
    from grader.reports import terminal as present

    assignments = list_assignments(_course(ctx))
    if not assignments:
        raise GraderError(f"no assignments in {_course(ctx) / 'assignments'}")
    present.console().print(present.assignment_table(assignments))


@cli.command()
@click.argument("assignment")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--student", help="Your student id, for assignments with personal variants [default: the file's stem].")
@click.pass_context
def check(ctx: click.Context, assignment: str, file: Path, student: str | None) -> None:
    """Run the public checks on FILE (.py or .ipynb) and explain what is wrong.

    Exits 0 if every public check passes, 1 otherwise. Nothing is stored.
    """
    from grader.reports import terminal as present
    from grader.sandbox.doctor import missing_layers_warning
    from grader.grading.grader import Grader

    if not file.is_file():
        raise GraderError(f"{file}: no such file")
    spec = get_assignment(assignment, _course(ctx))
    with Grader(spec, visibility="public") as grader:
        # A laptop may lack some layers: say so and run anyway. The warm parent probed them at start.
        warning = missing_layers_warning(grader.missing_layers)
        if warning:
            click.echo(warning, err=True)
        result = grader.grade_file(file, student or file.stem)
    hidden = len(spec.checks) - len(grader.checks)
    present.feedback(present.console(), result, hidden_checks=hidden)
    ctx.exit(0 if result.status == "graded" and result.score == result.max_score else 1)


@cli.command()
@click.argument("assignment")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", default="gradebook.db", show_default=True,
              help="Gradebook: a SQLite file path or any SQLAlchemy URL.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per submission per line on stdout, nothing else.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once [default: the number of CPUs it may use].")
@click.option("--force", is_flag=True, help="Regrade submissions whose content was graded before.")
@click.option("--insecure", is_flag=True,
              help="Grade even if this host does not allow the sandbox's namespace layers (trusted files only).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write JUnit XML here: a testsuite per submission, a testcase per check.")
@click.option("--submitted-at", help="Submission time of every file (ISO 8601), for late penalties.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV with columns student,file,submitted_at giving each submission's time.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Grade on this Dask cluster instead of local processes (pip install 'grader[dask]'; "
                   "workers need the course folder at the same path or $GRADER_COURSE).")
@click.pass_context
def grade(ctx: click.Context, assignment: str, paths: tuple[Path, ...], db: str, as_json: bool,
          jobs: int | None, force: bool, insecure: bool, junit: Path | None, submitted_at: str | None, manifest: Path | None,
          scheduler: str | None) -> None:
    """Grade submissions (files, or folders of them) with all checks into the gradebook.

    The student id is the file's stem, or the folder's name for PATH/<student>/<file>.
    Submission times (for due dates) come from --submitted-at, else --manifest, else each
    file's modification time. Exits 0 once everything is graded, whatever the scores.
    """
    from grader.grading.batch import Batch
    from grader.intake.discover import find_submissions
    from grader.intake.times import with_submission_times
    from grader.course.lateness import parse_moment
    from grader.grading.pool import allowed_cpus

    spec = get_assignment(assignment, _course(ctx))
    files = find_submissions(list(paths), spec.module)
    if not files:
        raise GraderError(f"no .py or .ipynb submissions found in {', '.join(map(str, paths))}")
    files = with_submission_times(
        files, submitted_at=parse_moment(submitted_at, what="--submitted-at") if submitted_at else None,
        manifest=manifest)
    jobs = jobs or len(allowed_cpus()) or os.cpu_count() or 1
    results = []
    # Without --insecure the sandboxes refuse to start, with one line why, where student code
    # would not be isolated; nothing is graded then. A broken checks.py or reference fails
    # the same way, before any grading.
    with Batch(spec, files, course_root=_course(ctx), jobs=jobs, scheduler=scheduler,
               require_isolation=not insecure) as batch:
        from grader.reports import terminal as present  # while the graders start
        from grader.gradebook import Gradebook

        with Gradebook.open(db) as gradebook:
            stream = batch.results(gradebook, force=force)
            err = present.console(stderr=True)
            if not as_json and err.is_terminal:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                with Progress(TextColumn(f"grading {spec.name}"), BarColumn(), MofNCompleteColumn(),
                              TimeRemainingColumn(), console=err) as progress:
                    task = progress.add_task("grading", total=len(files))
                    for result in stream:
                        results.append(result)
                        progress.advance(task)
            else:
                for result in stream:
                    results.append(result)
                    if as_json:
                        click.echo(json.dumps(result.to_json()))
    if junit:
        from grader.reports.junit import junit_xml

        junit.write_text(junit_xml(results, assignment=spec.name))
    if as_json:
        return
    out = present.console()
    out.print(present.summary_table(results, f"{spec.title} ({spec.name})"))
    unchanged = sum(r.cached for r in results)
    line = f"{len(results) - unchanged} graded"
    if unchanged:
        line += f", {unchanged} unchanged since their last grading (use --force to regrade)"
    out.print(f"{line}; gradebook: {gradebook.where}")


@cli.command()
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


@cli.command("feedback")
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
        spec = get_assignment(assignment, _course(ctx))
        title, checks = spec.title, spec.checks
    except AssignmentError:  # graded with another course folder: names and messages place the feedback
        title, checks = assignment, []
    written = write_feedback(results, out, title=title, checks=checks, include_output=include_output)
    for item in written:
        for warning in item.warnings:
            click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote feedback for {len(written)} student(s) to {out}")


@cli.command()
@click.argument("assignment")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write the bundle into.")
@click.option("--student", help="Write this student's personal variant (assignments with variants).")
@click.pass_context
def release(ctx: click.Context, assignment: str, out: Path, student: str | None) -> None:
    """Write the student bundle: the stub as .py and .ipynb, and a README."""
    from grader.course.release import release as write_release

    spec = get_assignment(assignment, _course(ctx))
    for path in write_release(spec, out, student=student):
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("name")
@click.option("--title", help="The assignment's title [default: from the name].")
@click.pass_context
def new(ctx: click.Context, name: str, title: str | None) -> None:
    """Scaffold a new assignment NAME with a worked example check."""
    from grader.course.authoring import scaffold

    for path in scaffold(_course(ctx), name, title=title):
        click.echo(f"wrote {path}")
    click.echo(f"Next: edit them, then run: grader validate {name}")


@cli.command()
@click.argument("names", nargs=-1)
@click.pass_context
def validate(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Check assignments before release (all of them if no NAME is given).

    The reference must earn full marks, the unmodified stub zero; every check needs points
    and a docstring; the notebook stub must generate. Exits 1 if anything fails.
    """
    from grader.reports import terminal as present
    from grader.course.authoring import validate as validate_assignment

    names = names or tuple(a.name for a in list_assignments(_course(ctx)))
    out = present.console()
    ok = True
    for name in names:
        report = validate_assignment(get_assignment(name, _course(ctx)))
        present.validation(out, report)
        ok = ok and report.ok
    ctx.exit(0 if ok else 1)


cli.add_command(gradescope)
cli.add_command(db_group)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def doctor(as_json: bool) -> None:
    """Show which sandbox isolation layers work on this host, the start-up mode and versions."""
    from grader.reports import terminal as present
    from grader.sandbox.doctor import host_report

    report = host_report()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        present.doctor(present.console(), report)


def main() -> None:
    """The console command. It ends without the interpreter's teardown of numpy, SQLAlchemy and
    rich (~0.1 s of freeing objects one by one, on every run): each command has closed what it
    opened by the time it returns (gradebook sessions, workers, warm parents), so what is left
    is running the exit handlers and flushing the output."""
    try:
        cli(prog_name="grader")
        code = EXIT_OK
    except SystemExit as exit:
        code = exit.code
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if not isinstance(code, int) or run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (grader export | head), a closed stream
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
