"""What every run inside an autograder platform shares (Gradescope, PrairieLearn, GitHub Classroom).

The platform hands over a folder with the student's files and wants one results file back.
``find_submission`` picks the file to grade, ``grade_one`` grades it (the student's code in
the sandbox, as always), ``ungraded`` is the result when there is nothing to grade, and
``write_results`` writes the platform's file from this trusted process, atomically, as JSON
that any parser accepts whatever the result holds.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from grader.grading import failures
from grader.course.assignment import Assignment
from grader.errors import SubmissionError
from grader.intake.submission import SUFFIXES
from grader.reports.jsonsafe import json_safe
from grader.results import SubmissionResult

#: Folders of a submission that never hold the file to grade.
IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX"}


def find_submission(folder: Path, module: str) -> Path:
    """The file to grade in a platform's submission folder.

    The ``.py`` or ``.ipynb`` named after the assignment's module (the shallowest; ``.py``
    before ``.ipynb``), else the only candidate. Symbolic links are never graded (one could
    point at the reference). Raises ``SubmissionError`` saying what was found and what to do.
    """
    expected = f"{module}.py or {module}.ipynb"
    if not folder.is_dir():
        raise SubmissionError(f"no submission folder: nothing was submitted. Submit {expected}")
    candidates: list[Path] = []
    links: list[str] = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if d not in IGNORED_FOLDERS and not d.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if name.startswith(".") or path.suffix not in SUFFIXES:
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                links.append(path.relative_to(folder).as_posix())
            elif stat.S_ISREG(mode):
                candidates.append(path)

    def rank(path: Path) -> tuple:
        return len(path.relative_to(folder).parts), path.suffix != ".py", path.as_posix()

    named = sorted((p for p in candidates if p.stem == module), key=rank)
    if named:
        if len(named) > 1 and rank(named[0])[:2] == rank(named[1])[:2]:
            raise SubmissionError(f"several files are named {named[0].name} "
                                  f"({', '.join(p.relative_to(folder).as_posix() for p in named[:5])}); "
                                  f"submit only one {expected}")
        return named[0]
    if len(candidates) == 1:
        return candidates[0]
    skipped = f" (symbolic links are not graded: {', '.join(links[:5])})" if links else ""
    if not candidates:
        found = f"found no .py or .ipynb file{skipped}"
    else:
        names = [p.relative_to(folder).as_posix() for p in candidates]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        found = f"found several files and none named {expected} ({shown}){skipped}"
    raise SubmissionError(f"{found}: submit {expected}")


def ungraded(assignment: Assignment, student: str, reason: str, file: str = "") -> SubmissionResult:
    """A result scoring 0 with every check listed as not graded, for ``reason`` (the submission's)."""
    return failures.ungraded(assignment, student=student, file=file, content_hash="", error=reason,
                             fault="submission")


def grade_one(assignment: Assignment, path: Path, student: str, forkserver=None) -> tuple[SubmissionResult, list[str]]:
    """Grade ``path`` with every check of ``assignment``; the result and the isolation layers this
    host does not allow (named for the log). ``forkserver`` (tests) is a running warm parent."""
    from grader.grading.grader import Grader  # here, not at the top: `grader --help` needs none of numpy
    from grader.sandbox.forkserver import ForkServer
    from grader.course.devices import needs_gpu

    own = forkserver is None
    if own:
        forkserver = ForkServer(assignment.limits.warm_imports, gpu=needs_gpu(assignment),
                                limits=assignment.limits).start()
    try:
        missing = [f"{layer.title}: {layer.detail}" for layer in forkserver.missing_layers]
        with Grader(assignment, forkserver=forkserver) as graded:
            return graded.grade_file(path, student), missing
    finally:
        if own:
            forkserver.close()


def clear_results(results_path: Path) -> None:
    """Remove any results file already there (whatever it is), making its folder if needed."""
    results_path.parent.mkdir(parents=True, exist_ok=True)
    if results_path.is_dir() and not results_path.is_symlink():
        shutil.rmtree(results_path)
    else:
        results_path.unlink(missing_ok=True)


def write_results(results_path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically (a temporary file in the same folder, then ``os.replace``),
    valid whatever it holds: lone surrogates replaced, NaN and infinities as null, ASCII escapes."""
    clear_results(results_path)
    text = json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"
    handle, temporary = tempfile.mkstemp(dir=results_path.parent, prefix=".results-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, results_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
