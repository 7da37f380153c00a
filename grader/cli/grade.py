"""``grader grade``: a TA grades a class into the gradebook."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from grader.cli.app import CONTEXT, course_root
from grader.course.assignment import get_assignment
from grader.errors import GradebookError, GraderError

#: ``grader grade`` finished, but some submissions could not be graded because of the grader.
EXIT_GRADER_FAULTS = 3
LAYOUT_CHOICES = ("auto", "plain", "canvas", "moodle", "gradescope", "nbgrader")
#: Lines of each kind of warning shown above the summary (``--dry-run`` shows them all).
SHOWN_PER_KIND = 5
#: Files left out that nobody needs to hear about outside ``--dry-run``: hidden files and tool folders.
QUIET = ("hidden", "system")


@click.command(context_settings=CONTEXT)
@click.argument("assignment")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", default="gradebook.db", show_default=True,
              help="Gradebook: a SQLite file path or any SQLAlchemy URL.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per submission per line on stdout (warnings first, as records of their own).")
@click.option("--dry-run", is_flag=True,
              help="Show the plan: each student's file and why, every file left out and why; grade nothing.")
@click.option("--layout", type=click.Choice(LAYOUT_CHOICES), default="auto", show_default=True,
              help="How PATHS are laid out (an LMS download, a folder per student, ...) [default: detected].")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path),
              help="An LMS gradebook export (CSV) mapping student names to ids.")
@click.option("--unpack-to", type=click.Path(file_okay=False, path_type=Path),
              help="Unpack .zip archives here [default: <archive>.unpacked/ beside each].")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once [default: the number of CPUs it may use, or 1 for a "
                   "small batch (under 40 files, or 2 for assignments with torch)].")
@click.option("--force", is_flag=True, help="Regrade submissions whose content was graded before "
                                            "(an interrupted --force resumes where it stopped).")
@click.option("--insecure", is_flag=True,
              help="Grade even if this host does not allow the sandbox's namespace layers (trusted files only).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write JUnit XML here: a testsuite per submission, a testcase per check.")
@click.option("--submitted-at", help="Submission time of every file (ISO 8601), for late penalties.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV with columns student,file,submitted_at: each submission's time (and its student).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Grade on this Dask cluster instead of local processes (pip install 'grader[dask]'; "
                   "workers need the course folder at the same path or $GRADER_COURSE).")
@click.pass_context
def grade(ctx: click.Context, assignment: str, paths: tuple[Path, ...], db: str, as_json: bool, dry_run: bool,
          layout: str, roster: Path | None, unpack_to: Path | None, jobs: int | None, force: bool, insecure: bool,
          junit: Path | None, submitted_at: str | None, manifest: Path | None, scheduler: str | None) -> None:
    """Grade submissions (files, folders, LMS .zip downloads) with all checks into the gradebook.

    One file per student is graded, chosen by stated rules (--dry-run shows each choice and
    every file left out). Submission times come from --submitted-at, else --manifest, else the
    LMS, else each file's modification time. Exits 0 once everything is graded, whatever the
    scores; 3 when some submissions could not be graded because of the grader.
    """
    from grader.grading.batch import Batch
    from grader.intake.plan import plan_submissions
    from grader.course.lateness import parse_moment
    from grader.grading.jobs import default_jobs

    spec = get_assignment(assignment, course_root(ctx))
    plan = plan_submissions(
        list(paths), module=spec.module, assignment=spec.name, layout=layout, roster=roster, manifest=manifest,
        submitted_at=parse_moment(submitted_at, what="--submitted-at") if submitted_at else None,
        stub=spec.stub_path.read_bytes() if spec.stub_path.is_file() else None, unpack_to=unpack_to,
        late_penalties=spec.late_policy is not None)
    if dry_run:
        _show_plan(plan, spec, as_json)
        return
    if not plan.files:
        raise GraderError(f"no .py or .ipynb submissions found in {', '.join(map(str, paths))}"
                          + (" (--dry-run lists what was found)" if plan.ignored else ""))
    if as_json:
        for record in warning_records(plan):
            click.echo(json.dumps(record))
    jobs = jobs or default_jobs(spec, len(plan.files))
    # Without --insecure the sandboxes refuse to start, with one line why, where student code
    # would not be isolated; nothing is graded then. A broken checks.py or reference fails
    # the same way, before any grading.
    with Batch(spec, plan.files, course_root=course_root(ctx), jobs=jobs, scheduler=scheduler,
               require_isolation=not insecure) as batch:
        from grader.reports import terminal as present  # while the graders start
        from grader.gradebook import Gradebook

        with Gradebook.open(db) as gradebook:
            if gradebook.read_only:
                raise GradebookError(f"the gradebook {gradebook.where} cannot be written (read-only); grade into "
                                     "a copy of it, or make it writable")
            results = collect(batch.results(gradebook, force=force), total=len(plan.files),
                              label=f"grading {spec.name}", as_json=as_json)
    if junit:
        from grader.reports.junit import junit_xml

        junit.write_text(junit_xml(results, assignment=spec.name))
    if not as_json:
        out = present.console()
        for line in warning_block(plan):
            click.echo(line)
        out.print(present.summary_table(results, f"{spec.title} ({spec.name})"))
        for line in summary_lines(results, spec, gradebook.where):
            click.echo(line)
    exit_on_grader_faults(ctx, results)


def collect(stream, *, total: int, label: str, as_json: bool, to_json=None) -> list:
    """The results of ``stream``: with a progress bar on a terminal, or each as a JSON line."""
    from grader.reports import terminal as present

    results = []
    err = present.console(stderr=True)
    if not as_json and err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err) as progress:
            task = progress.add_task("grading", total=total)
            for result in stream:
                results.append(result)
                progress.advance(task)
        return results
    for result in stream:
        results.append(result)
        if as_json:
            click.echo(json.dumps(to_json(result) if to_json else result.to_json()))
    return results


def exit_on_grader_faults(ctx: click.Context, results) -> None:
    """Exit ``EXIT_GRADER_FAULTS`` with one line when the grader failed on some submissions."""
    faulty = sum(1 for r in results if r.fault == "grader" and not r.cached)
    if faulty:
        click.echo(f"{faulty} submission(s) could not be graded because of the grader, not the students: the "
                   "grader's log (above, on stderr) has the details; rerun the same command to grade them again "
                   f"(exit code {EXIT_GRADER_FAULTS})", err=True)
        ctx.exit(EXIT_GRADER_FAULTS)


def summary_lines(results, spec, where: str) -> list[str]:
    """The lines under the summary table: what was graded, and what to do about the rest."""
    unchanged = [r for r in results if r.cached]
    line = f"{len(results) - len(unchanged)} graded"
    if unchanged:
        line += f", {len(unchanged)} unchanged since their last grading (use --force to regrade)"
    lines = [f"{line}; gradebook: {where}"]
    older = sum(1 for r in unchanged if r.assignment_version != spec.version)
    if older:
        lines.append(f"{older} unchanged result(s) were graded with another version of {spec.name} (its checks, "
                     f"reference or settings changed since): grader regrade {spec.name} --dry-run shows what changes")
    mtimes = sum(1 for r in results if r.submitted_at_source == "mtime")
    if mtimes and spec.late_policy is not None:
        lines.append(f"{mtimes} submission time(s) are files' modification times, which students can set (in a "
                     "zip, say): give trusted times with --manifest")
    return lines


def _shown(plan, file) -> str:
    from grader.intake.plan import with_shown

    return with_shown(file, plan)


def warning_records(plan) -> list[dict]:
    """``--json``'s records of the plan: ``{"warning": text, "kind": code, "student", "file"}``;
    files left out are ``kind: "ignored"`` with their ``reason`` code."""
    records = [{"warning": n.message, "kind": n.kind, "student": n.student, "file": n.file} for n in plan.notices]
    records += [{"warning": f"ignored {i.shown}: {i.reason}", "kind": "ignored", "reason": i.kind,
                 "student": i.student, "file": i.shown} for i in _worth_telling(plan)]
    return records


def _worth_telling(plan) -> list:
    return sorted((i for i in plan.ignored if i.kind not in QUIET), key=lambda i: i.shown)


def warning_block(plan) -> list[str]:
    """A short block of what the TA should know, above the summary table."""
    notices = [n for n in plan.notices if n.kind not in ("unpacked", "renamed")]
    lines = []
    for kind, count in Counter(n.kind for n in notices).items():
        of_kind = [n for n in notices if n.kind == kind]
        lines += [f"  ! {n.message}" for n in of_kind[:SHOWN_PER_KIND]]
        if count > SHOWN_PER_KIND:
            lines.append(f"  ! ... and {count - SHOWN_PER_KIND} more like these")
    listed = _worth_telling(plan)
    if listed:
        lines.append(f"  {len(listed)} file(s) left out:")
        lines += [f"    {i.shown}: {i.reason}" for i in listed[:SHOWN_PER_KIND]]
        if len(listed) > SHOWN_PER_KIND:
            lines.append(f"    ... and {len(listed) - SHOWN_PER_KIND} more")
    if lines:
        lines.insert(0, "Before the grades (--dry-run shows every choice and every file left out):")
    return lines


def _show_plan(plan, spec, as_json: bool) -> None:
    if as_json:
        for record in warning_records(plan):
            click.echo(json.dumps(record))
        for file in plan.files:
            click.echo(json.dumps({"student": file.student, "name": file.name, "file": _shown(plan, file),
                                   "reason": file.reason if file.problem is None else None, "error": file.problem,
                                   "submitted_at": file.submitted_at.isoformat() if file.submitted_at else None,
                                   "submitted_at_source": file.submitted_at_source, "late_by_lms": file.late_by_lms}))
        return
    for line in plan_lines(plan, spec):
        click.echo(line)


def plan_lines(plan, spec) -> list[str]:
    """The plan for people: sources, each student's file and why, what is left out and why."""
    from grader.text import clean_name

    lines = [f"Plan for {spec.name} ({clean_name(spec.title)}): {len(plan.files)} student(s), "
             f"{len(plan.problems)} of them with an error (nothing graded: --dry-run)"]
    for source in plan.sources:
        lines.append(f"  {clean_name(str(source.path), 500)}: read as {source.layout}")
    lines += [f"  {n.message}" for n in plan.notices if n.kind in ("unpacked", "renamed")]
    lines.append("")
    lines.append("To grade:")

    def who(file) -> str:
        return clean_name(file.student) + (f" ({clean_name(file.name)})" if file.name else "")

    width = min(32, max((len(who(f)) for f in plan.files), default=7))
    for file in plan.files:
        student = who(file).ljust(width)
        if file.problem is not None:
            lines.append(f"  {student}  ERROR: {file.problem}")
            continue
        when = (f" [submitted {file.submitted_at.isoformat(timespec='minutes')}, from {file.submitted_at_source}]"
                if file.submitted_at else (" [LATE, per the LMS]" if file.late_by_lms else ""))
        lines.append(f"  {student}  {_shown(plan, file)}  ({file.reason}){when}")
    if plan.ignored:
        lines.append("")
        lines.append(f"Left out ({len(plan.ignored)}):")
        lines += [f"  {i.shown}: {i.reason}" for i in sorted(plan.ignored, key=lambda i: i.shown)]
    warnings = [n for n in plan.notices if n.kind not in ("unpacked", "renamed", "ambiguous", "nothing_to_grade")]
    if warnings:
        lines.append("")
        lines.append("Warnings:")
        lines += [f"  ! {n.message}" for n in warnings]
    return lines
