"""The student's notebook with the feedback in it, as ``.ipynb`` and as a sanitised HTML page.

A copy of the notebook gets a summary cell first and, after each cell that defines a graded
function, a cell with that function's checks. Its HTML comes from nbconvert, but nothing of
the student's notebook reaches it unsanitised: outputs keep only plain text, PNG/JPEG images
and HTML cleaned to a short list of tags (no SVG, JavaScript or other rich outputs, and no
output metadata, which the templates put into attributes), raw cells lose the metadata that
would have them rendered as HTML, Markdown is cleaned to the same list of tags, and the page
carries a Content-Security-Policy that lets nothing run or load.
"""

from __future__ import annotations

import copy
import warnings

import nbformat

from grader.reports.html import CSP
from grader.reports.markdown import check_md, lines_md, md_code, md_text, notes_md
from grader.reports.model import CheckFeedback, Report, lateness_text, printable, score_text
from grader.reports.source import SubmissionSource
from grader.results import format_points


_FEEDBACK_STYLE = """<style>
.celltag_grader-feedback .jp-RenderedMarkdown { border-left: 4px solid #0969da; background: #f6f8fa; padding: .25rem 1rem; }
</style>
"""
#: Tags allowed in the rendered notebook; anything else (script, style, iframe, on* attributes) is escaped.
_ALLOWED_TAGS = ["a", "abbr", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3",
                 "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "s", "span", "strong",
                 "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"]
# No "id": a student's markup must not take over the anchors the feedback links point at.
_ALLOWED_ATTRIBUTES = {"*": ["class"], "a": ["href", "title"], "img": ["src", "alt", "title"],
                       "td": ["align"], "th": ["align"]}


def _clean_html(element) -> str:
    """nbconvert's ``clean_html`` filter, with the tags rendered Markdown needs (its own list lacks p and h1-h6)."""
    import bleach  # a dependency of nbconvert

    element = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(element, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES)


def _cell_feedback_md(function_names: list[str], checks: list[CheckFeedback], notebook_href: str) -> str:
    score = sum(c.score for c in checks)
    most = sum(c.max_score for c in checks)
    names = ", ".join(md_code(n) for n in function_names)
    lines = [f"#### Feedback on {names}: {format_points(score)} / {format_points(most)} points", ""]
    for check in checks:
        lines += check_md(check, notebook_href)
    return "\n".join(lines)


def _summary_md(report: Report, unplaced: list[CheckFeedback], placed: int) -> str:
    lines = [f"## Feedback: {md_text(report.title)}", "",
             f"**Score: {score_text(report)}**"]
    lateness = lateness_text(report)
    if lateness:
        lines += ["", f"**Late:** {md_text(lateness)}"]
    if report.error is not None:
        lines += [""] + lines_md("✗ **Your file could not be graded:**", report.error, "")
    if placed:
        lines += ["", f"{placed} check(s) are shown in a cell like this one after the cell that defines "
                      "the function they test."]
    if unplaced:
        lines += ["", "Checks of the notebook as a whole:", ""]
        for check in unplaced:
            lines += check_md(check, "")
    if report.notes:
        lines += ["", "Notes on your notebook (grading went on regardless):", ""]
        lines += notes_md(report.notes, "")
    return "\n".join(lines)


def _feedback_cell(source: str, cell_id: str):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = cell_id
    cell.metadata = {"tags": ["grader-feedback"], "grader": {"feedback": True}}
    return cell


def annotate_notebook(report: Report, notebook, source: SubmissionSource):
    """A copy of ``notebook`` with the feedback in it: a summary cell first, then after each
    cell that defines a graded function, a cell with the checks of that function.

    Every original cell gets the id ``cell-N`` (N numbered as grading numbers cells), so
    ``#cell-id=cell-N`` links reach it in the HTML. Hidden checks show as in the report.
    """
    annotated = sanitised(notebook)
    annotated.nbformat_minor = max(int(annotated.get("nbformat_minor", 0)), 5)  # cell ids
    for number, cell in enumerate(annotated.cells, start=1):
        cell.id = f"cell-{number}"
    defined = source.defined_functions()
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


