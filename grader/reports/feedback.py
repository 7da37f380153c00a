"""Feedback students read: one report per student, and their notebook annotated.

For each stored result this writes, into an output folder:

    <student>.md               the report as Markdown
    <student>.html             the same report as a standalone HTML page
    <student>.notebook.ipynb   (notebook submissions) a copy of the student's notebook with a
    <student>.notebook.html    feedback cell after each graded function's cell, and its HTML

The report gives the score (and lateness, when the result carries it), each check with
✓/✗, its points and message, the place in the submission a failure points at (``cell 4,
line 3`` becomes a link to that cell of the annotated notebook, with the student's line
quoted) and, if asked for, the student's own printed output, collapsed and capped.

Rules that hold everywhere here:

- Hidden checks show their name, points and pass/fail only. Their message, description and
  status detail are never rendered, not even escaped: a message can quote hidden inputs.
- Student-controlled text (messages, notes, output, file names, the notebook) is escaped
  in HTML and put in code spans in Markdown; control characters are dropped (a report
  ``cat`` in a terminal cannot carry escape sequences). The annotated notebook's HTML is
  sanitised: scripts in the student's markdown or saved outputs do not survive.
- The student's printed output is left out unless asked for: it is one stream for the whole
  run, so a function that prints its arguments would print the hidden checks' inputs too.
- Nothing runs the student's code or the notebook; the library never prints.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import html
import inspect
import re
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote

import nbformat

from grader.errors import GradebookError
from grader.intake.notebook import NotebookError, neutralise_ipython, read_notebook
from grader.results import CheckResult, SubmissionResult, format_points
from grader.intake.submission import content_hash

#: Characters of the student's printed output a report shows; the rest is counted, not shown.
OUTPUT_LIMIT = 4000
#: Characters of one quoted source line.
EXCERPT_LIMIT = 160

MARKS = {True: "✓", False: "✗"}

# "(cell 4, line 3)", "(cell 4)", "(perceptron.py, line 12)": where a student exception was raised.
_WHERE = re.compile(r"\((?P<text>(?:cell (?P<cell>\d+)|(?P<file>[^\s(),][^(),]*?\.py))(?:, line (?P<line>\d+))?)\)")
# "cell 10: ..." / "line 12: ...": the label a note about one cell or statement starts with.
_LABEL = re.compile(r"^(?P<text>cell (?P<cell>\d+)|line (?P<line>\d+))(?=:)")
# "SyntaxError at line 5": a line of the file, or of the cell named by the label.
_AT_LINE = re.compile(r"\bat (?P<text>line (?P<line>\d+))\b")
# A message that names the student function it called: "step(0.0): ...", "extend() raised ...".
_CALLED = re.compile(r"^(?P<name>[A-Za-z_]\w*)\(")
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Where installed packages live ("/…/site-packages/numpy/x.py" is shown as "numpy/x.py"), and
# the grader's own folder (shown as "<grader>"): a warning or stack the student prints names them.
_SITE_PACKAGES = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\"':]*[\\/])?(?:site|dist)-packages[\\/]")
_GRADER_DIR = str(Path(__file__).resolve().parent.parent)


# --- data -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Location:
    """A place in the submission that a message points at."""

    #: The words as they appear in the message: ``cell 4, line 3``, ``line 12``.
    text: str
    #: Notebook cell number (1-based among all cells, as grading numbers them), or None.
    cell: int | None = None
    #: Line within the cell, or within the ``.py`` file; None if unknown.
    line: int | None = None


@dataclass
class Marked:
    """A piece of student-facing text with the place it points at, if any."""

    text: str
    #: Where the text points in the submission (the most precise place it names).
    location: Location | None = None
    #: The student's own source line at ``location``, stripped; empty if unknown.
    excerpt: str = ""


@dataclass
class CheckFeedback:
    """One check as a student may see it."""

    name: str
    score: float
    max_score: float
    passed: bool
    hidden: bool
    #: ``passed``, ``failed``, ``error`` or ``timed out``; hidden checks only ``passed``/``failed``.
    outcome: str
    #: What the check is about; empty for hidden checks.
    description: str = ""
    #: Why it did not pass, with the place it points at; None when passed or hidden.
    message: Marked | None = None
    #: Student functions this check exercises, most specific first (for placing it in the notebook).
    functions: tuple[str, ...] = ()


@dataclass
class Report:
    """Everything one student's feedback shows, already filtered for hidden checks."""

    student: str
    assignment: str
    #: The assignment's title (its name if the course is not at hand).
    title: str
    #: The submitted file's name (not its path on the grading machine).
    file_name: str
    score: float
    max_score: float
    #: Why the file could not be graded at all, or None.
    error: Marked | None
    checks: list[CheckFeedback]
    #: Cells or statements that raised, hung or were skipped.
    notes: list[Marked]
    #: The student's printed output, control characters removed, at most ``OUTPUT_LIMIT`` characters.
    output: str
    #: Characters of output not shown.
    output_omitted: int
    graded_at: str | None = None
    submitted_at: str | None = None
    days_late: float = 0.0
    #: Points deducted for lateness.
    penalty: float = 0.0
    #: True for a ``.ipynb`` submission.
    is_notebook: bool = False


