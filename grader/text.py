"""Student text as data: made valid, stripped of control characters and capped where it is stored.

Everything a submission can put into a string (exception messages, printed output, file names,
ids, cell text, notebook JSON) reaches the gradebook and every report. ``clean`` is applied
where such text enters a result; each output medium escapes it again for itself (HTML, CSV,
XML, terminal). Two rules hold for every cleaned string:

- it is valid Unicode that encodes to UTF-8 (a lone surrogate becomes U+FFFD, so ``json.dumps``,
  SQLite and ``str.encode`` never fail on it);
- it holds no C0/C1 control character, no DEL and no ANSI escape sequence (tab and, where the
  text may span lines, newline are kept), and no bidirectional override that could make a
  report display text other than what is stored.
"""

from __future__ import annotations

import re

#: Characters of one message (a check's, an exception's) that are kept.
MESSAGE_LIMIT = 2000
#: Characters of one note, file name or id.
SHORT_LIMIT = 300
#: Characters of one quoted source line.
EXCERPT_LIMIT = 160

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0 controls but tab and newline, DEL, C1 controls; Unicode bidi overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """``text`` with every lone surrogate (from ``surrogateescape`` or a hostile ``__str__``)
    replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean(text, limit: int = MESSAGE_LIMIT, *, multiline: bool = True) -> str:
    """Student text fit to store: valid Unicode, no control characters, at most ``limit`` characters
    (an ellipsis marks a cut). ``multiline=False`` also turns newlines and tabs into spaces."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    # Printable ASCII (the common case: type names, short messages) has nothing to remove.
    if len(text) <= limit and text.isascii() and text.isprintable() \
            and (multiline or not text or (text[0] != " " and text[-1] != " ")):
        return text
    text = valid_unicode(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    if multiline:
        text = _CONTROL.sub("", text)
    else:
        text = _CONTROL_ONE_LINE.sub(" ", text.replace("\t", " ")).strip()
    if len(text) > limit:
        text = text[:max(0, limit - 1)] + "…"
    return text


def clean_name(raw: str | bytes, limit: int = SHORT_LIMIT) -> str:
    """A file name, student id or other one-line label for display: any bytes become valid,
    printable, single-line text (undecodable bytes as U+FFFD)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return clean(raw, limit, multiline=False)