class NotebookRenderer:
    """nbconvert's HTMLExporter over a ``sanitised`` notebook, with nbconvert's own sanitiser on
    too and a Content-Security-Policy first in the page; built once per batch."""

    def __init__(self):
        from nbconvert import HTMLExporter

        self._exporter = HTMLExporter(sanitize_html=True, filters={"clean_html": _clean_html})

    def render(self, notebook) -> str:
        with warnings.catch_warnings():  # "IPython3 lexer unavailable, falling back on Python 3"
            warnings.simplefilter("ignore", UserWarning)
            body, _ = self._exporter.from_notebook_node(sanitised(notebook))
        head = body.find("<head>")
        if head < 0:
            raise ValueError("nbconvert produced a page without <head>")
        policy = f'<head>\n<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        body = body[:head] + policy + body[head + len("<head>"):]
        return body.replace("</head>", _FEEDBACK_STYLE + "</head>", 1)


_IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
#: The notebook metadata of every annotated copy (the student's, widget state included, is dropped).
_METADATA = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
             "language_info": {"name": "python"}}


def _image(kind: str, data) -> str | None:
    """``data`` if it is base64 of an image of ``kind``, else None."""
    import base64
    import binascii

    text = "".join(data) if isinstance(data, list) else data
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        return None
    return text if raw.startswith(_IMAGE_MAGIC[kind]) else None


def _safe_output(output) -> dict | None:
    kind = output.get("output_type")
    if kind == "stream":
        return nbformat.v4.new_output("stream", name="stdout" if output.get("name") != "stderr" else "stderr",
                                      text=printable(str(output.get("text", ""))))
    if kind == "error":
        return nbformat.v4.new_output("error", ename=printable(str(output.get("ename", ""))),
                                      evalue=printable(str(output.get("evalue", ""))),
                                      traceback=[printable(str(line)) for line in output.get("traceback", [])][:200])
    if kind in ("execute_result", "display_data"):
        data = output.get("data") or {}
        kept = {}
        if isinstance(data.get("text/plain"), (str, list)):
            text = data["text/plain"]
            kept["text/plain"] = printable("".join(text) if isinstance(text, list) else text)
        if isinstance(data.get("text/html"), (str, list)):  # kept through the same allowlist as Markdown
            markup = data["text/html"]
            kept["text/html"] = _clean_html("".join(markup) if isinstance(markup, list) else markup)
        for image in ("image/png", "image/jpeg"):
            if image in data and _image(image, data[image]) is not None:
                kept[image] = _image(image, data[image])
        if not kept:
            return None
        made = nbformat.v4.new_output(kind, data=kept)  # no metadata: templates put it into attributes
        if kind == "execute_result":
            made.execution_count = None
        return made
    return None


def sanitised(notebook):
    """A copy of a student's notebook with only what is safe to render: sources as they are,
    outputs reduced to text, allowlisted HTML and checked raster images (no SVG, JavaScript or
    other rich outputs), no cell or output metadata, no attachments."""
    safe = copy.deepcopy(notebook)
    safe.metadata = nbformat.NotebookNode(copy.deepcopy(_METADATA))
    for cell in safe.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        ours = ["grader-feedback"] if isinstance(tags, list) and "grader-feedback" in tags else []
        cell.metadata = nbformat.NotebookNode({"tags": ours} if ours else {})
        cell.pop("attachments", None)
        if cell.get("cell_type") == "code":
            outputs = [_safe_output(output) for output in cell.get("outputs", [])]
            cell.outputs = [output for output in outputs if output is not None]
            if not isinstance(cell.get("execution_count"), int):
                cell.execution_count = None
    return safe