@dataclass
class Written:
    """What ``write_feedback`` wrote for one student."""

    student: str
    paths: list[Path] = field(default_factory=list)
    #: Things the TA should know (e.g. the notebook could not be annotated), one line each.
    warnings: list[str] = field(default_factory=list)


# --- reading the submission -----------------------------------------------------------------------

class SubmissionSource:
    """The graded file, if it is still there unchanged: its lines, or its notebook's cells."""

    def __init__(self, path: Path, *, notebook=None, lines: list[str] | None = None):
        self.path = path
        self.notebook = notebook
        self._lines = lines or []

    @classmethod
    def load(cls, result: SubmissionResult) -> tuple["SubmissionSource | None", str]:
        """The source of ``result``'s file, or None and why it cannot be used."""
        path = Path(result.file)
        try:
            data = path.read_bytes()
        except OSError:
            hint = "" if path.is_absolute() else " (the path is relative to the folder grading ran in)"
            return None, f"{result.file} is no longer there{hint}"
        if result.content_hash and content_hash(data) != result.content_hash:
            return None, f"{result.file} has changed since it was graded"
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None, f"{result.file} is not UTF-8 text"
        if path.suffix == ".ipynb":
            try:
                return cls(path, notebook=read_notebook(text)), ""
            except NotebookError as exc:
                return None, f"{result.file} is not a readable notebook ({exc})"
        return cls(path, lines=text.splitlines()), ""

    def cell_source(self, number: int) -> str:
        cells = self.notebook.cells if self.notebook is not None else []
        if not 1 <= number <= len(cells):
            return ""
        source = cells[number - 1].get("source", "")
        return "".join(source) if isinstance(source, list) else source

    def line(self, location: Location) -> str:
        if location.line is None:
            return ""
        if location.cell is not None:
            lines = self.cell_source(location.cell).splitlines()
        else:
            lines = self._lines
        if not 1 <= location.line <= len(lines):
            return ""
        text = _printable(lines[location.line - 1]).strip()
        return text if len(text) <= EXCERPT_LIMIT else text[:EXCERPT_LIMIT - 1] + "…"


def defined_functions(notebook) -> dict[str, int]:
    """Top-level functions and classes a notebook defines, each with the number of its defining cell.

    Cells are numbered from 1 among all cells, as grading numbers them; when a name is
    defined twice, the later cell wins (it is the definition that ran last).
    """
    found: dict[str, int] = {}
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        tree = _parse(source)
        if tree is None:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[node.name] = number
    return found


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    neutral, _ = neutralise_ipython(source)
    if neutral is None:
        return None
    try:
        return ast.parse(neutral)
    except (SyntaxError, ValueError):
        return None


# --- which functions a check exercises ----------------------------------------------------------

