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
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.notebook import NotebookError, neutralise_ipython, read_notebook
from grader.results import Note, Where
from grader.text import EXCERPT_LIMIT, clean, clean_name

SUFFIXES = (".py", ".ipynb")
MAX_SUBMISSION_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Unit:
    """One piece of the submission that runs as a whole."""

    source: str
    #: The name tracebacks use: the file's name, or ``cell N`` for notebooks.
    filename: str
    #: How feedback refers to it: ``line 12`` or ``cell 3``.
    label: str
    #: Line of the file (or cell) where the source starts, so line numbers match the student's.
    first_line: int = 1
    #: The notebook cell it is (1-based among all cells), or None for a ``.py`` file's statement.
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

    @property
    def display_name(self) -> str:
        """The file's name as it can be shown anywhere (any bytes made printable)."""
        return display_name(self.path)

    def where(self, filename, line) -> Where | None:
        """The place ``filename`` (as a traceback names it), ``line`` is, or None if it is not one
        of this submission's (a sandbox's report is checked against the submission, never trusted)."""
        if not isinstance(filename, str) or filename not in self.lines:
            return None
        if isinstance(line, bool) or not isinstance(line, int) or not 1 <= line <= len(self.lines[filename]):
            line = None
        cell = int(filename.split()[1]) if filename.startswith("cell ") else None
        label = filename if line is None else f"{filename}, line {line}"
        source = clean(self.lines[filename][line - 1].strip(), EXCERPT_LIMIT, multiline=False) if line else ""
        return Where(label=label, cell=cell, line=line, source=source)


def display_name(path: Path) -> str:
    return clean_name(os.fsencode(path.name))


def _syntax_error_text(exc: SyntaxError) -> str:
    return f"{type(exc).__name__} at line {exc.lineno}: {clean(exc.msg, 200, multiline=False)}"


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
    lines = text.splitlines(keepends=True)
    submission.lines[filename] = [line.rstrip("\r\n") for line in lines]
    try:
        tree = ast.parse(text, filename=filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        if isinstance(exc, SyntaxError):
            submission.error = _syntax_error_text(exc)
            where = submission.where(filename, exc.lineno)
            # Only the line: "SyntaxError at line 5" already names it, so the label is the bare line.
            submission.error_where = where and Where(f"line {where.line}", None, where.line, where.source)
        else:
            submission.error = f"cannot parse: {clean(str(exc) or type(exc).__name__, 200, multiline=False)}"
        return
    submission.compile_flags = _future_flags(tree)
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        source = "".join(lines[start - 1:end])
        submission.units.append(Unit(source=source, filename=filename, label=f"line {start}", first_line=start))


def _cell_note(submission: Submission, label: str, text: str, line: int | None = None) -> None:
    where = submission.where(label, line) or Where(label, int(label.split()[1]))
    submission.notes.append(Note(clean(f"{label}: {text}", 500), where))


def _notebook_units(text: str, submission: Submission) -> None:
    try:
        notebook = read_notebook(text)
    except NotebookError as exc:
        submission.error = clean(f"not a valid notebook: {exc}", 500, multiline=False)
        return
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        label = f"cell {number}"
        source = cell.get("source", "")
        if not source.strip():
            continue
        submission.lines[label] = source.splitlines()
        try:
            ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            source, neutralised = neutralise_ipython(source)
            if neutralised:
                _cell_note(submission, label, f"IPython syntax not run: {'; '.join(neutralised)[:200]}")
            if source is None:
                continue
            try:
                ast.parse(source)
            except SyntaxError as exc:
                _cell_note(submission, label, f"{_syntax_error_text(exc)} (cell skipped)", exc.lineno)
                continue
            except (ValueError, RecursionError, MemoryError) as exc:
                _cell_note(submission, label, f"cannot parse ({type(exc).__name__}; cell skipped)")
                continue
        submission.units.append(Unit(source=source, filename=label, label=label, cell=number))


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
    if path.suffix == ".ipynb":
        _notebook_units(text, submission)
    else:
        _python_units(text, name, submission)
    return submission
