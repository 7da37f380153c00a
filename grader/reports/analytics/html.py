"""What both analytics pages share: one self-contained HTML document, images as data URIs.

The page loads nothing and runs nothing: its Content-Security-Policy (the feedback reports')
allows only its own inline style and ``data:`` images, and a ``data:`` icon keeps the browser
from asking the server for a favicon. Every string that comes from a submission or the
gradebook goes through ``escape``.
"""

from __future__ import annotations

import base64
import html

from grader.reports.html import CSP

BASE_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d1d9e0; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { padding: .25rem .6rem; text-align: left; vertical-align: top; border-bottom: 1px solid #eaeef2; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .message { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .88em; }
.message { white-space: pre-wrap; word-break: break-word; }
td.n { white-space: nowrap; }
.note { color: #59636e; } .caution { background: #fff8c5; padding: .6rem .8rem; border-radius: 6px; }
img.plot { display: block; max-width: 100%; height: auto; margin: .5rem 0; }
.hidden-check { color: #8250df; } .public-check { color: #0969da; }
.bar { display: inline-block; height: .7em; background: #cf222e; vertical-align: middle; }
"""


def escape(text) -> str:
    """Any value as HTML text, quotes included."""
    return html.escape(str(text), quote=True)


def image(png: bytes, alt: str) -> str:
    """An ``<img>`` holding ``png`` itself."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="plot" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def document(title: str, body: list[str], *, style: str = "") -> str:
    """A whole page: the head with its policy and style, then ``body`` (already escaped HTML)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<link rel="icon" href="data:,">\n'
            f"<title>{escape(title)}</title>\n<style>{BASE_STYLE}{style}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
