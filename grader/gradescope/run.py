"""One grading run inside Gradescope: what the bundle's ``run_autograder`` calls.

``run`` picks the student's file in ``/autograder/submission/``, grades it with every check
(the student's code in the sandbox, as always) and writes ``results.json`` last, from this
trusted process, atomically, replacing whatever was there. It always writes one: a missing
file, a broken autograder or a bug of ours becomes a score of 0 with a message, never a
missing or invalid result.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.assignment import Assignment, get_assignment
from grader.errors import GraderError, SubmissionError, UsageError
from grader.gradescope.bundle import STUDENT_ID_FIELDS
from grader.gradescope.results import failure_json, results_json
from grader.intake.submission import SUFFIXES
from grader.results import CheckResult, SubmissionResult
from grader.sandbox.forkserver import ForkServer
from grader.text import clean_name

#: Where Gradescope lays out the autograder (``source/``, ``submission/``, ``results/``).
DEFAULT_ROOT = Path("/autograder")
#: Folders of a submission that never hold the file to grade.
IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX"}


def find_submission(folder: Path, module: str) -> Path:
    """The file to grade in Gradescope's submission folder.

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


def student_from_metadata(path: Path, *, prefer: str = "email") -> str | None:
    """The student's id from Gradescope's ``submission_metadata.json``, or None.

    ``users[0]`` names the submitter (the first member of a group): its ``prefer``
    (``email``, ``sid`` or ``name``), else the first of the others that is set.
    """
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
        user = metadata["users"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(user, dict):
        return None
    for key in (prefer, *STUDENT_ID_FIELDS):
        value = user.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return clean_name(str(value)) or None
    return None


# Markdown: Gradescope renders test outputs as Markdown ("md"), so text from checks and from


def ungraded(assignment: Assignment, student: str, reason: str, file: str = "") -> SubmissionResult:
    """A result scoring 0 with every check listed as not graded, for ``reason``."""
    checks = [CheckResult(name=c.name, score=0.0, max_score=c.points, status="error", message=f"not graded: {reason}",
                          visibility=c.visibility, description=c.description, reason="submission_error")
              for c in assignment.checks]
    return SubmissionResult(student=student, assignment=assignment.name, file=file, content_hash="", score=0.0,
                            max_score=assignment.max_score(), status="error", error=reason, checks=checks,
                            fault="submission")



def clear_results(results_path: Path) -> None:
    """Remove any results.json already there (whatever it is), making its folder if needed."""
    results_path.parent.mkdir(parents=True, exist_ok=True)
    if results_path.is_dir() and not results_path.is_symlink():
        shutil.rmtree(results_path)
    else:
        results_path.unlink(missing_ok=True)


def write_results(results_path: Path, data: dict) -> None:
    """Write results.json atomically: a temporary file in the same folder, then ``os.replace``."""
    clear_results(results_path)
    handle, temporary = tempfile.mkstemp(dir=results_path.parent, prefix=".results-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)  # ASCII with escapes: valid whatever a student's text holds
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, results_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class RunReport:
    """What one ``run`` did, for the log (Gradescope shows the log to instructors only)."""

    #: The results.json written.
    results_path: Path
    #: Its contents.
    results: dict
    #: The student's id used for grading (metadata or file stem).
    student: str
    #: The file graded, or None when there was none to grade.
    submission: Path | None = None
    #: The grading result, or None when nothing was graded.
    result: SubmissionResult | None = None
    #: Why the autograder itself failed (an error line or a traceback), or None.
    failure: str | None = None
    #: Isolation layers the sandbox could not use on this host.
    missing_layers: list[str] = field(default_factory=list)


def run(assignment_name: str, *, course_root: Path, root: Path = DEFAULT_ROOT, student_id: str = "email",
        forkserver: ForkServer | None = None) -> RunReport:
    """Grade the submission in ``root/submission/`` and write ``root/results/results.json``.

    Always writes results.json (a score of 0 and a message when there is nothing to grade
    or the autograder fails); raises only if it cannot write it. ``forkserver`` (tests) is
    a running warm parent to use instead of starting one.
    """
    if student_id not in STUDENT_ID_FIELDS:
        raise UsageError(f"student id field must be one of {', '.join(STUDENT_ID_FIELDS)}, not {student_id!r}")
    started = time.monotonic()
    root = Path(root)
    results_path = root / "results" / "results.json"
    clear_results(results_path)  # whatever is there now is not ours
    student = student_from_metadata(root / "submission_metadata.json", prefer=student_id) or ""
    report = RunReport(results_path=results_path, results={}, student=student)
    try:
        assignment = get_assignment(assignment_name, Path(course_root))
        try:
            path = find_submission(root / "submission", assignment.module)
        except SubmissionError as exc:
            report.student = student or "unknown"
            result = ungraded(assignment, report.student, str(exc))
        else:
            report.submission, report.student = path, student or path.stem
            result = _grade(assignment, path, report, forkserver)
        report.result = result
        data = results_json(result, assignment, execution_time=time.monotonic() - started)
    except GraderError as exc:
        report.failure = f"{type(exc).__name__}: {exc}"
        data = failure_json(report.failure, student=report.student, assignment=assignment_name)
    except Exception as exc:  # noqa: BLE001 - a grader bug must still give the student a result
        report.failure = traceback.format_exc()
        data = failure_json(f"{type(exc).__name__}: {exc}", student=report.student, assignment=assignment_name)
    data["execution_time"] = int(math.ceil(time.monotonic() - started))
    write_results(results_path, data)
    report.results = data
    return report


def _grade(assignment: Assignment, path: Path, report: RunReport, forkserver: ForkServer | None) -> SubmissionResult:
    from grader.grading.grader import Grader  # here, not at the top: `grader --help` needs none of numpy

    own = forkserver is None
    if own:
        forkserver = ForkServer(assignment.limits.warm_imports).start()
    try:
        report.missing_layers = [f"{layer.title}: {layer.detail}" for layer in forkserver.missing_layers]
        with Grader(assignment, forkserver=forkserver) as graded:
            return graded.grade_file(path, report.student)
    finally:
        if own:
            forkserver.close()
