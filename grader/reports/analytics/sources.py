"""The code of each student's latest graded file, read again from where it was graded.

The gradebook keeps the path and sha256 of every graded file, not the file. A file that is
gone, or whose bytes are no longer those that were graded, is skipped with a note: comparing
another version would show code nobody was graded on. Notebooks contribute their code cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from grader.gradebook.models import SubmissionRow
from grader.intake.notebook import NotebookError, neutralise_ipython, read_notebook
from grader.intake.submission import SubmissionTooLarge, content_hash, read_bounded
from grader.reports.analytics.readonly import ReadOnlyGradebook, latest_runs
from grader.reports.analytics.similarity import Document
from grader.text import clean_name

@dataclass
class Graded:
    """Where a student's latest graded file was, and what it was."""

    student: str
    #: The path as it was given to ``grader grade`` (relative to where that ran, if relative).
    path: str
    #: sha256 of the bytes that were graded.
    content_hash: str


def latest_files(gradebook: ReadOnlyGradebook, assignment: str) -> list[Graded]:
    latest = latest_runs(assignment)
    rows = gradebook.execute(
        select(latest.c.student, SubmissionRow.path, SubmissionRow.content_hash)
        .join(SubmissionRow, SubmissionRow.id == latest.c.submission_id).order_by(latest.c.student))
    return [Graded(student, path, digest) for student, path, digest in rows]


def document_of(data: bytes, name: str) -> Document:
    """A file's code: a notebook's code cells (IPython syntax neutralised, lines kept), or the file."""
    text = data.decode("utf-8-sig", "replace")
    if not name.endswith(".ipynb"):
        return Document.from_python(text)
    document = Document()
    for number, cell in enumerate(read_notebook(text).cells, start=1):
        if cell.get("cell_type") == "code" and cell.get("source", "").strip():
            source, _ = neutralise_ipython(cell["source"])
            if source is not None:
                document.add_cell(number, source)
    return document


def read_documents(files: list[Graded]) -> tuple[dict[str, Document], list[str]]:
    """Each readable file's document by student, and a note for each one skipped."""
    documents: dict[str, Document] = {}
    notes: list[str] = []
    for graded in files:
        path = Path(graded.path)
        shown = f"{clean_name(graded.student)}: {clean_name(graded.path)}"
        try:
            data = read_bounded(path)
        except SubmissionTooLarge:
            notes.append(f"{shown} is larger than a submission may be; skipped")
            continue
        except (OSError, ValueError):
            hint = "" if path.is_absolute() else " (the path is relative to the folder grading ran in)"
            notes.append(f"{shown} is no longer there{hint}; skipped")
            continue
        if content_hash(data) != graded.content_hash:
            notes.append(f"{shown} has changed since it was graded; skipped")
            continue
        try:
            documents[graded.student] = document_of(data, path.name)
        except NotebookError as error:
            notes.append(f"{shown} is not a readable notebook ({clean_name(str(error))}); skipped")
    return documents, notes


def stub_document(stub: Path | None) -> tuple[Document | None, list[str]]:
    """The released stub's code (its notebook has the same code cells), or None with a note."""
    if stub is None or not stub.is_file():
        return None, ["the assignment's stub.py was not found in the course folder: starter code is not "
                      "subtracted (pass --course)"]
    return Document.from_python(stub.read_text(encoding="utf-8", errors="replace")), []
