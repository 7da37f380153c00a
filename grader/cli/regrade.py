"""``grader regrade``: after staff change a check, grade again what an older version graded."""

from __future__ import annotations

import os

import click

from grader.cli.app import CONTEXT, course_root
from grader.cli.grade import collect, exit_on_grader_faults
from grader.course.assignment import get_assignment
from grader.results import format_points
from grader.text import clean_name


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.option("--db", default="gradebook.db", show_default=True,
              help="Gradebook: a SQLite file path or any SQLAlchemy URL.")
@click.option("--dry-run", is_flag=True,
              help="Grade without storing anything: show whose score would change, and by how much.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per regraded submission per line (with previous_score and change).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once [default: the number of CPUs it may use].")
@click.option("--insecure", is_flag=True,
              help="Grade even if this host does not allow the sandbox's namespace layers (trusted files only).")
@click.pass_context
def regrade(ctx: click.Context, assignment: str, db: str, dry_run: bool, as_json: bool, jobs: int | None,
            insecure: bool) -> None:
    """Regrade every student's latest submission graded with an older version of ASSIGNMENT.

    The version is a hash of the assignment's checks, reference, harness, settings and data:
    after staff change any of them, this grades each latest submission again from its file
    (which must still be there, unchanged) and stores a new run; history is kept. Interrupted,
    the same command finishes the rest: what was regraded at this version is not graded again.
    """
    from grader.gradebook import Gradebook
    from grader.grading.batch import Batch, regrade_files
    from grader.grading.jobs import allowed_cpus

    spec = get_assignment(assignment, course_root(ctx))
    with Gradebook.open(db, must_exist=True, check=True, read_only=True if dry_run else None) as gradebook:
        where = gradebook.where
        stale = gradebook.stale(spec.name, spec.version)
    files, skipped = regrade_files(stale)
    if not as_json:
        click.echo(f"{spec.name} is at version {spec.version[:12]}: {len(stale)} latest result(s) were graded with "
                   f"another version, {len(files)} of them can be regraded")
    for result, why in skipped:
        click.echo(f"  cannot regrade {clean_name(result.student)}: {why}", err=True)
    if not files:
        return
    before = {r.student: r for r in stale}
    jobs = jobs or len(allowed_cpus()) or os.cpu_count() or 1

    def with_change(result) -> dict:
        previous = before[result.student].score
        return dict(result.to_json(), previous_score=previous, change=round(result.score - previous, 6))

    with Batch(spec, files, course_root=course_root(ctx), jobs=jobs, require_isolation=not insecure) as batch:
        if dry_run:
            results = collect(batch.results(None, mode="regrade"), total=len(files), label=f"regrading {spec.name}",
                              as_json=as_json, to_json=with_change)
        else:
            with Gradebook.open(db, must_exist=True) as gradebook:
                results = collect(batch.results(gradebook, mode="regrade"), total=len(files),
                                  label=f"regrading {spec.name}", as_json=as_json, to_json=with_change)
    if not as_json:
        for line in change_lines(results, before, dry_run=dry_run, where=where):
            click.echo(line)
    exit_on_grader_faults(ctx, results)


def change_lines(results, before: dict, *, dry_run: bool, where: str) -> list[str]:
    """Whose score changes and by how much, then one line of totals."""
    changed = [(r, before[r.student]) for r in sorted(results, key=lambda r: r.student)
               if abs(r.score - before[r.student].score) > 1e-9 or r.status != before[r.student].status]
    lines = []
    if changed:
        width = min(24, max(len(r.student) for r, _ in changed))
        lines.append(f"  {'student'.ljust(width)}  before  after  change")
        for result, old in changed:
            change = round(result.score - old.score, 6)
            sign = "+" if change >= 0 else ""
            status = f"  ({result.status})" if result.status != old.status else ""
            lines.append(f"  {clean_name(result.student).ljust(width)}  {format_points(old.score):>6}  "
                         f"{format_points(result.score):>5}  {sign}{format_points(change)}{status}")
    same = len(results) - len(changed)
    if dry_run:
        lines.append(f"{len(changed)} score(s) would change, {same} stay the same; nothing stored (--dry-run)")
    else:
        lines.append(f"{len(changed)} score(s) changed, {same} stayed the same; a new run stored for each; "
                     f"gradebook: {where}")
    return lines