def student_calls(function) -> list[str]:
    """Names a check calls as ``<ctx>.student.NAME``, in source order ([] if its source is unavailable)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, ValueError):
        return []
    calls = [(node.lineno, node.col_offset, node.attr) for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
             and node.value.attr == "student"]
    return list(dict.fromkeys(name for *_, name in sorted(calls)))


def _name_mentions(check_name: str, function: str) -> bool:
    """True if the check's name contains the function's name as whole words (``activation`` in
    ``all_seven_activations``, ``step`` in ``step_is_strict``, not in ``stepsize``)."""
    words = check_name.lower().split("_")
    wanted = function.lower().strip("_").split("_")
    for start in range(len(words) - len(wanted) + 1):
        window = words[start:start + len(wanted)]
        if window[:-1] == wanted[:-1] and window[-1] in (wanted[-1], wanted[-1] + "s"):
            return True
    return False


def _functions_for(check: CheckResult, calls: Sequence[str], candidates: Iterable[str]) -> tuple[str, ...]:
    """The functions a check relates to, most specific first: the one its (public) message
    starts by calling, those its source calls, those its name mentions."""
    ordered: list[str] = []
    if check.visibility != "hidden":
        called = _CALLED.match(check.message or "")
        if called:
            ordered.append(called.group("name"))
    ordered += calls
    ordered += sorted((f for f in candidates if _name_mentions(check.name, f)), key=len, reverse=True)
    return tuple(dict.fromkeys(ordered))


# --- building the report ----------------------------------------------------------------------------

def _printable(text: str) -> str:
    """Student-facing text without control characters (ANSI escapes included) or the grading
    machine's install paths."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    return _SITE_PACKAGES.sub("", text).replace(_GRADER_DIR, "<grader>")


def locate(text: str) -> list[tuple[int, int, Location]]:
    """Spans of ``text`` that name a place in the submission, as (start, end, location), in order.

    ``(cell 4, line 3)`` and ``(file.py, line 12)`` (where a student exception was raised), a
    leading ``cell 10:`` or ``line 12:`` label (notes), and ``at line 5`` (syntax errors; of the
    labelled cell, if any).
    """
    spans: list[tuple[int, int, Location]] = []
    label = _LABEL.match(text)
    label_cell = None
    if label:
        label_cell = int(label["cell"]) if label["cell"] else None
        line = int(label["line"]) if label["line"] else None
        spans.append((label.start("text"), label.end("text"), Location(label["text"], label_cell, line)))
    for match in _AT_LINE.finditer(text):
        spans.append((match.start("text"), match.end("text"),
                      Location(match["text"], label_cell, int(match["line"]))))
    for match in _WHERE.finditer(text):
        cell = int(match["cell"]) if match["cell"] else None
        line = int(match["line"]) if match["line"] else None
        spans.append((match.start("text"), match.end("text"), Location(match["text"], cell, line)))
    spans.sort(key=lambda span: span[0])
    kept: list[tuple[int, int, Location]] = []
    for span in spans:  # never overlapping
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _mark(text: str, source: SubmissionSource | None) -> Marked:
    text = _printable(text)
    places = [location for *_, location in locate(text)]
    # The most precise place: one with a line (the last such: where it was raised), else any.
    with_line = [p for p in places if p.line is not None]
    location = with_line[-1] if with_line else (places[-1] if places else None)
    excerpt = source.line(location) if source is not None and location is not None else ""
    return Marked(text, location, excerpt)


def _repeats_error(check: CheckResult, result: SubmissionResult) -> bool:
    """True for ``not graded: <the file's error>``, said once for the file rather than per check."""
    return bool(result.error) and check.message == f"not graded: {result.error}"


def _outcome(check: CheckResult) -> str:
    if check.status == "passed":
        return "passed"
    if check.visibility == "hidden":
        return "failed"
    return "timed out" if check.status == "timeout" else check.status


