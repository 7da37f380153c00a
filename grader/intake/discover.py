"""Finding the submissions to grade in the files and folders a TA names.

A file is one student's submission, named after its stem; ``folder/<student>/<file>`` names the
student after the folder. Nothing is read or run here: only names and file types are looked at.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.errors import UsageError
from grader.intake.submission import SUFFIXES
from grader.text import clean_name

IGNORED_FOLDERS = {".ipynb_checkpoints", "__pycache__"}


@dataclass(frozen=True)
class SubmissionFile:
    """A file to grade and whose it is."""

    path: Path
    student: str
    #: When the student submitted it, if known (set by ``with_submission_times``).
    submitted_at: datetime | None = None
    #: Where ``submitted_at`` came from: ``option``, ``manifest``, ``lms`` or ``mtime`` (the
    #: file's modification time, which a student controls inside a zip), or None.
    submitted_at_source: str | None = None


def student_id(raw: str) -> str:
    """A student id from a file or folder name: the name itself when it is printable text, else
    a printable form of it with a short hash of the raw name, so two odd names never collide."""
    shown = clean_name(os.fsencode(raw), 120)
    if shown == raw and shown:
        return raw
    digest = hashlib.sha256(os.fsencode(raw)).hexdigest()[:8]
    return f"{shown or 'student'}-{digest}"


def _candidates(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))


def _pick(folder: Path, module: str) -> Path | None:
    """The submission inside a student's folder: the one named after the module, or the only one."""
    files = _candidates(folder)
    if not files:
        return None
    named = [p for p in files if p.stem == module]
    if named:
        return sorted(named, key=lambda p: p.suffix != ".py")[0] if len(named) > 1 else named[0]
    if len(files) == 1:
        return files[0]
    raise UsageError(f"{clean_name(str(folder))} holds several submissions ({', '.join(clean_name(p.name) for p in files)}); "
                     f"name the one to grade {module}.py or {module}.ipynb")


def find_submissions(paths: list[Path], module: str) -> list[SubmissionFile]:
    """Expand files and folders into submissions; ``folder/<student>/<file>`` names the student."""
    found: list[SubmissionFile] = []
    for path in map(Path, paths):
        path = path.resolve()  # stored paths must still make sense from another folder
        if path.is_file():
            found.append(SubmissionFile(path, student_id(path.stem)))
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.name.startswith(".") or entry.name in IGNORED_FOLDERS:
                    continue
                if entry.is_file() and entry.suffix in SUFFIXES:
                    found.append(SubmissionFile(entry, student_id(entry.stem)))
                elif entry.is_dir():
                    picked = _pick(entry, module)
                    if picked is not None:
                        found.append(SubmissionFile(picked, student_id(entry.name)))
        else:
            raise UsageError(f"{clean_name(str(path))}: no such file or folder")
    return found


