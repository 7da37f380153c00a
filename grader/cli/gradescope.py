"""``grader gradescope``: build the autograder zip, and grade inside Gradescope's container."""

from __future__ import annotations

from pathlib import Path

import click

from grader.course.assignment import get_assignment
from grader.gradescope.metadata import STUDENT_ID_FIELDS
from grader.text import clean

# The bundle and the run (forkserver, grading, results.json) load when their command runs:
# every other command, `grader check` first, would pay for them.
DEFAULT_ROOT = "/autograder"

CONTEXT = {"help_option_names": ["-h", "--help"]}
STUDENT_ID_HELP = ("Field of Gradescope's submission metadata (users[0]) that is the student's id "
                   "[default: [gradescope] student_id in assignment.toml, else email].")


@click.group(context_settings=CONTEXT)
def gradescope() -> None:
    """Gradescope autograder: build the zip to upload, grade one submission inside Gradescope."""


@gradescope.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="autograder.zip",
              show_default=True, help="Where to write the zip.")
@click.option("--student-id", type=click.Choice(STUDENT_ID_FIELDS), help=STUDENT_ID_HELP)
@click.pass_context
def build(ctx: click.Context, assignment: str, out: Path, student_id: str | None) -> None:
    """Write the Gradescope autograder zip of ASSIGNMENT (upload it as the autograder).

    It holds setup.sh (installs the grader with its pins, torch as the CPU wheel),
    run_autograder, the grader's source, and only this assignment and its reference.
    """
    spec = get_assignment(assignment, ctx.obj["course"])
    from grader.gradescope.bundle import build_bundle

    bundle = build_bundle(spec, out, student_id=student_id)
    click.echo(f"wrote {bundle.path} ({len(bundle.names)} files): upload it as the Gradescope autograder of {spec.name}")


@gradescope.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ROOT,
              show_default=True, help="Gradescope's folder: grades ROOT/submission/, writes ROOT/results/results.json.")
@click.option("--student-id", type=click.Choice(STUDENT_ID_FIELDS), help=STUDENT_ID_HELP)
@click.pass_context
def run(ctx: click.Context, assignment: str, root: Path, student_id: str | None) -> None:
    """Grade the submission in ROOT/submission/ and write ROOT/results/results.json.

    This is what run_autograder calls. It always writes results.json (a score of 0 and a
    message when nothing can be graded) and then exits 0, whatever the score. What it prints
    is Gradescope's log, shown to instructors only.
    """
    from grader.gradescope import run as runner

    report = runner.run(assignment, course_root=ctx.obj["course"], root=root, student_id=student_id)
    # results.json is written: nothing printed below may fail the command now, or run_autograder
    # would replace a good results.json with its fallback.
    try:
        for line in log_lines(assignment, report):
            click.echo(line)
    except Exception as exc:  # noqa: BLE001 - the log is for instructors; the grade is already written
        click.echo(f"(the rest of the log could not be printed: {type(exc).__name__})")


def log_lines(assignment: str, report) -> list[str]:
    """What ``gradescope run`` prints: Gradescope's log, shown to instructors only. Student text
    is stripped of control characters (a log viewer is a terminal too)."""
    def c(text) -> str:
        return clean(text, 1 << 16)

    result = report.result
    lines = []
    if report.refusal is not None:
        refusal = report.refusal
        lines.append(f"{c(assignment)}: not graded: over the attempt budget ({len(refusal.used)} graded attempts in "
                     f"the last 24 hours, {refusal.per_day} allowed); next attempt from {refusal.next_at.isoformat()}; "
                     f"kept the best earlier score, {report.results.get('score', 0):g}")
    if report.failure:
        lines.append(f"autograder failure: {c(report.failure).rstrip()}")
    elif result is not None and report.submission is None:
        lines.append(f"{c(assignment)}: nothing graded for {c(report.student)}: {c(result.error)}")
    elif result is not None:
        lines.append(f"{c(assignment)}: graded {c(report.submission)} for {c(report.student)}: "
                     f"{result.score:g} / {result.max_score:g}" + (f" ({c(result.error)})" if result.error else ""))
        for check in result.checks:
            lines.append(f"  {check.status:7} {check.score:g}/{check.max_score:g} {c(check.name)}"
                         + (f": {c(check.message)}" if check.message else ""))
        for note in result.notes:
            lines.append(f"  note: {c(note.text)}")
    lines.insert(1 if lines else 0, f"student id: {c(report.student or 'unknown')} ({c(report.student_source)})")
    if report.missing_layers:
        lines.append("sandbox isolation layers this host does not allow: " + "; ".join(map(c, report.missing_layers)))
    lines.append(f"wrote {report.results_path}")
    if result is not None and result.output:
        lines.append("--- the student's output (not shown to the student) ---")
        lines.append(c(result.output).rstrip("\n"))
    return lines
