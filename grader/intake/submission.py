"""Reading a submission file into units of code the sandbox runs one by one.

A notebook's units are its code cells; a ``.py`` file's units are its top-level statements.
Running them one by one means a demo line that raises (a plot without matplotlib, a
scratch NameError) is reported and the rest of the submission still gets graded.

Only parsing happens here, in the trusted process: ``ast.parse`` never executes code.
"""

from __future__ import annotations

import __future__
import ast
import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.names import Defined, defined_in_lines, top_level_names
from grader.intake.notebook import NotebookError, code_cell_labels, neutralise_ipython, read_notebook
from grader.results import Note, Where
from grader.text import EXCERPT_LIMIT, clean, clean_name

SUFFIXES = (".py", ".ipynb")
MAX_SUBMISSION_BYTES = 8 * 1024 * 1024
#: Why a file with nothing to run cannot be graded, and what to do (the usual cause: the editor had
#: not saved it yet when it was submitted).
EMPTY = {
    ".py": "the file is empty: save your work in your editor, then submit the saved file again",
    ".ipynb": "the file is empty: save your notebook in Jupyter, then submit the saved file again",
}
ONLY_COMMENTS = "the file has no code, only comments: save your work in your editor, then submit the saved file again"
NO_CODE = "the notebook has no code: save your notebook in Jupyter, then submit the saved file again"
#: One line as Python counts them (``str.splitlines`` also breaks at form feeds and other separators).
_PYTHON_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass(frozen=True)
class Unit:
    """One piece of the submission that runs as a whole."""

    source: str
    #: The name tracebacks use: the file's name, or ``cell N`` for notebooks (N among all cells).
    filename: str
    #: How feedback refers to it: ``line 12``, or what Jupyter shows: ``In [9]`` or ``code cell 4``.
    label: str
    #: Line of the file (or cell) where the source starts, so line numbers match the student's.
    first_line: int = 1
    #: The notebook cell it is (1-based among all cells), or None for a ``.py`` file's statement.
    cell: int | None = None


@dataclass(frozen=True)
class Place:
    """How a student finds the code behind one file name that tracebacks use."""

    #: ``In [9]`` or ``code cell 4`` for a notebook cell, the file's name for a ``.py`` file.
    label: str
    #: The notebook cell (1-based among all cells, as the file stores them), or None.
    cell: int | None = None


@dataclass
class Submission:
    """A student's file, parsed and ready to run."""

    path: Path
    student: str
    #: sha256 of the file's bytes: with student and assignment, identifies the submission.
    content_hash: str
    units: list[Unit] = field(default_factory=list)
    #: Things worth telling the student that do not stop grading (skipped cells, magics).
    notes: list[Note] = field(default_factory=list)
    #: Why the whole file cannot be graded (it then scores 0), or None.
    error: str | None = None
    #: Where ``error`` points (a syntax error's line), if anywhere.
    error_where: Where | None = None
    #: ``from __future__`` flags of a ``.py`` file, applied to every unit.
    compile_flags: int = 0
    #: The student's own lines, by the file name tracebacks use (the ``.py`` file's name or
    #: ``cell N``), for quoting the line an error points at.
    lines: dict[str, list[str]] = field(default_factory=dict)
    #: How the student finds each of those file names (a notebook cell's label and number).
    places: dict[str, Place] = field(default_factory=dict)
    #: The names the file binds at its top level (functions, classes, variables, imports), or
    #: None when that cannot be told from its source (``import *``, ``exec``) or was not read.
    defined: Defined | None = None

    @property
    def display_name(self) -> str:
        """The file's name as it can be shown anywhere (any bytes made printable)."""
        return display_name(self.path)

    def where(self, filename, line) -> Where | None:
        """The place ``filename`` (as a traceback names it), ``line`` is, or None if it is not one
        of this submission's (a sandbox's report is checked against the submission, never trusted)."""
        if not isinstance(filename, str) or filename not in self.lines:
            return None
        lines = self.lines[filename]
        if isinstance(line, bool) or not isinstance(line, int) or not 1 <= line <= len(lines):
            line = None
        place = self.places.get(filename) or Place(filename)
        label = place.label if line is None else f"{place.label}, line {line}"
        if line is not None:
            source = lines[line - 1]
        else:  # a whole cell: its first line, to find it by (a .py file has no one line to show)
            source = next((text for text in lines if text.strip()), "") if place.cell is not None else ""
        return Where(label=label, cell=place.cell, line=line,
                     source=clean(source.strip(), EXCERPT_LIMIT, multiline=False))


def display_name(path: Path) -> str:
    return clean_name(os.fsencode(path.name))


def python_lines(text: str) -> list[str]:
    """``text``'s lines, each with its line end, numbered as Python numbers them in tracebacks."""
    return _PYTHON_LINE.findall(text)


def _syntax_error_line(exc: SyntaxError, source: str) -> int | None:
    """The line a syntax error is at: Python's, else (a NUL byte, which Python does not place) the
    first line holding one, else None."""
    if isinstance(exc.lineno, int) and not isinstance(exc.lineno, bool):
        return exc.lineno
    if "\0" in source:
        return source.count("\n", 0, source.index("\0")) + 1
    return None


def _syntax_error_text(exc: SyntaxError, line: int | None) -> str:
    """``SyntaxError at line 5: expected ':'``; without "at line" when no line is known."""
    at = f" at line {line}" if line is not None else ""
    return f"{type(exc).__name__}{at}: {clean(exc.msg or 'invalid syntax', 200, multiline=False)}"


def _future_flags(tree: ast.Module) -> int:
    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return flags