def build_report(result: SubmissionResult, *, title: str = "", checks: Sequence = (),
                 include_output: bool = False, source: "SubmissionSource | None" = None) -> Report:
    """The feedback for one result, with hidden checks reduced to name, points and pass/fail.

    ``checks`` are the assignment's ``Check`` objects, if at hand: their source tells which
    student functions each check calls. ``source`` is the graded file (for quoting lines).
    ``include_output`` adds what the student's code printed; it is off by default because the
    output is one stream for the whole run, and code that hidden checks call can print their inputs.
    """
    calls = {c.name: student_calls(c.function) for c in checks}
    candidates = defined_functions(source.notebook) if source is not None and source.notebook is not None else {}
    items = []
    for check in result.checks:
        hidden = check.visibility == "hidden"
        passed = check.status == "passed"
        items.append(CheckFeedback(
            name=check.name, score=check.score, max_score=check.max_score, passed=passed, hidden=hidden,
            outcome=_outcome(check),
            description="" if hidden else _printable(check.description),
            message=None if hidden or passed or not check.message or _repeats_error(check, result)
            else _mark(check.message, source),
            functions=_functions_for(check, calls.get(check.name, ()), candidates)))
    output = _printable(result.output or "") if include_output else ""
    shown = output[:OUTPUT_LIMIT]
    return Report(
        student=_printable(result.student), assignment=result.assignment, title=title or result.assignment,
        file_name=_printable(Path(result.file).name), score=result.score, max_score=result.max_score,
        error=_mark(result.error, source) if result.error else None, checks=items,
        notes=[_mark(note, source) for note in result.notes],
        output=shown, output_omitted=len(output) - len(shown),
        graded_at=result.graded_at,
        submitted_at=getattr(result, "submitted_at", None),
        days_late=float(getattr(result, "days_late", 0.0) or 0.0),
        penalty=float(getattr(result, "penalty", 0.0) or 0.0),
        is_notebook=Path(result.file).suffix == ".ipynb")


# --- formatting helpers ------------------------------------------------------------------------------


def _score(report: Report) -> str:
    """``27 / 32 points`` (and what it was before a late penalty)."""
    text = f"{format_points(report.score)} / {format_points(report.max_score)} points"
    if report.penalty > 0:
        text += f" ({format_points(report.score + report.penalty)} before the late penalty)"
    return text


def _lateness(report: Report) -> str:
    """``Submitted 2026-09-20T10:00:00, 1.5 days late: 3 points deducted.`` or ''."""
    if report.days_late <= 0 and report.penalty <= 0:
        return ""
    parts = []
    if report.days_late > 0:
        days = report.days_late
        late = (f"{days * 24:.1f} hours late" if days < 1 else f"{days:.1f} days late")
        parts.append(late)
    if report.penalty > 0:
        parts.append(f"{format_points(report.penalty)} point{'s' if report.penalty != 1 else ''} deducted")
    when = f"Submitted {report.submitted_at}, " if report.submitted_at else "Submitted "
    return when + ": ".join(parts) + "."


def file_stem(student: str) -> str:
    """A file name for a student's feedback: the id itself when it is safe, else a safe form
    with a short hash (so two ids never share a file)."""
    safe = re.sub(r"[^\w.@+-]", "_", student).lstrip(".") or "student"
    if safe != student:
        safe += "-" + hashlib.sha1(student.encode()).hexdigest()[:8]
    return safe


def cell_anchor(cell: int) -> str:
    """The fragment of a cell in the annotated notebook's HTML (nbconvert's ``cell-id=<id>``)."""
    return f"cell-id=cell-{cell}"


def _md_code(text: str) -> str:
    """``text`` as a Markdown code span: shown literally, never parsed as Markdown or HTML."""
    text = " ".join(text.split("\n")).strip() or " "
    ticks = max((len(run) for run in re.findall(r"`+", text)), default=0) + 1
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{'`' * ticks}{pad}{text}{pad}{'`' * ticks}"


