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
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.notebook import NotebookError, neutralise_ipython, read_notebook

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


@dataclass
class Submission:
    """A student's file, parsed and ready to run."""

    path: Path
    student: str
    #: sha256 of the file's bytes: with student and assignment, identifies the submission.
    content_hash: str
    units: list[Unit] = field(default_factory=list)
    #: Things worth telling the student that do not stop grading (skipped cells, magics).
    notes: list[str] = field(default_factory=list)
    #: Why the whole file cannot be graded (it then scores 0), or None.
    error: str | None = None
    #: ``from __future__`` flags of a ``.py`` file, applied to every unit.
    compile_flags: int = 0


def _syntax_error_text(exc: SyntaxError) -> str:
    return f"{type(exc).__name__} at line {exc.lineno}: {exc.msg}"


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
    try:
        tree = ast.parse(text, filename=filename)
    except (SyntaxError, ValueError) as exc:
        submission.error = _syntax_error_text(exc) if isinstance(exc, SyntaxError) else f"cannot parse: {exc}"
        return
    submission.compile_flags = _future_flags(tree)
    lines = text.splitlines(keepends=True)
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        source = "".join(lines[start - 1:end])
        submission.units.append(Unit(source=source, filename=filename, label=f"line {start}", first_line=start))


def _notebook_units(text: str, submission: Submission) -> None:
    try:
        notebook = read_notebook(text)
    except NotebookError as exc:
        submission.error = f"not a valid notebook: {exc}"
        return
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        label = f"cell {number}"
        source = cell.get("source", "")
        if isinstance(source, list):  # tolerated in the wild even after upgrade
            source = "".join(source)
        if not source.strip():
            continue
        try:
            ast.parse(source)
        except SyntaxError:
            source, neutralised = neutralise_ipython(source)
            if neutralised:
                submission.notes.append(f"{label}: IPython syntax not run: {'; '.join(neutralised)[:200]}")
            if source is None:
                continue
            try:
                ast.parse(source)
            except SyntaxError as exc:
                submission.notes.append(f"{label}: {_syntax_error_text(exc)} (cell skipped)")
                continue
        submission.units.append(Unit(source=source, filename=label, label=label))


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def python_submission(source: str, filename: str, student: str) -> Submission:
    """A submission made from Python source held in memory (e.g. a reference being validated)."""
    submission = Submission(Path(filename), student, content_hash(source.encode()))
    _python_units(source, filename, submission)
    return submission


def load_submission(path: Path, student: str) -> Submission:
    """Read and parse ``path``. Never raises for bad content: it sets ``error`` instead."""
    path = Path(path)
    # A submission is the student's own file: a link (to the reference, another student's
    # file, a secret of the grading host) would have the grader read that instead.
    linked = next((p for p in (path, path.parent) if p.is_symlink()), None)
    if linked is not None:
        return Submission(path, student, "", error=f"{linked.name} is a symbolic link; submit the file itself")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Submission(path, student, "", error=f"cannot read {path.name}: {exc.strerror}")
    submission = Submission(path, student, content_hash(data))
    if path.suffix not in SUFFIXES:
        submission.error = f"unsupported file type {path.suffix or '(none)'}: submit a .py file or a .ipynb notebook"
        return submission
    if len(data) > MAX_SUBMISSION_BYTES:
        submission.error = f"file is {len(data) // 1024 // 1024} MiB; the limit is {MAX_SUBMISSION_BYTES // 1024 // 1024} MiB"
        return submission
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        submission.error = f"not UTF-8 text (invalid byte at position {exc.start})"
        return submission
    if path.suffix == ".ipynb":
        _notebook_units(text, submission)
    else:
        _python_units(text, path.name, submission)
    return submission
