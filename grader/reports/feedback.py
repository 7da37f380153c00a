"""Writing feedback: for each stored result, into an output folder,

    <student>.md               the report as Markdown
    <student>.html             the same report as a standalone HTML page
    <student>.notebook.ipynb   (notebook submissions) a copy of the student's notebook with a
    <student>.notebook.html    feedback cell after each graded function's cell, and its HTML

One student's report that cannot be written (a notebook that no longer reads, a file system
that refuses a name, a gradebook row too broken to render) is a warning for the TA; the others
are written all the same. Nothing
runs the student's code or the notebook; the library never prints.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from grader.errors import GradebookError
from grader.reports.annotated import NotebookRenderer, annotate_notebook
from grader.reports.html import render_html
from grader.reports.markdown import render_markdown
from grader.reports.model import build_report
from grader.reports.source import SubmissionSource
from grader.results import SubmissionResult
from grader.text import clean_name

#: Characters of a student's part of a feedback file name (file systems take 255 bytes).
STEM_LIMIT = 80


@dataclass
class Written:
    """What ``write_feedback`` wrote for one student."""

    student: str
    paths: list[Path] = field(default_factory=list)
    #: Things the TA should know (e.g. the notebook could not be annotated), one line each.
    warnings: list[str] = field(default_factory=list)


def file_stem(student: str) -> str:
    """A file name for a student's feedback: the id itself when it is safe and short, else a
    safe, capped form with a short hash (so two ids never share a file)."""
    safe = re.sub(r"[^\w.@+-]", "_", student, flags=re.ASCII).lstrip(".")[:STEM_LIMIT] or "student"
    if safe != student:
        safe += "-" + hashlib.sha1(student.encode("utf-8", "replace")).hexdigest()[:8]
    return safe


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
    which functions each check calls); without them, check names decide. A student whose
    report cannot be written gets a warning instead; the others are written regardless.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    renderer: NotebookRenderer | None = None
    written = []
    for result in results:
        done = Written(clean_name(result.student))
        try:
            source, why = SubmissionSource.load(result)
            report = build_report(result, title=title, checks=checks, include_output=include_output, source=source)
            stem = file_stem(result.student)
            notebook_href = None
            if report.is_notebook and source is not None and source.notebook is not None:
                try:
                    annotated = annotate_notebook(report, source.notebook, source)
                    renderer = renderer or NotebookRenderer()
                    page = renderer.render(annotated)
                    ipynb, html_path = out / f"{stem}.notebook.ipynb", out / f"{stem}.notebook.html"
                    nbformat_write(annotated, ipynb)
                    html_path.write_text(page, encoding="utf-8")
                    done.paths += [ipynb, html_path]
                    notebook_href = html_path.name
                except Exception as exc:  # noqa: BLE001 - the report itself is still written below
                    done.warnings.append(f"{done.student}: no annotated notebook: it could not be rendered "
                                         f"({type(exc).__name__}: {clean_name(str(exc), 200)})")
            elif report.is_notebook:
                done.warnings.append(f"{done.student}: no annotated notebook: {why}")
            md, page = out / f"{stem}.md", out / f"{stem}.html"
            md.write_text(render_markdown(report, notebook_href=notebook_href), encoding="utf-8")
            page.write_text(render_html(report, notebook_href=notebook_href), encoding="utf-8")
            done.paths[:0] = [md, page]
        except OSError as exc:
            done.warnings.append(f"{done.student}: no feedback written: {clean_name(exc.strerror or str(exc), 200)}")
        except Exception as exc:  # noqa: BLE001 - a gradebook row we cannot render must not stop the others
            done.warnings.append(f"{done.student}: no feedback written: its result could not be rendered "
                                 f"({type(exc).__name__}: {clean_name(str(exc), 200)})")
        written.append(done)
    return written


def nbformat_write(notebook, path: Path) -> None:
    import nbformat

    nbformat.write(notebook, str(path))
