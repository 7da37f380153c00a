"""``grader grade``: a TA grades a class into the gradebook."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root
from grader.course.assignment import get_assignment
from grader.errors import GraderError


@click.command(context_settings=CONTEXT)
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

    spec = get_assignment(assignment, course_root(ctx))
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
    with Batch(spec, files, course_root=course_root(ctx), jobs=jobs, scheduler=scheduler,
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
