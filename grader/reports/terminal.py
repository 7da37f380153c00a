"""Formatting results for people: tables and per-check feedback. The library never prints.

Student text reaches a TA's or a student's terminal only as ``rich.text.Text`` built by
``plain``: control characters (ESC, BEL, NUL, CR…) are stripped again here, at render time,
because gradebook rows stored before text was cleaned may still hold them, and a ``Text`` is
never parsed for markup (``[red]``, ``[link=…]``) or emoji codes. Everything printed is
``Text`` (rich highlights only strings) and the consoles highlight nothing, so neither a
student's message nor our own sentences pick up colours on ``(d,)``, ``step(0)`` or numbers.
Our own markup (marks, colours) is built as styles on ``Text``, never by formatting student
text into markup.

On a terminal, feedback is word-wrapped at its width with a hanging indent: a check's
continuation lines start under its name, its message under the message's first column, so
the marks stay alone in their column. A console with ``soft_wrap`` (``console()`` outside a
terminal: a pipe, a CI log) gets one line per message, whole, for grep and diff.
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
#: Columns before a check's name (`` ✓ ``), a check's message, a note's text (``   • ``).
CHECK_INDENT, MESSAGE_INDENT, NOTE_INDENT = 3, 5, 5
#: Narrowest text column wrapping goes down to, however narrow the terminal.
MIN_COLUMN = 20


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
    return Console(stderr=stderr, width=140, no_color=True, highlight=False, emoji=False, soft_wrap=True)


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


def hanging(out: Console, first: Text | str, body: Text, *, indent: int | None = None) -> None:
    """Print ``first`` then ``body``, word-wrapped at the console's width, every further line
    (the body's own lines too) starting ``indent`` columns in (default: under the body's start)."""
    first = Text(first) if isinstance(first, str) else first
    indent = first.cell_len if indent is None else indent
    if out.soft_wrap:  # not a terminal: the message whole, its own lines indented
        lines = body.split("\n", allow_blank=True)
    else:
        lines = body.wrap(out, max(out.width - indent, MIN_COLUMN))
    for number, line in enumerate(lines):
        line.rstrip()
        start = first if number == 0 else Text(" " * indent)
        out.print(Text.assemble(start, line), soft_wrap=True, highlight=False, markup=False, emoji=False)


def _place(out: Console, where, text: str, indent: int) -> None:
    """``↳ In [9], line 2: the line`` under a message: the student's line it points at (or a cell's
    first line), unless the message already quotes it."""
    if where is None or not where.source or where.source in text:
        return
    hanging(out, Text(" " * indent + "↳ ", style="dim"),
            Text.assemble(plain(where.label, multiline=False), ": ", plain(where.source, multiline=False)))


def feedback(out: Console, result: SubmissionResult, *, hidden_checks: int = 0) -> None:
    """Per-check feedback for one submission, as a student reads it."""
    hanging(out, "", _line(plain(result.assignment, style="bold", multiline=False), ": ",
                           plain(result.file, multiline=False), " — ",
                           (f"{format_points(result.score)} / {format_points(result.max_score)}", "bold"), " points"),
            indent=2)
    if result.error:
        hanging(out, Text("✗ ", style="red"), plain(result.error, style="red"))
        _place(out, result.error_where, result.error, 2)
        hanging(out, "", Text("Nothing could be graded: fix this first."))
        return
    for check in result.checks:
        mark, colour = MARKS.get(check.status, ("?", ""))
        head = _line(plain(check.name, multiline=False),
                     f" ({format_points(check.score)}/{format_points(check.max_score)})")
        if check.description:
            head.append_text(_line(" — ", plain(check.description, multiline=False)))
        hanging(out, _line(" ", (mark, colour), " "), head, indent=CHECK_INDENT)
        if check.message:
            hanging(out, " " * MESSAGE_INDENT, plain(check.message))
            _place(out, check.where, check.message, MESSAGE_INDENT)
    if result.notes:
        hanging(out, "", _line(("Notes on your file", "yellow"), " (grading went on regardless):"))
        for note in result.notes:
            hanging(out, "   • ", plain(note.text), indent=NOTE_INDENT)
            _place(out, note.where, note.text, NOTE_INDENT)
    if hidden_checks:
        hanging(out, "", Text(f"When graded, {hidden_checks} more hidden check(s) of the same functions run too."))


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
        line = plain(finding.what)
        if finding.detail:
            line.append_text(_line(" — ", plain(finding.detail)))
        hanging(out, _line(" ", mark, " "), line, indent=CHECK_INDENT)


def doctor(out: Console, report) -> None:
    out.print(_line(f"Python {report.python} (", plain(report.python_executable, multiline=False),
                    f"), numpy {report.numpy}, torch {report.torch}; ", plain(report.platform, multiline=False)))
    out.print(_line("Sandbox start-up: ", plain(report.startup_mode, multiline=False)))
    out.print(Text(f"Identity: {report.identity_mode}" + (f"; one sandbox takes {report.sandbox_ms:g} ms to fork, "
                                                          "run and reap" if report.sandbox_ms else "")))
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
        out.print(Text("All required layers work: grader grade runs fully isolated here."))
    else:
        out.print(Text(f"Missing: {', '.join(report.missing_names)}. grader grade refuses to run here "
                       "unless given --insecure; grader check runs with a warning.", style="red"))
