"""The graded file as reports read it, and which student functions a check exercises.

Reports read the file again (never run it) to annotate a notebook and to quote lines of
results stored before excerpts were. Nothing here trusts the file: it may have changed, be
gone, or not be a notebook any more.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path
from typing import Iterable, Sequence

from grader.intake.notebook import NotebookError, neutralise_ipython, read_notebook
from grader.intake.submission import SubmissionTooLarge, content_hash, read_bounded
from grader.results import CheckResult, SubmissionResult, Where
from grader.text import EXCERPT_LIMIT, clean, clean_name


class SubmissionSource:
    """The graded file, if it is still there unchanged: its lines, or its notebook's cells."""

    def __init__(self, path: Path, *, notebook=None, lines: list[str] | None = None):
        self.path = path
        self.notebook = notebook
        self._lines = lines or []

    @classmethod
    def load(cls, result: SubmissionResult) -> tuple["SubmissionSource | None", str]:
        """The source of ``result``'s file, or None and why it cannot be used (one line)."""
        path = Path(result.file)
        shown = clean_name(result.file, 500)
        try:
            data = read_bounded(path)
        except SubmissionTooLarge:
            return None, f"{shown} is larger than a submission may be"
        except (OSError, ValueError):
            hint = "" if path.is_absolute() else " (the path is relative to the folder grading ran in)"
            return None, f"{shown} is no longer there{hint}"
        if result.content_hash and content_hash(data) != result.content_hash:
            return None, f"{shown} has changed since it was graded"
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None, f"{shown} is not UTF-8 text"
        if path.suffix == ".ipynb":
            try:
                return cls(path, notebook=read_notebook(text)), ""
            except NotebookError as exc:
                return None, f"{shown} is not a readable notebook ({clean_name(str(exc))})"
        return cls(path, lines=text.splitlines()), ""

    def cell_source(self, number: int) -> str:
        cells = self.notebook.cells if self.notebook is not None else []
        if not 1 <= number <= len(cells):
            return ""
        return cells[number - 1].get("source", "")

    def line(self, where: Where) -> str:
        """The student's line at ``where``, stripped and capped ('' if there is none)."""
        if where.line is None:
            return ""
        lines = self.cell_source(where.cell).splitlines() if where.cell is not None else self._lines
        if not 1 <= where.line <= len(lines):
            return ""
        return clean(lines[where.line - 1].strip(), EXCERPT_LIMIT, multiline=False)

    def defined_functions(self) -> dict[str, int]:
        """Top-level functions and classes the notebook defines, each with its defining cell
        (numbered from 1 among all cells; a name defined twice keeps the later cell, the
        definition that ran last). Empty for a ``.py`` file."""
        found: dict[str, int] = {}
        if self.notebook is None:
            return found
        for number, cell in enumerate(self.notebook.cells, start=1):
            if cell.get("cell_type") != "code":
                continue
            tree = _parse(cell.get("source", ""))
            if tree is None:
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    found[node.name] = number
        return found


def _parse(source: str) -> ast.Module | None:
    for text in (source, neutralise_ipython(source)[0]):
        if text is None:
            return None
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return None


def student_calls(function) -> list[str]:
    """Names a check calls as ``<ctx>.student.NAME`` or in a batch, ``<ctx>.calls("NAME", ...)``
    (not ``harness=True``), in source order ([] if its source is unavailable)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, ValueError):
        return []
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "student":
            calls.append((node.lineno, node.col_offset, node.attr))
        elif _batch_of_student(node):
            calls.append((node.lineno, node.col_offset, node.args[0].value))
    return list(dict.fromkeys(name for *_, name in sorted(calls)))


def _batch_of_student(node: ast.AST) -> bool:
    """``<ctx>.calls("NAME", ...)`` with the name written out, calling the student's functions."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "calls"
            and bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            and not any(k.arg == "harness" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                        for k in node.keywords))


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


def functions_for(check: CheckResult, calls: Sequence[str], candidates: Iterable[str]) -> tuple[str, ...]:
    """The functions a check relates to, most specific first: those its source calls, then those
    its name mentions."""
    ordered = list(calls)
    ordered += sorted((f for f in candidates if _name_mentions(check.name, f)), key=len, reverse=True)
    return tuple(dict.fromkeys(ordered))
