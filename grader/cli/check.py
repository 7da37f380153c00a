"""``grader check``: a student's self-check with the public checks."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root
from grader.course.assignment import get_assignment
from grader.errors import SubmissionError


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--student", help="Your student id, for assignments with personal variants [default: the file's stem].")
@click.pass_context
def check(ctx: click.Context, assignment: str, file: Path, student: str | None) -> None:
    """Run the public checks on FILE (.py or .ipynb) and explain what is wrong.

    Exits 0 if every public check passes, 1 otherwise. Nothing is stored.
    """
    from grader.sandbox.forkserver import ForkServer, missing_layers_warning
    from grader.course.devices import needs_gpu

    if not file.is_file():
        raise SubmissionError(f"{file}: no such file; give the path of your .py file or .ipynb notebook")
    spec = get_assignment(assignment, course_root(ctx))
    # The warm parent first: its start (an interpreter, numpy, the isolation probe) overlaps the
    # imports of the grading side below instead of following them.
    forkserver = ForkServer(spec.limits.warm_imports, gpu=needs_gpu(spec), limits=spec.limits, batch=False).launch()
    try:
        from grader.grading.grader import Grader
        from grader.reports import terminal as present

        with Grader(spec, visibility="public", forkserver=forkserver) as grader:
            # A laptop may lack some layers: say so and run anyway. The warm parent probed them at start.
            warning = missing_layers_warning(grader.missing_layers)
            if warning:
                click.echo(warning, err=True)
            result = grader.grade_file(file, student or file.stem)
    finally:
        forkserver.close()
    hidden = len(spec.checks) - len(grader.checks)
    present.feedback(present.console(), result, hidden_checks=hidden)
    ctx.exit(0 if result.status == "graded" and result.score == result.max_score else 1)
