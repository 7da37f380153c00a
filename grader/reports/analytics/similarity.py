"""Code similarity by winnowing (Schleimer, Wilkerson and Aiken, SIGMOD 2003: what MOSS does),
over Python's own tokenizer.

A document's code becomes a list of tokens in which what a copier changes cheaply no longer
shows: comments, blank lines, layout and docstrings are dropped; every name of the student's own
(variables, functions, parameters) becomes ``V``, every number ``N`` and every string ``S``;
keywords, builtins, operators and attribute names (``.shape``, ``np.where``: the API, which a
copier keeps) stay as they are. Each run of ``K`` tokens is hashed; from every window of ``W``
consecutive hashes the smallest is kept (the rightmost of equals). Two documents that share a
passage of at least ``W + K - 1`` tokens are then guaranteed to share a kept hash, and the set
of kept hashes does not depend on the order of the functions.

Why not a library: ``copydetect`` (the maintained Python implementation of the same idea) works
on files in folders, counts matches in characters of pygments' tokens, and writes its own HTML
report; here documents are a notebook's code cells as well as files, lines must map back to
cells, a whole class is indexed at once and the page must follow our escaping and CSP rules.
What is needed of it is the ~100 lines below.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import keyword
import tokenize
from dataclasses import dataclass, field

#: Tokens per hashed run (a statement of a dozen tokens: ``w = w + x * (y - predict(w, x))``).
K = 12
#: Hashes per winnowing window: a shared passage of ``W + K - 1`` = 17 tokens is always found.
W = 6

_KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_STATEMENT_START = {"", ";", "{", "}"}  # what may come before a statement: a docstring follows one of these
# Python 3.12 splits f-strings into parts; the whole f-string counts as one string.
_FSTRING_PARTS = {getattr(tokenize, name) for name in ("FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)


@dataclass(frozen=True)
class Token:
    """One normalised token and the lines of the document it spans."""

    #: ``V``, ``N``, ``S``, ``;`` (end of statement), ``{``/``}`` (indent, dedent), or the token itself.
    text: str
    #: First line (0-based, in ``Document.lines``).
    first: int
    #: Last line.
    last: int


@dataclass
class Document:
    """Code to compare, as it is shown: the lines of a file, or a notebook's code cells in order."""

    #: The lines shown, numbered from 1 on the page.
    lines: list[str] = field(default_factory=list)
    #: (first line in ``lines``, source) of each piece that is tokenized on its own (a cell).
    pieces: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def from_python(cls, source: str) -> "Document":
        return cls(source.splitlines(), [(0, source)])

    def add_cell(self, number: int, source: str) -> None:
        """A notebook code cell, after a line naming it."""
        self.lines.append(f"# ── cell {number} ──")
        self.pieces.append((len(self.lines), source))
        self.lines.extend(source.splitlines())


def _name(text: str, previous: str) -> str:
    return text if text in _KEEP_NAMES or previous == "." else "V"


def tokens(source: str, offset: int = 0) -> list[Token]:
    """The normalised tokens of ``source``, lines shifted by ``offset``. Code that does not
    tokenize (an unfinished string, a bad dedent) gives the tokens before the error."""
    found: list[Token] = []
    previous = ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = token.type
            if kind in _SKIPPED:
                continue
            if kind == _FSTRING_START:
                text = "S"
            elif kind in _FSTRING_PARTS:
                continue
            elif kind == tokenize.NAME:
                text = _name(token.string, previous)
            elif kind == tokenize.NUMBER:
                text = "N"
            elif kind == tokenize.STRING:
                text = "S"
            elif kind == tokenize.NEWLINE or token.string == ";":
                text = ";"
            elif kind == tokenize.INDENT:
                text = "{"
            elif kind == tokenize.DEDENT:
                text = "}"
            else:
                text = token.string
            found.append(Token(text, offset + token.start[0] - 1, offset + token.end[0] - 1))
            previous = text
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        pass
    return _without_docstrings(found)


def _without_docstrings(found: list[Token]) -> list[Token]:
    """Drop statements that are a lone string (docstrings, strings used as comments)."""
    kept: list[Token] = []
    skip_end = False
    for index, token in enumerate(found):
        if skip_end:
            skip_end = False
            if token.text == ";":
                continue
        before = kept[-1].text if kept else ""
        after = found[index + 1].text if index + 1 < len(found) else ";"
        if token.text == "S" and before in _STATEMENT_START and after == ";":
            skip_end = True
            continue
        kept.append(token)
    return kept


def _hash(texts: list[str]) -> int:
    # blake2b rather than hash(): the same code gives the same fingerprints in every run.
    return int.from_bytes(hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).digest(), "big")


def winnow(hashes: list[int], window: int = W) -> list[int]:
    """Indices of the hashes winnowing keeps: the minimum of each window (rightmost on ties),
    each index once."""
    if not hashes:
        return []
    if len(hashes) <= window:
        low = min(hashes)
        return [max(i for i, h in enumerate(hashes) if h == low)]
    kept: list[int] = []
    for start in range(len(hashes) - window + 1):
        part = hashes[start:start + window]
        low = min(part)
        chosen = start + max(i for i, h in enumerate(part) if h == low)
        if not kept or kept[-1] != chosen:
            kept.append(chosen)
    return kept


def fingerprints(document: Document, *, k: int = K, window: int = W) -> dict[int, list[tuple[int, int]]]:
    """The document's winnowed hashes, each with the (first, last) lines of every place it was kept.
    Each piece (cell) is its own run of tokens: no hashed run spans two cells."""
    kept: dict[int, list[tuple[int, int]]] = {}
    for offset, source in document.pieces:
        run = tokens(source, offset)
        grams = [_hash([t.text for t in run[i:i + k]]) for i in range(len(run) - k + 1)]
        for index in winnow(grams, window):
            kept.setdefault(grams[index], []).append((run[index].first, run[index + k - 1].last))
    return kept


@dataclass(frozen=True)
class Passage:
    """Code two documents share: lines of one and the matching lines of the other (1-based, inclusive)."""

    #: First and last line in the first document.
    a: tuple[int, int]
    #: First and last line in the second.
    b: tuple[int, int]


def passages(a: dict[int, list[tuple[int, int]]], b: dict[int, list[tuple[int, int]]],
             shared: set[int]) -> list[Passage]:
    """The shared hashes as passages. Matches are taken in the first document's order; one that
    continues the open passage in both documents extends it (of a hash kept at several places in
    the second, the place that continues it is chosen), any other starts a new passage."""
    matches = sorted((span, h) for h in shared for span in a[h])
    merged: list[list[int]] = []
    for (a_first, a_last), h in matches:
        if merged and a_first <= merged[-1][1] + 1:
            last = merged[-1]
            follows = [span for span in b[h] if last[2] - 1 <= span[0] <= last[3] + 1]
            if follows:
                last[1], last[3] = max(last[1], a_last), max(last[3], follows[0][1])
                continue
        b_first, b_last = b[h][0]
        merged.append([a_first, a_last, b_first, b_last])
    return [Passage((p[0] + 1, p[1] + 1), (p[2] + 1, p[3] + 1)) for p in merged]
