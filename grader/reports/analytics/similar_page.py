"""The similarity page (``grader similar --out similar.html``): each listed pair side by side.

Shared passages are highlighted in both files in the same colour, numbered alike, and the wrong
answers the two share are listed with how many others gave them. Everything from a submission
(names, code) is escaped; the page runs no script.
"""

from __future__ import annotations

from grader.reports.analytics.html import document, escape
from grader.reports.analytics.pairs import Pair, Similarity
from grader.reports.analytics.similarity import Passage

#: Highlight colours of passages, in turn.
COLOURS = ("#fff3b0", "#d4f1d4", "#dbe9ff", "#fde2e4", "#e8dcff", "#ffe4c7")

_STYLE = "".join(f".p{i} {{ background: {c}; }}\n" for i, c in enumerate(COLOURS)) + """
.pair { margin-top: 2.5rem; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .8em; border: 1px solid #d1d9e0;
        border-radius: 6px; overflow-x: auto; }
.code table { width: 100%; margin: 0; } .code td { border: 0; padding: 0 .4rem; white-space: pre; }
.code td.ln { color: #8c959f; text-align: right; user-select: none; width: 1%; }
.code td.tag { color: #59636e; width: 1%; }
.side h3 { margin: .3rem 0; }
"""


def _marks(passages: list[Passage], side: str) -> dict[int, int]:
    """Line number (1-based) -> index of the first passage covering it, on side ``a`` or ``b``."""
    marks: dict[int, int] = {}
    for index, passage in enumerate(passages):
        first, last = getattr(passage, side)
        for line in range(first, last + 1):
            marks.setdefault(line, index)
    return marks


def _code(lines: list[str] | None, passages: list[Passage], side: str, student: str) -> str:
    if lines is None:
        return '<p class="note">This file could not be read again (see the notes above).</p>'
    marks = _marks(passages, side)
    rows = []
    for number, line in enumerate(lines, start=1):
        index = marks.get(number)
        if index is None:
            rows.append(f'<tr><td class="ln">{number}</td><td class="tag"></td><td>{escape(line)}</td></tr>')
        else:
            colour = f"p{index % len(COLOURS)}"
            rows.append(f'<tr class="{colour}"><td class="ln">{number}</td><td class="tag">{index + 1}</td>'
                        f"<td>{escape(line)}</td></tr>")
    return (f'<div class="side"><h3>{escape(student)}</h3><div class="code"><table>'
            + "".join(rows) + "</table></div></div>")


def _signals(pair: Pair, similarity: Similarity) -> list[str]:
    parts = []
    if pair.code is None:
        parts.append("<li>Code: not compared (a file could not be read again).</li>")
    else:
        parts.append(f"<li>Code: <strong>{100 * pair.code:.0f}%</strong> of the smaller submission's own code "
                     f"(starter code and common idioms left out) is in the other too: {pair.shared_fingerprints} "
                     f"shared fingerprints{' — over the threshold' if 'code' in pair.flagged_by else ''}.</li>")
    if not pair.mistakes:
        parts.append("<li>Wrong answers: none shared.</li>")
    else:
        parts.append(f"<li>Wrong answers: <strong>{pair.bits:.1f} bits</strong> of evidence"
                     f"{' — over the threshold' if 'wrong answers' in pair.flagged_by else ''}:<ul>")
        for mistake in pair.mistakes:
            others = len(mistake.students) - 2
            who = "only these two" if not others else f"these two and {others} other(s): " + ", ".join(
                escape(s) for s in mistake.students if s not in (pair.a, pair.b))
            checks = ", ".join(f'<code>{escape(a.check)}</code> <span class="{a.visibility}-check">'
                               f"({escape(a.visibility)})</span>" for a in mistake.answers)
            parts.append(f"<li>{checks}: the same wrong answer, given by {who} of "
                         f"{max(a.takers for a in mistake.answers)} ({mistake.bits:.1f} bits)</li>")
        parts.append("</ul></li>")
    return parts


def _pair(number: int, pair: Pair, similarity: Similarity) -> str:
    body = [f'<section class="pair" id="pair-{number}"><h2>{number}. {escape(pair.a)} and {escape(pair.b)}</h2>',
            "<ul>", *_signals(pair, similarity), "</ul>"]
    if pair.passages:
        body.append('<p class="note">Shared passages, numbered and coloured alike on both sides: '
                    + "; ".join(f"{i + 1}: lines {p.a[0]}–{p.a[1]} and {p.b[0]}–{p.b[1]}"
                                for i, p in enumerate(pair.passages)) + ".</p>")
    if pair.code is not None:
        body.append('<div class="sides">' + _code(similarity.code.get(pair.a), pair.passages, "a", pair.a)
                    + _code(similarity.code.get(pair.b), pair.passages, "b", pair.b) + "</div>")
    body.append("</section>")
    return "\n".join(body)


def render_similar_html(similarity: Similarity, *, title: str = "") -> str:
    """The page: the notice, how the pairs were found, what was skipped, then each pair."""
    heading = f"{title or similarity.assignment}: submissions that look alike"
    body = [f"<h1>{escape(heading)}</h1>", f'<p class="caution"><strong>{escape(similarity.notice)}</strong></p>',
            f"<p>{similarity.students} students (latest run each) in <code>{escape(similarity.gradebook)}</code>; "
            f"{similarity.compared} files compared by code. A pair is listed when at least "
            f"{100 * similarity.threshold:.0f}% of the smaller one's own code is in the other, or when the wrong "
            f"answers they share are worth at least {similarity.min_bits:g} bits (sharing an answer that one in "
            f"{2 ** similarity.min_bits:.0f} others gives). {len(similarity.pairs)} pairs listed.</p>"]
    if similarity.notes:
        body.append("<details><summary>Notes: " + f"{len(similarity.notes)} limits on what was compared</summary><ul>"
                    + "".join(f"<li>{escape(n)}</li>" for n in similarity.notes) + "</ul></details>")
    if similarity.pairs:
        body.append("<ol>" + "".join(f'<li><a href="#pair-{i}">{escape(p.a)} and {escape(p.b)}</a> — '
                                     f"{escape(', '.join(p.flagged_by))}</li>"
                                     for i, p in enumerate(similarity.pairs, start=1)) + "</ol>")
    else:
        body.append("<p>No pair reaches either threshold.</p>")
    body += [_pair(i, p, similarity) for i, p in enumerate(similarity.pairs, start=1)]
    return document(heading, body, style=_STYLE)
