"""A student's report as a standalone HTML page (``<student>.html``).

Every piece of student text is escaped; the page runs no script and loads nothing (its
Content-Security-Policy says so to the browser too).
"""

from __future__ import annotations

import html
from urllib.parse import quote

from grader.reports.markdown import cell_anchor
from grader.reports.model import MARKS, CheckFeedback, Marked, Report, lateness_text, score_text
from grader.results import format_points

#: The browser may load nothing and run nothing; only the page's own style applies.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

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
    """Escaped text with the place it names highlighted (linked to the notebook cell when
    possible), and the student's line there."""
    text, where = marked.text, marked.where
    if where is None:
        return html.escape(text)
    label = html.escape(where.label)
    if notebook_href is not None and where.cell is not None:
        href = html.escape(f"{quote(notebook_href)}#{cell_anchor(where.cell)}")
        shown = f'<a class="where" href="{href}">{label}</a>'
    else:
        shown = f'<mark class="where">{label}</mark>'
    at = text.rfind(where.label) if where.label else -1
    if at >= 0:  # the message names the place itself: highlight it there
        result = html.escape(text[:at]) + shown + html.escape(text[at + len(where.label):])
    else:
        result = html.escape(text) + f" ({shown})"
    if marked.excerpt:
        result += (f'<span class="excerpt">↳ {label}: '
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
            f'<p><span class="score">{e(score_text(report))}</span> '
            f"for <code>{e(report.file_name)}</code>" + (f", graded {e(report.graded_at)}" if report.graded_at else "") + "</p>"]
    lateness = lateness_text(report)
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
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{e(report.title)}: {e(report.student)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
