"""Formatting results for people: tables and per-check feedback. The library never prints."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.course.assignment import Assignment
from grader.errors import AssignmentError
from grader.results import SubmissionResult, format_points

MARKS = {"passed": "[green]✓[/green]", "failed": "[red]✗[/red]", "error": "[red]✗[/red]",
         "timeout": "[red]⏱[/red]"}


def console(stderr: bool = False) -> Console:
    # Outside a terminal (a pipe, a CI log, CliRunner) keep lines long and free of colour codes.
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    return Console(stderr=stderr, width=140, no_color=True, highlight=False, emoji=False)



def assignment_table(assignments: list[Assignment]) -> Table:
    table = Table(title="Assignments")
    for column in ("name", "title", "module", "points", "public", "hidden"):
        table.add_column(column, justify="right" if column in ("points", "public", "hidden") else "left")
    for a in assignments:
        try:
            public = a.max_score("public")
            total = a.max_score()
        except AssignmentError as broken:  # list the others; name what is wrong with this one
            table.add_row(a.name, a.title, a.module, f"[red]broken: {escape(str(broken))}[/red]", "", "")
            continue
        table.add_row(a.name, a.title, a.module, format_points(total), format_points(public),
                      format_points(total - public))
    return table


def feedback(out: Console, result: SubmissionResult, *, hidden_checks: int = 0) -> None:
    """Per-check feedback for one submission, as a student reads it."""
    out.print(f"[bold]{escape(result.assignment)}[/bold]: {escape(result.file)} — "
              f"[bold]{format_points(result.score)} / {format_points(result.max_score)}[/bold] points")
    if result.error:
        out.print(f"[red]✗ {escape(result.error)}[/red]")
        out.print("Nothing could be graded: fix this first.")
        return
    for check in result.checks:
        out.print(f" {MARKS.get(check.status, '?')} {escape(check.name)} "
                  f"({format_points(check.score)}/{format_points(check.max_score)})"
                  + (f" — {escape(check.description)}" if check.description else ""))
        if check.message:
            out.print(f"     {escape(check.message)}", soft_wrap=True)
    if result.notes:
        out.print("[yellow]Notes on your file[/yellow] (grading went on regardless):")
        for note in result.notes:
            out.print(f"   • {escape(note.text)}", soft_wrap=True)
    if hidden_checks:
        out.print(f"When graded, {hidden_checks} more hidden check(s) of the same functions run too.")


def _problems(result: SubmissionResult) -> str:
    if result.error:
        return result.error
    wrong = [c.name for c in result.checks if c.status != "passed"]
    if not wrong:
        return ""
    shown = ", ".join(wrong[:3])
    return shown + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")


def summary_table(results: list[SubmissionResult], title: str) -> Table:
    table = Table(title=title)
    table.add_column("student")
    table.add_column("score", justify="right")
    table.add_column("max", justify="right")
    table.add_column("status")
    table.add_column("not passed")
    for r in sorted(results, key=lambda r: r.student):
        status = "unchanged" if r.cached else r.status
        style = "red" if r.status == "error" else ("green" if r.score == r.max_score else "")
        table.add_row(escape(r.student), format_points(r.score), format_points(r.max_score), status,
                      escape(_problems(r)), style=style)
    return table


def validation(out: Console, report) -> None:
    out.print(f"[bold]{escape(report.assignment)}[/bold]: " + ("[green]valid[/green]" if report.ok else "[red]not valid[/red]"))
    for finding in report.findings:
        mark = "[green]✓[/green]" if finding.ok else "[red]✗[/red]"
        out.print(f" {mark} {escape(finding.what)}" + (f" — {escape(finding.detail)}" if finding.detail else ""),
                  soft_wrap=True)


def doctor(out: Console, report) -> None:
    out.print(f"Python {report.python} ({escape(report.python_executable)}), numpy {report.numpy}, "
              f"torch {report.torch}; {escape(report.platform)}")
    out.print(f"Sandbox start-up: {escape(report.startup_mode)}")
    out.print(f"Identity: {report.identity_mode}" + (f"; one sandbox takes {report.sandbox_ms:g} ms to fork, "
                                                     "run and reap" if report.sandbox_ms else ""))
    table = Table(title="Isolation layers")
    table.add_column("layer")
    table.add_column("here")
    table.add_column("detail")
    for layer in report.layers:
        table.add_row(escape(layer.title), "[green]yes[/green]" if layer.available else "[red]no[/red]",
                      escape(layer.detail))
    out.print(table)
    if report.isolated:
        out.print("All required layers work: grader grade runs fully isolated here.")
    else:
        out.print(f"[red]Missing: {', '.join(report.missing_names)}[/red]. grader grade refuses to run here "
                  "unless given --insecure; grader check runs with a warning.")
