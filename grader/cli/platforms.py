"""``grader prairielearn`` and ``grader classroom``: grading inside PrairieLearn and GitHub Classroom."""

from __future__ import annotations

import os
from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root
from grader.text import clean


def _log(lines) -> None:
    """Print the run's log; nothing printed may fail a run whose results are already written."""
    try:
        for line in lines:
            click.echo(clean(line, 1 << 16))
    except Exception as exc:  # noqa: BLE001 - the log is for people; the result is already out
        click.echo(f"(the rest of the log could not be printed: {type(exc).__name__})")


@click.group(context_settings=CONTEXT)
def prairielearn() -> None:
    """PrairieLearn external grader: grade /grade/student, write /grade/results/results.json."""


@prairielearn.command("run", context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default="/grade", show_default=True,
              help="PrairieLearn's folder: grades ROOT/student/, writes ROOT/results/results.json.")
@click.option("--student", help="Student id for assignments with personal variants "
                                "[default: 'student': PrairieLearn does not tell the grader who it is].")
@click.pass_context
def prairielearn_run(ctx: click.Context, assignment: str, root: Path, student: str | None) -> None:
    """Grade the submission in ROOT/student/ with every check and write ROOT/results/results.json.

    This is the question's external-grading entrypoint. It always writes results.json (not
    gradable, with a message, when nothing can be graded) and then exits 0, whatever the
    score. What it prints is the grading job's log.
    """
    from grader.platforms import prairielearn as pl

    report = pl.run(assignment, course_root=course_root(ctx), root=root, student=student)
    # PrairieLearn may show the job's output to the student: the same facts as results.json only.
    data = report.results
    lines = []
    if report.failure:  # the last line only: a traceback quotes the checks' and the reference's source
        lines.append(f"autograder failure: {report.failure.strip().splitlines()[-1]}")
    lines.append(f"{assignment}: gradable {str(data.get('gradable')).lower()}, score {data.get('score', 0):g}")
    lines += [f"  {t['points']:g}/{t['max_points']:g} {t['name']}" + (f": {t['message']}" if t["message"] else "")
              for t in data.get("tests", [])]
    lines += [f"  {error}" for error in data.get("format_errors", [])]
    if report.missing_layers:
        lines.append("sandbox isolation layers this host does not allow: " + "; ".join(report.missing_layers))
    lines.append(f"wrote {report.results_path}")
    _log(lines)


@click.group(context_settings=CONTEXT)
def classroom() -> None:
    """GitHub Classroom: write the autograding workflow, grade inside it for the reporter."""


@classroom.command("init", context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--course-repo", required=True, metavar="OWNER/NAME",
              help="GitHub repository holding the grader and the course (constraints.txt, assignments/, reference/).")
@click.option("--ref", default="main", show_default=True, help="Branch, tag or commit of --course-repo.")
@click.option("--token-secret", metavar="NAME",
              help="Name of a secret with read access to --course-repo, if it is private.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True,
              help="The template repository's folder; writes OUT/.github/workflows/classroom.yml.")
@click.option("--force", is_flag=True, help="Replace an existing classroom.yml.")
@click.pass_context
def classroom_init(ctx: click.Context, assignment: str, course_repo: str, ref: str, token_secret: str | None,
                   out: Path, force: bool) -> None:
    """Write .github/workflows/classroom.yml for ASSIGNMENT into a classroom template repository.

    The workflow checks out the student's repository and --course-repo, sets up Python 3.11,
    installs the grader with its pins (torch as the CPU wheel), grades with every check and
    reports the points to GitHub Classroom.
    """
    from grader.course.assignment import get_assignment
    from grader.errors import UsageError
    from grader.gradescope.bundle import TORCH_CPU_INDEX
    from grader.platforms import classroom as gh

    spec = get_assignment(assignment, course_root(ctx))
    text = gh.workflow(spec.name, course_repo=course_repo, ref=ref, token_secret=token_secret,
                       torch_index=TORCH_CPU_INDEX)
    path = out / gh.WORKFLOW_PATH
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}: commit it to the template repository of {spec.name}")
    click.echo("note: a student who edits this workflow can read what it reads (the checks and the reference "
               f"in {course_repo})", err=True)


@classroom.command("run", context_settings=CONTEXT)
@click.argument("assignment")
@click.argument("target", type=click.Path(path_type=Path), default=".")
@click.option("--student", help="Student id for assignments with personal variants [default: the file's stem].")
@click.option("--github-output", type=click.Path(dir_okay=False, path_type=Path), envvar="GITHUB_OUTPUT",
              help="Append result=<base64> here [default: $GITHUB_OUTPUT; without one, print it].")
@click.pass_context
def classroom_run(ctx: click.Context, assignment: str, target: Path, student: str | None,
                  github_output: Path | None) -> None:
    """Grade TARGET (the student's file, or the repository folder to find it in) for the classroom reporter.

    Writes the step output result=<base64 of the result JSON> that
    autograding-grading-reporter reads, prints each check's outcome, and exits 0 whatever
    the score (the reporter fails the job when points are missing).
    """
    from grader.platforms import classroom as gh

    report = gh.run(assignment, target, course_root=course_root(ctx), student=student)
    line = f"result={gh.encoded(report.data)}"
    if github_output:
        with open(github_output, "a", encoding="utf-8") as out:
            out.write(line + "\n")
    lines = []
    if report.failure:  # the last line only: the log is the student's, a traceback quotes the course's source
        lines.append(f"autograder failure: {report.failure.strip().splitlines()[-1]}")
    lines += gh.report_lines(report.data)
    if report.missing_layers:
        lines.append("sandbox isolation layers this host does not allow: " + "; ".join(report.missing_layers))
    if not github_output:
        lines.append(line)
    elif os.environ.get("GITHUB_OUTPUT") != str(github_output):
        lines.append(f"wrote the result to {github_output}")
    _log(lines)
