"""A student's report as Markdown (``<student>.md``, the annotated notebook's feedback cells).

Student text never renders as Markdown or HTML: messages and notes go into code spans, the
printed output into a fence longer than any run of backticks in it, and anything else through
``md_text``, which escapes what could make a link, a tag or a code span.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from grader.reports.model import MARKS, CheckFeedback, Marked, Report, lateness_text, score_text
from grader.results import format_points


def cell_anchor(cell: int) -> str:
    """The fragment of a cell in the annotated notebook's HTML (nbconvert's ``cell-id=<id>``)."""
    return f"cell-id=cell-{cell}"


def md_code(text: str) -> str:
    """``text`` as a Markdown code span: shown literally, never parsed as Markdown or HTML."""
    text = " ".join(text.split("\n")).strip() or " "
    ticks = max((len(run) for run in re.findall(r"`+", text)), default=0) + 1
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{'`' * ticks}{pad}{text}{pad}{'`' * ticks}"


def md_text(text: str) -> str:
    """Plain text safe inside Markdown: no HTML tag, link or code span can come out of it."""
    text = re.sub(r"([\\`\[\]])", r"\\\1", " ".join(text.split()))
    return text.replace("<", "&lt;")  # an entity, not ``\<``: not every renderer knows that escape


def md_fence(text: str) -> str:
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`{3,}", text)), default=0) + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _where_md(marked: Marked, notebook_href: str | None) -> str:
    """``at **[cell 4, line 3](nb.html#…)**: `the line` `` for a marked text with a place, else ''."""
    where = marked.where
    if where is None:
        return ""
    label = f"**{md_text(where.label)}**"
    if notebook_href is not None and where.cell is not None:
        label = f"[{label}]({notebook_href}#{cell_anchor(where.cell)})"
    return f"at {label}" + (f": {md_code(marked.excerpt)}" if marked.excerpt else "")


def lines_md(first: str, marked: Marked | None, notebook_href: str | None) -> list[str]:
    """``first``, then the marked text in a code span and where it points, on lines of their own
    (hard breaks: two trailing spaces) indented to stay in the list item ``first`` starts."""
    lines = [first]
    if marked is not None:
        lines.append(f"  {md_code(marked.text)}")
        where = _where_md(marked, notebook_href)
        if where:
            lines.append(f"  ↳ {where}")
    return [line + "  " for line in lines[:-1]] + lines[-1:]


def notes_md(notes: list[Marked], notebook_href: str | None) -> list[str]:
    lines = []
    for note in notes:
        where = _where_md(note, notebook_href)
        lines.append(f"- {md_code(note.text)}" + (f"  \n  ↳ {where}" if where else ""))
    return lines


def check_md(check: CheckFeedback, notebook_href: str | None) -> list[str]:
    head = f"- {MARKS[check.passed]} **{check.name}** ({format_points(check.score)}/{format_points(check.max_score)})"
    if check.hidden:
        head += " — hidden check" + ("" if check.passed else ", not passed")
    else:
        if check.outcome not in ("passed", "failed"):
            head += f" — {check.outcome}"
        if check.description:
            head += f" — {md_text(check.description)}"
    return lines_md(head, check.message, notebook_href)


def render_markdown(report: Report, *, notebook_href: str | None = None) -> str:
    """The report as Markdown. ``notebook_href`` is the annotated notebook's HTML, if written."""
    lines = [f"# {md_text(report.title)}: feedback for {md_text(report.student)}", ""]
    lines.append(f"**Score: {score_text(report)}** "
                 f"for {md_code(report.file_name)}" + (f", graded {report.graded_at}" if report.graded_at else ""))
    lateness = lateness_text(report)
    if lateness:
        lines += ["", f"**Late:** {md_text(lateness)}"]
    if notebook_href:
        lines += ["", f"Your notebook with this feedback after each function: [{md_text(notebook_href)}]({quote(notebook_href)})"]
    if report.error is not None:
        lines += [""] + lines_md("✗ **Your file could not be graded:**", report.error, None)
        lines += ["", "Nothing could be graded: fix this first."]
    lines += ["", "## Checks", ""]
    for check in report.checks:
        lines += check_md(check, notebook_href)
    hidden = [c for c in report.checks if c.hidden]
    if hidden:
        lines += ["", f"Hidden checks ({len(hidden)}) show only whether they passed, not why."]
    if report.notes:
        lines += ["", "## Notes on your file", "", "Grading went on regardless.", ""]
        lines += notes_md(report.notes, notebook_href)
    if report.output:
        more = f" (first {len(report.output)} characters; {report.output_omitted} more not shown)" if report.output_omitted else ""
        lines += ["", "## What your code printed", "", "<details><summary>Show the output"
                  f"{html.escape(more)}</summary>", "", md_fence(report.output), "", "</details>"]
    return "\n".join(lines) + "\n"
