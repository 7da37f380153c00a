"""Formatting results for people: tables and per-check feedback. The library never prints.

Student text reaches a TA's or a student's terminal only as ``rich.text.Text`` built by
``plain``: control characters (ESC, BEL, NUL, CR…) are stripped again here, at render time,
because gradebook rows stored before text was cleaned may still hold them, and a ``Text`` is
never parsed for markup (``[red]``, ``[link=…]``) or emoji codes. The consoles highlight
nothing, so a student's message cannot pick up colours either. Our own markup (marks,
colours) is built as styles on ``Text``, never by formatting student text into markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.course.assignment import Assignment
from grader.errors import AssignmentError
from grader.results import SubmissionResult, format_points
from grader.text import MESSAGE_LIMIT, clean

MARKS = {"passed": ("✓", "green"), "failed": ("✗", "red"), "error": ("✗", "red"), "timeout": ("⏱", "red")}


def plain(text, *, style: str = "", multiline: bool = True, limit: int = MESSAGE_LIMIT) -> Text:
    """``text`` as terminal-safe ``Text``: valid Unicode, no control characters or escape
    sequences, no markup parsed; ``multiline=False`` also folds newlines into spaces."""
    return Text(clean(text, limit, multiline=multiline), style=style)


def console(stderr: bool = False) -> Console:
    # Outside a terminal (a pipe, a CI log, CliRunner) keep lines long and free of colour codes.
    # highlight=False everywhere: rich's highlighter would colour numbers, paths and URLs in
    # whatever a student's message contains.
    probe = Console(stderr=stderr, highlight=False)
    if probe.is_terminal:
        return probe
    return Console(stderr=stderr, width=140, no_color=True, highlight=False, emoji=False)


def _line(*parts) -> Text:
    """A line assembled from ``Text`` pieces and (our own, literal) strings or (string, style) pairs."""
    return Text.assemble(*parts)


def assignment_table(assignments: list[Assignment]) -> Table:
    table = Table(title="Assignments")
    for column in ("name", "title", "module", "points", "public", "hidden"):
        table.add_column(column, justify="right" if column in ("points", "public", "hidden") else "left")
    for a in assignments:
        names = (plain(a.name, multiline=False), plain(a.title, multiline=False), plain(a.module, multiline=False))
        try:
            public = a.max_score("public")
            total = a.max_score()
        except AssignmentError as broken:  # list the others; name what is wrong with this one
            table.add_row(*names, plain(f"broken: {broken}", style="red", multiline=False), "", "")
            continue
        table.add_row(*names, format_points(total), format_points(public), format_points(total - public))
    return table


def feedback(out: Console, result: SubmissionResult, *, hidden_checks: int = 0) -> None:
    """Per-check feedback for one submission, as a student reads it."""
    out.print(_line(plain(result.assignment, style="bold", multiline=False), ": ",
                    plain(result.file, multiline=False), " — ",
                    (f"{format_points(result.score)} / {format_points(result.max_score)}", "bold"), " points"))
    if result.error:
        out.print(_line(("✗ ", "red"), plain(result.error, style="red")))
        out.print("Nothing could be graded: fix this first.", markup=False)
        return
    for check in result.checks:
        mark, colour = MARKS.get(check.status, ("?", ""))
        line = _line(" ", (mark, colour), " ", plain(check.name, multiline=False),
                     f" ({format_points(check.score)}/{format_points(check.max_score)})")
        if check.description:
            line.append_text(_line(" — ", plain(check.description, multiline=False)))
        out.print(line)
        if check.message:
            out.print(_line("     ", plain(check.message)), soft_wrap=True)
    if result.notes:
        out.print(_line(("Notes on your file", "yellow"), " (grading went on regardless):"))
        for note in result.notes:
            out.print(_line("   • ", plain(note.text)), soft_wrap=True)
    if hidden_checks:
        out.print(f"When graded, {hidden_checks} more hidden check(s) of the same functions run too.", markup=False)


def _problems(result: SubmissionResult) -> str:
    if result.error:
        return result.error
    wrong = [c.name for c in result.checks if c.status != "passed"]
    if not wrong:
        return ""
    shown = ", ".join(wrong[:3])
    return shown + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")


def summary_table(results: list[SubmissionResult], title: str) -> Table:
    table = Table(title=plain(title, multiline=False))
    table.add_column("student")
    table.add_column("score", justify="right")
    table.add_column("max", justify="right")
    table.add_column("status")
    table.add_column("not passed")
    for r in sorted(results, key=lambda r: r.student):
        status = "unchanged" if r.cached else r.status
        style = "red" if r.status == "error" else ("green" if r.score == r.max_score else "")
        table.add_row(plain(r.student, multiline=False), format_points(r.score), format_points(r.max_score),
                      plain(status, multiline=False), plain(_problems(r), multiline=False), style=style)
    return table


def validation(out: Console, report) -> None:
    verdict = ("valid", "green") if report.ok else ("not valid", "red")
    out.print(_line(plain(report.assignment, style="bold", multiline=False), ": ", verdict))
    for finding in report.findings:
        mark = ("✓", "green") if finding.ok else ("✗", "red")
        line = _line(" ", mark, " ", plain(finding.what))
        if finding.detail:
            line.append_text(_line(" — ", plain(finding.detail)))
        out.print(line, soft_wrap=True)


def doctor(out: Console, report) -> None:
    out.print(_line(f"Python {report.python} (", plain(report.python_executable, multiline=False),
                    f"), numpy {report.numpy}, torch {report.torch}; ", plain(report.platform, multiline=False)))
    out.print(_line("Sandbox start-up: ", plain(report.startup_mode, multiline=False)))
    out.print(f"Identity: {report.identity_mode}" + (f"; one sandbox takes {report.sandbox_ms:g} ms to fork, "
                                                     "run and reap" if report.sandbox_ms else ""), markup=False)
    table = Table(title="Isolation layers")
    table.add_column("layer")
    table.add_column("here")
    table.add_column("detail")
    for layer in report.layers:
        table.add_row(plain(layer.title, multiline=False),
                      Text("yes", style="green") if layer.available else Text("no", style="red"),
                      plain(layer.detail))
    out.print(table)
    if report.isolated:
        out.print("All required layers work: grader grade runs fully isolated here.", markup=False)
    else:
        out.print(Text(f"Missing: {', '.join(report.missing_names)}. grader grade refuses to run here "
                       "unless given --insecure; grader check runs with a warning.", style="red"))