def _md_text(text: str) -> str:
    """Plain text safe inside Markdown: no HTML tag, link or code span can come out of it."""
    text = re.sub(r"([\\`\[\]])", r"\\\1", " ".join(text.split()))
    return text.replace("<", "&lt;")  # an entity, not ``\<``: not every renderer knows that escape


def _md_fence(text: str) -> str:
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`{3,}", text)), default=0) + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _where_md(marked: Marked, notebook_href: str | None) -> str:
    """``at **[cell 4, line 3](nb.html#…)**: `the line` `` for a marked text with a place, else ''."""
    location = marked.location
    if location is None:
        return ""
    label = f"**{_md_text(location.text)}**"
    if notebook_href is not None and location.cell is not None:
        label = f"[{label}]({notebook_href}#{cell_anchor(location.cell)})"
    return f"at {label}" + (f": {_md_code(marked.excerpt)}" if marked.excerpt else "")


def _lines_md(first: str, marked: Marked | None, notebook_href: str | None) -> list[str]:
    """``first``, then the marked text in a code span and where it points, on lines of their own
    (hard breaks: two trailing spaces) indented to stay in the list item ``first`` starts."""
    lines = [first]
    if marked is not None:
        lines.append(f"  {_md_code(marked.text)}")
        where = _where_md(marked, notebook_href)
        if where:
            lines.append(f"  ↳ {where}")
    return [line + "  " for line in lines[:-1]] + lines[-1:]


def _notes_md(notes: list[Marked], notebook_href: str | None) -> list[str]:
    lines = []
    for note in notes:
        where = _where_md(note, notebook_href)
        lines.append(f"- {_md_code(note.text)}" + (f"  \n  ↳ {where}" if where else ""))
    return lines


def _check_md(check: CheckFeedback, notebook_href: str | None) -> list[str]:
    head = f"- {MARKS[check.passed]} **{check.name}** ({format_points(check.score)}/{format_points(check.max_score)})"
    if check.hidden:
        head += " — hidden check" + ("" if check.passed else ", not passed")
    else:
        if check.outcome not in ("passed", "failed"):
            head += f" — {check.outcome}"
        if check.description:
            head += f" — {_md_text(check.description)}"
    return _lines_md(head, check.message, notebook_href)


# --- Markdown report ---------------------------------------------------------------------------------

def render_markdown(report: Report, *, notebook_href: str | None = None) -> str:
    """The report as Markdown. ``notebook_href`` is the annotated notebook's HTML, if written."""
    lines = [f"# {_md_text(report.title)}: feedback for {_md_text(report.student)}", ""]
    lines.append(f"**Score: {_score(report)}** "
                 f"for {_md_code(report.file_name)}" + (f", graded {report.graded_at}" if report.graded_at else ""))
    lateness = _lateness(report)
    if lateness:
        lines += ["", f"**Late:** {_md_text(lateness)}"]
    if notebook_href:
        lines += ["", f"Your notebook with this feedback after each function: [{_md_text(notebook_href)}]({quote(notebook_href)})"]
    if report.error is not None:
        lines += [""] + _lines_md("✗ **Your file could not be graded:**", report.error, None)
        lines += ["", "Nothing could be graded: fix this first."]
    lines += ["", "## Checks", ""]
    for check in report.checks:
        lines += _check_md(check, notebook_href)
    hidden = [c for c in report.checks if c.hidden]
    if hidden:
        lines += ["", f"Hidden checks ({len(hidden)}) show only whether they passed, not why."]
    if report.notes:
        lines += ["", "## Notes on your file", "", "Grading went on regardless.", ""]
        lines += _notes_md(report.notes, notebook_href)
    if report.output:
        more = f" (first {len(report.output)} characters; {report.output_omitted} more not shown)" if report.output_omitted else ""
        lines += ["", "## What your code printed", "", "<details><summary>Show the output"
                  f"{html.escape(more)}</summary>", "", _md_fence(report.output), "", "</details>"]
    return "\n".join(lines) + "\n"


# --- HTML report -------------------------------------------------------------------------------------

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.score { font-size: 1.3rem; font-weight: 600; }
.late, .error { padding: .5rem .75rem; border-radius: 6px; }
.late { background: #fff8c5; } .error { background: #ffebe9; }
ul.checks { list-style: none; padding: 0; }
ul.checks li { padding: .4rem .6rem; border-left: 4px solid #1a7f37; margin: .3rem 0; background: #f6f8fa; }
ul.checks li.not-passed { border-color: #cf222e; }
.mark { font-weight: 700; } li.passed .mark { color: #1a7f37; } li.not-passed .mark { color: #cf222e; }
.points { color: #59636e; } .description, .hidden-note { color: #59636e; }
.message { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; white-space: pre-wrap; margin: .3rem 0 0; }
.where { background: #fff8c5; font-weight: 700; padding: 0 .2em; border-radius: 3px; }
a.where { color: #0969da; }
.excerpt { display: block; margin-top: .2rem; font-family: ui-monospace, monospace; font-size: .9em; }
pre.output { background: #f6f8fa; padding: .75rem; overflow-x: auto; white-space: pre-wrap; }
"""


def _html_marked(marked: Marked, notebook_href: str | None) -> str:
    """Escaped text with each place it names highlighted, linked to the notebook cell when possible."""
    text, out, last = marked.text, [], 0
    for start, end, location in locate(text):
        out.append(html.escape(text[last:start]))
        label = html.escape(text[start:end])
        if notebook_href is not None and location.cell is not None:
            href = html.escape(f"{quote(notebook_href)}#{cell_anchor(location.cell)}")
            out.append(f'<a class="where" href="{href}">{label}</a>')
        else:
            out.append(f'<mark class="where">{label}</mark>')
        last = end
    out.append(html.escape(text[last:]))
    result = "".join(out)
    if marked.excerpt and marked.location is not None:
        result += (f'<span class="excerpt">↳ {html.escape(marked.location.text)}: '
                   f'<code>{html.escape(marked.excerpt)}</code></span>')
    return result


def _check_html(check: CheckFeedback, notebook_href: str | None) -> str:
    parts = [f'<li class="{"passed" if check.passed else "not-passed"}">',
             f'<span class="mark">{MARKS[check.passed]}</span> <strong>{html.escape(check.name)}</strong> '
             f'<span class="points">({format_points(check.score)}/{format_points(check.max_score)})</span>']
    if check.hidden:
        parts.append(' <span class="hidden-note">— hidden check' + ("" if check.passed else ", not passed") + "</span>")
    else:
        if check.outcome not in ("passed", "failed"):
            parts.append(f" — {html.escape(check.outcome)}")
        if check.description:
            parts.append(f' <span class="description">— {html.escape(check.description)}</span>')
    if check.message is not None:
        parts.append(f'<div class="message">{_html_marked(check.message, notebook_href)}</div>')
    parts.append("</li>")
    return "".join(parts)


def render_html(report: Report, *, notebook_href: str | None = None) -> str:
    """The report as a standalone HTML page; every piece of student text is escaped."""
    e = html.escape
    body = [f"<h1>{e(report.title)}: feedback for {e(report.student)}</h1>",
            f'<p><span class="score">{e(_score(report))}</span> '
            f"for <code>{e(report.file_name)}</code>" + (f", graded {e(report.graded_at)}" if report.graded_at else "") + "</p>"]
    lateness = _lateness(report)
    if lateness:
        body.append(f'<p class="late"><strong>Late:</strong> {e(lateness)}</p>')
    if notebook_href:
        body.append(f'<p>Your notebook with this feedback after each function: '
                    f'<a href="{e(quote(notebook_href))}">{e(notebook_href)}</a></p>')
    if report.error is not None:
        body.append(f'<div class="error">✗ <strong>Your file could not be graded:</strong> '
                    f'<span class="message">{_html_marked(report.error, None)}</span><br>'
                    "Nothing could be graded: fix this first.</div>")
    body.append("<h2>Checks</h2>")
    body.append('<ul class="checks">\n' + "\n".join(_check_html(c, notebook_href) for c in report.checks) + "\n</ul>")
    hidden = [c for c in report.checks if c.hidden]
    if hidden:
        body.append(f'<p class="hidden-note">Hidden checks ({len(hidden)}) show only whether they passed, not why.</p>')
    if report.notes:
        body.append("<h2>Notes on your file</h2><p>Grading went on regardless.</p><ul>")
        body += [f'<li class="message">{_html_marked(note, notebook_href)}</li>' for note in report.notes]
        body.append("</ul>")
    if report.output:
        more = (f" (first {len(report.output)} characters; {report.output_omitted} more not shown)"
                if report.output_omitted else "")
        body.append(f"<h2>What your code printed</h2><details><summary>Show the output{e(more)}</summary>"
                    f'<pre class="output">{e(report.output)}</pre></details>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{e(report.title)}: {e(report.student)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# --- the annotated notebook ------------------------------------------------------------------------

_FEEDBACK_STYLE = """<style>
.celltag_grader-feedback .jp-RenderedMarkdown { border-left: 4px solid #0969da; background: #f6f8fa; padding: .25rem 1rem; }
</style>
"""
#: Tags allowed in the rendered notebook; anything else (script, style, iframe, on* attributes) is escaped.
_ALLOWED_TAGS = ["a", "abbr", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3",
                 "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "s", "span", "strong",
                 "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"]
_ALLOWED_ATTRIBUTES = {"*": ["class", "id"], "a": ["href", "title"], "img": ["src", "alt", "title"],
                       "td": ["align"], "th": ["align"]}


def _clean_html(element) -> str:
    """nbconvert's ``clean_html`` filter, with the tags rendered Markdown needs (its own list lacks p and h1-h6)."""
    import bleach  # a dependency of nbconvert

    element = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(element, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES)


def _cell_feedback_md(function_names: list[str], checks: list[CheckFeedback], notebook_href: str) -> str:
    score = sum(c.score for c in checks)
    most = sum(c.max_score for c in checks)
    names = ", ".join(_md_code(n) for n in function_names)
    lines = [f"#### Feedback on {names}: {format_points(score)} / {format_points(most)} points", ""]
    for check in checks:
        lines += _check_md(check, notebook_href)
    return "\n".join(lines)


def _summary_md(report: Report, unplaced: list[CheckFeedback], placed: int) -> str:
    lines = [f"## Feedback: {_md_text(report.title)}", "",
             f"**Score: {_score(report)}**"]
    lateness = _lateness(report)
    if lateness:
        lines += ["", f"**Late:** {_md_text(lateness)}"]
    if report.error is not None:
        lines += [""] + _lines_md("✗ **Your file could not be graded:**", report.error, "")
    if placed:
        lines += ["", f"{placed} check(s) are shown in a cell like this one after the cell that defines "
                      "the function they test."]
    if unplaced:
        lines += ["", "Checks of the notebook as a whole:", ""]
        for check in unplaced:
            lines += _check_md(check, "")
    if report.notes:
        lines += ["", "Notes on your notebook (grading went on regardless):", ""]
        lines += _notes_md(report.notes, "")
    return "\n".join(lines)


def _feedback_cell(source: str, cell_id: str):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = cell_id
    cell.metadata = {"tags": ["grader-feedback"], "grader": {"feedback": True}}
    return cell


def annotate_notebook(report: Report, notebook):
    """A copy of ``notebook`` with the feedback in it: a summary cell first, then after each
    cell that defines a graded function, a cell with the checks of that function.

    Every original cell gets the id ``cell-N`` (N numbered as grading numbers cells), so
    ``#cell-id=cell-N`` links reach it in the HTML. Hidden checks show as in the report.
    """
    annotated = copy.deepcopy(notebook)
    annotated.nbformat_minor = max(int(annotated.get("nbformat_minor", 0)), 5)  # cell ids
    for number, cell in enumerate(annotated.cells, start=1):
        cell.id = f"cell-{number}"
    defined = defined_functions(notebook)
    by_cell: dict[int, list[CheckFeedback]] = {}
    names_by_cell: dict[int, list[str]] = {}
    unplaced = []
    for check in report.checks:
        function = next((f for f in check.functions if f in defined), None)
        if function is None:
            unplaced.append(check)
            continue
        cell = defined[function]
        by_cell.setdefault(cell, []).append(check)
        names = names_by_cell.setdefault(cell, [])
        if function not in names:
            names.append(function)
    cells = [_feedback_cell(_summary_md(report, unplaced, len(report.checks) - len(unplaced)), "feedback-summary")]
    for number, cell in enumerate(annotated.cells, start=1):
        cells.append(cell)
        if number in by_cell:
            cells.append(_feedback_cell(_cell_feedback_md(names_by_cell[number], by_cell[number], ""),
                                        f"feedback-cell-{number}"))
    annotated.cells = cells
    return annotated


class _NotebookRenderer:
    """nbconvert's HTMLExporter, sanitising the student's markdown and outputs; built once per batch."""

    def __init__(self):
        from nbconvert import HTMLExporter

        self._exporter = HTMLExporter(sanitize_html=True, filters={"clean_html": _clean_html})

    def render(self, notebook) -> str:
        with warnings.catch_warnings():  # "IPython3 lexer unavailable, falling back on Python 3"
            warnings.simplefilter("ignore", UserWarning)
            body, _ = self._exporter.from_notebook_node(notebook)
        return body.replace("</head>", _FEEDBACK_STYLE + "</head>", 1)


# --- writing -----------------------------------------------------------------------------------------

def select_results(results: list[SubmissionResult], assignment: str, *, student: str | None = None,
                   where: str = "the gradebook") -> list[SubmissionResult]:
    """The results to write feedback for; a GradebookError if there are none."""
    if not results:
        raise GradebookError(f"{where} has no grades for {assignment!r}; grade it first (grader grade {assignment} ...)")
    if student is None:
        return results
    chosen = [r for r in results if r.student == student]
    if not chosen:
        known = sorted(r.student for r in results)
        shown = ", ".join(known[:5]) + (f" and {len(known) - 5} more" if len(known) > 5 else "")
        raise GradebookError(f"{where} has no grades for student {student!r} in {assignment!r} (graded: {shown})")
    return chosen


def write_feedback(results: Iterable[SubmissionResult], out: Path, *, title: str = "", checks: Sequence = (),
                   include_output: bool = False) -> list[Written]:
    """Write each result's report (and annotated notebook) into ``out``; returns what was written.

    ``checks`` are the assignment's ``Check`` objects when the course is at hand (they tell
    which functions each check calls); without them, check names and messages decide.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    renderer: _NotebookRenderer | None = None
    written = []
    for result in results:
        done = Written(result.student)
        source, why = SubmissionSource.load(result)
        report = build_report(result, title=title, checks=checks, include_output=include_output, source=source)
        stem = file_stem(result.student)
        notebook_href = None
        if report.is_notebook and source is not None and source.notebook is not None:
            annotated = annotate_notebook(report, source.notebook)
            renderer = renderer or _NotebookRenderer()
            ipynb, page = out / f"{stem}.notebook.ipynb", out / f"{stem}.notebook.html"
            nbformat.write(annotated, str(ipynb))
            page.write_text(renderer.render(annotated), encoding="utf-8")
            done.paths += [ipynb, page]
            notebook_href = page.name
        elif report.is_notebook:
            done.warnings.append(f"{result.student}: no annotated notebook: {why}")
        md, page = out / f"{stem}.md", out / f"{stem}.html"
        md.write_text(render_markdown(report, notebook_href=notebook_href), encoding="utf-8")
        page.write_text(render_html(report, notebook_href=notebook_href), encoding="utf-8")
        done.paths[:0] = [md, page]
        written.append(done)
    return written