def _python_units(text: str, filename: str, submission: Submission) -> None:
    lines = python_lines(text)
    submission.lines[filename] = [line.rstrip("\r\n") for line in lines]
    if not text.strip():
        submission.error = EMPTY[".py"]
        return
    try:
        tree = ast.parse(text, filename=filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        if isinstance(exc, SyntaxError):
            line = _syntax_error_line(exc, text)
            submission.error = _syntax_error_text(exc, line)
            where = submission.where(filename, line)
            # Only the line: "SyntaxError at line 5" already names it, so the label is the bare line;
            # its source is the offending line, which every report shows under the error.
            if where is not None and where.line is not None:
                submission.error_where = Where(f"line {where.line}", None, where.line, where.source)
        else:
            submission.error = f"cannot parse: {clean(str(exc) or type(exc).__name__, 200, multiline=False)}"
        return
    if not tree.body:
        submission.error = ONLY_COMMENTS
        return
    submission.compile_flags = _future_flags(tree)
    submission.defined = top_level_names(tree, text)
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        source = "".join(lines[start - 1:end])
        submission.units.append(Unit(source=source, filename=filename, label=f"line {start}", first_line=start))


def _cell_note(submission: Submission, filename: str, text: str, line: int | None = None) -> None:
    place = submission.places[filename]
    where = submission.where(filename, line) or Where(place.label, place.cell)
    submission.notes.append(Note(clean(f"{place.label}: {text}", 500), where))


def _compiled(code: ast.Module | str, filename: str) -> ast.Module:
    """A cell's tree, once it compiles too: compiling runs nothing, and it finds the syntax errors
    parsing lets through ('return' outside a function, ``nonlocal`` at the top level), which the
    sandbox would otherwise report under the cell's internal name."""
    tree = ast.parse(code) if isinstance(code, str) else code
    with warnings.catch_warnings():  # a SyntaxWarning ('is' with a literal) is the sandbox's to show
        warnings.simplefilter("ignore")
        compile(tree, filename, "exec", dont_inherit=True)
    return tree


def _notebook_units(text: str, submission: Submission) -> None:
    try:
        notebook = read_notebook(text)
    except NotebookError as exc:
        submission.error = clean(f"not a valid notebook: {exc}", 500, multiline=False)
        return
    labels = code_cell_labels(notebook.cells)
    defined: Defined | None = Defined()
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        filename = f"cell {number}"
        source = cell.get("source", "")
        if not source.strip():
            continue
        submission.lines[filename] = [line.rstrip("\r\n") for line in python_lines(source)]
        submission.places[filename] = Place(labels[number], number)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            if defined is not None:  # what the skipped cell would define, as far as its text shows
                defined.add(defined_in_lines(submission.lines[filename]))
            source, neutralised = neutralise_ipython(source)
            if neutralised:
                _cell_note(submission, filename, f"IPython syntax not run: {'; '.join(neutralised)[:200]}")
            if source is None:
                continue
            tree = None
        try:
            tree = _compiled(tree or source, filename)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            if defined is not None:
                defined.add(defined_in_lines(submission.lines[filename]))
            if isinstance(exc, SyntaxError):
                line = _syntax_error_line(exc, source)
                _cell_note(submission, filename, f"{_syntax_error_text(exc, line)} (cell skipped)", line)
            else:
                _cell_note(submission, filename, f"cannot parse ({type(exc).__name__}; cell skipped)")
            continue
        found = top_level_names(tree)
        if found is None or defined is None:
            defined = None
        else:
            defined.add(found)
        submission.units.append(Unit(source=source, filename=filename, label=labels[number], cell=number))
    if not submission.lines:
        submission.error = NO_CODE
    submission.defined = defined


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def python_submission(source: str, filename: str, student: str) -> Submission:
    """A submission made from Python source held in memory (e.g. a reference being validated)."""
    submission = Submission(Path(filename), student, content_hash(source.encode()))
    _python_units(source, filename, submission)
    return submission


def read_bounded(path: Path, limit: int = MAX_SUBMISSION_BYTES) -> bytes:
    """The file's bytes; ``SubmissionTooLarge`` past ``limit`` without reading more than that."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise SubmissionTooLarge(os.fstat(handle.fileno()).st_size)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise SubmissionTooLarge(len(data))
    return data


class SubmissionTooLarge(Exception):
    """A submission file over ``MAX_SUBMISSION_BYTES``."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


def load_submission(path: Path, student: str) -> Submission:
    """Read and parse ``path``. Never raises for bad content: it sets ``error`` instead."""
    path = Path(path)
    name = display_name(path)
    # A submission is the student's own file: a link (to the reference, another student's
    # file, a secret of the grading host) would have the grader read that instead.
    linked = next((p for p in (path, path.parent) if p.is_symlink()), None)
    if linked is not None:
        return Submission(path, student, "", error=f"{display_name(linked)} is a symbolic link; submit the file itself")
    if path.suffix not in SUFFIXES:
        return Submission(path, student, "", error=f"unsupported file type {clean_name(path.suffix, 20) or '(none)'}: "
                                                    "submit a .py file or a .ipynb notebook")
    try:
        data = read_bounded(path)
    except SubmissionTooLarge as too_large:
        return Submission(path, student, "", error=f"{name} is {too_large.size / 1024 / 1024:.1f} MiB; the limit is "
                                                    f"{MAX_SUBMISSION_BYTES // 1024 // 1024} MiB")
    except OSError as exc:
        return Submission(path, student, "", error=f"cannot read {name}: {exc.strerror or exc}")
    submission = Submission(path, student, content_hash(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        submission.error = f"not UTF-8 text (invalid byte at position {exc.start})"
        return submission
    if not text.strip():
        submission.error = EMPTY[path.suffix]
        return submission
    if path.suffix == ".ipynb":
        _notebook_units(text, submission)
    else:
        _python_units(text, name, submission)
    return submission
