"""Gradescope: the autograder bundle to upload, and one grading run inside Gradescope.

Gradescope builds a container image from a zip holding ``setup.sh`` and ``run_autograder``
(unpacked in ``/autograder/source``), then, for every submission, puts the student's files
in ``/autograder/submission/`` and runs ``run_autograder``; what
``/autograder/results/results.json`` says then is the grade
(https://gradescope-autograders.readthedocs.io/en/latest/specs/).

``build_bundle`` writes that zip for one assignment: the grader's source and pins, that
assignment's folder and its reference, nothing else. ``run`` is what ``run_autograder``
calls: it picks the student's file, grades it with every check (the student's code in the
sandbox, as always) and writes ``results.json`` last, from this trusted process, atomically,
replacing whatever was there. It always writes one: a missing file or a broken autograder
becomes a score of 0 with a message, never a missing result.

What students see: per check, its description and, for public checks, the message
``grader check`` would show. Hidden checks are listed with visibility ``after_published``
and say only whether they passed and how they failed, never their inputs or messages;
the student's own printed output (which may echo hidden inputs) stays out of results.json.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import stat
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import grader
from grader.course.assignment import Assignment, get_assignment
from grader.errors import AssignmentError, GraderError, SubmissionError, UsageError
from grader.results import CheckResult, SubmissionResult, format_points
from grader.sandbox.forkserver import ForkServer
from grader.intake.submission import SUFFIXES

#: Where Gradescope lays out the autograder (``source/``, ``submission/``, ``results/``).
DEFAULT_ROOT = Path("/autograder")
#: The PyTorch index serving CPU-only wheels; setup.sh takes torch (and only torch) from it.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Fields of ``submission_metadata.json``'s ``users[0]`` that can name the student.
STUDENT_ID_FIELDS = ("email", "sid", "name")
#: Gradescope's visibility for our public and hidden checks.
VISIBILITY = {"public": "visible", "hidden": "after_published"}
#: Folders of a submission that never hold the file to grade.
IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX"}
#: Files and folders of a source tree never copied into the bundle.
_NOT_BUNDLED = {"__pycache__", ".ipynb_checkpoints"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources give the same zip
_HOW_FAILED = {"failed": "wrong answer", "error": "an error (an exception, a missing function or a crash)",
               "timeout": "time limit exceeded"}


# --- the bundle --------------------------------------------------------------------------------

@dataclass
class Bundle:
    """An autograder zip written by ``build_bundle``."""

    #: Where the zip was written.
    path: Path
    #: The names inside it, in the order written.
    names: list[str]


def source_tree() -> Path:
    """The folder holding this package's ``pyproject.toml`` (a source checkout or an editable install)."""
    root = Path(grader.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise UsageError(f"the grader's source tree is not available (no pyproject.toml next to {root / 'grader'}); "
                         "build the bundle from a checkout of the grader (pip install -e .)")
    return root


def _tree_files(folder: Path) -> list[Path]:
    """Regular files under ``folder``, sorted, without caches, hidden files or symbolic links."""
    found = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if d not in _NOT_BUNDLED and not d.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if name.startswith(".") or name.endswith((".pyc", ".pyo")) or not stat.S_ISREG(path.lstat().st_mode):
                continue
            found.append(path)
    return found


def setup_script() -> str:
    """``setup.sh``: run once, as root, when Gradescope builds the image."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; this bundle is
# unpacked in /autograder/source. It installs the grader, with the pins of constraints.txt,
# into its own virtual environment, /autograder/venv, which run_autograder uses.
#
# torch is pinned by constraints.txt (torch==2.13.0) and comes from PyTorch's CPU-only index,
# {TORCH_CPU_INDEX}: PyPI's Linux wheel of the same version pulls gigabytes
# of CUDA libraries an autograder never uses. Only torch comes from there (--no-deps);
# everything else, torch's own dependencies included, comes from PyPI under the same pins.
set -euo pipefail

ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
VENV="$ROOT/venv"
TORCH_INDEX_URL="${{TORCH_INDEX_URL:-{TORCH_CPU_INDEX}}}"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

# The grader needs Python >= 3.11 ($PYTHON if set): the newest the image has, else python3.11
# from apt (Ubuntu 22.04 ships 3.10 as python3 and 3.11 as a package; 24.04 ships 3.12).
PYTHON="${{PYTHON:-}}"
if [ -z "$PYTHON" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
        if "$candidate" -c "import sys; sys.exit(sys.version_info < (3, 11))" >/dev/null 2>&1; then
            PYTHON="$(command -v "$candidate")"; break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PYTHON="$(command -v python3.11)"
fi
# Debian and Ubuntu package venv's pip bootstrap (ensurepip) separately.
if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends "$(basename "$PYTHON")-venv"
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
# 1. torch alone: the CPU wheel, at the version constraints.txt pins.
"$VENV/bin/python" -m pip install --no-deps --index-url "$TORCH_INDEX_URL" -c "$SOURCE/constraints.txt" torch
# 2. the grader and its dependencies (torch's too), from PyPI, under the same pins.
"$VENV/bin/python" -m pip install -c "$SOURCE/constraints.txt" "$SOURCE"
"$VENV/bin/python" -c "import torch; print('torch', torch.__version__)"
"$VENV/bin/grader" --version

# Student code runs as an unprivileged sandbox uid: keep the reference solution and the
# checks readable by root (the grading process) only.
chmod -R go-rwx "$SOURCE"
"""


def run_script(assignment: str, student_id: str) -> str:
    """``run_autograder``: run for every submission, from /autograder, as root."""
    command = (f'"$GRADER" --course "$ROOT/source" gradescope run {shlex.quote(assignment)} '
               f'--root "$ROOT" --student-id {shlex.quote(student_id)}')
    fallback = json.dumps({
        "score": 0.0, "execution_time": 0, "output": "The autograder could not run, so nothing was graded. This is not a problem "
                                "with your submission: please tell the course staff.",
        "output_format": "md", "stdout_visibility": "hidden", "tests": []})
    return f"""#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, from /autograder. The grader grades the
# file in /autograder/submission/ and writes /autograder/results/results.json (students see
# only what that file says; this script's output is shown to instructors only). It exits 0
# when it wrote results.json, whatever the score.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
GRADER="$ROOT/venv/bin/grader"
RESULTS="$ROOT/results/results.json"

if [ -x "$GRADER" ]; then
    {command}
    status=$?
else
    echo "run_autograder: $GRADER is missing: did setup.sh fail?"
    status=127
fi
if [ "$status" -ne 0 ]; then
    echo "run_autograder: the grader exited with status $status; writing a score of 0"
    mkdir -p "$ROOT/results"
    rm -rf "$RESULTS"
    cat > "$RESULTS" <<'EOF'
{fallback}
EOF
fi
exit 0
"""


def _zip_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.create_system = 3  # Unix: unzip honours the permission bits below
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build_bundle(assignment: Assignment, out: Path, *, student_id: str = "email",
                 source_root: Path | None = None) -> Bundle:
    """Write the Gradescope autograder zip of ``assignment`` to ``out``.

    It holds ``setup.sh`` and ``run_autograder`` at its root, the grader's source (``grader/``,
    ``pyproject.toml``, ``constraints.txt``, ``README.md``) from ``source_root`` (default: this
    package's source tree), ``assignments/<name>/`` and ``reference/<name>.py``: no other
    assignment, no samples, tests, virtual environments, gradebooks or version control.
    ``student_id`` is the field of Gradescope's submission metadata that names the student.
    """
    if student_id not in STUDENT_ID_FIELDS:
        raise UsageError(f"student id field must be one of {', '.join(STUDENT_ID_FIELDS)}, not {student_id!r}")
    source_root = Path(source_root) if source_root is not None else source_tree()
    assignment.checks  # a broken checks.py fails here, not on Gradescope
    if not assignment.reference_path.is_file():
        raise AssignmentError(f"assignment {assignment.name} has no reference solution at {assignment.reference_path}")
    for required in ("pyproject.toml", "constraints.txt"):
        if not (source_root / required).is_file():
            raise UsageError(f"{source_root} has no {required}: it is not the grader's source tree")

    entries: list[tuple[str, bytes, int]] = [
        ("setup.sh", setup_script().encode(), 0o755),
        ("run_autograder", run_script(assignment.name, student_id).encode(), 0o755),
    ]
    for name in ("pyproject.toml", "constraints.txt", "README.md", "LICENSE"):
        if (source_root / name).is_file():
            entries.append((name, (source_root / name).read_bytes(), 0o644))
    trees = ((source_root / "grader", "grader"), (assignment.directory, f"assignments/{assignment.name}"))
    for folder, prefix in trees:
        for path in _tree_files(folder):
            entries.append((f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes(), 0o644))
    entries.append((f"reference/{assignment.name}.py", assignment.reference_path.read_bytes(), 0o644))

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
            for name, data, mode in entries:
                archive.writestr(_zip_entry(name, mode), data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Bundle(path=out, names=[name for name, _, _ in entries])


# --- one run inside Gradescope -------------------------------------------------------------------

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
            return str(value).strip()
    return None


# Markdown: Gradescope renders test outputs as Markdown ("md"), so text from checks and from
# the student's file is escaped, and messages go into fenced code blocks, where nothing renders.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!&])")
_MD_LINE_START = re.compile(r"(?m)^(\s*)([-+=]|\d+[.)])")
_WHERE = re.compile(r"\(((?:cell \d+|[^()\n]+\.py)(?:, line \d+)?)\)")


def md_text(text: str) -> str:
    """``text`` as literal Markdown: no emphasis, links, HTML, headings or lists."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\" + m.group(2)[-1]), escaped)


def md_code_block(text: str) -> str:
    """``text`` verbatim in a fenced block (the fence is longer than any run of backticks inside)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def where_in_file(message: str) -> str | None:
    """The place in the student's file a message names (``cell 3, line 2``, ``perceptron.py, line 7``)."""
    found = _WHERE.findall(message)
    return found[-1] if found else None


def check_output(check: CheckResult, *, file_error: bool) -> str:
    """A check's ``output`` in results.json (Markdown)."""
    parts = [f"**{md_text(check.description)}**"] if check.description else []
    if check.status == "passed":
        parts.append("Passed.")
    elif file_error:
        parts.append("Not graded: your file could not be run (see the top of the results).")
    elif check.visibility != "public":
        parts.append(f"Not passed: {_HOW_FAILED.get(check.status, check.status)}. "
                     "The details of hidden checks are not shown.")
    else:
        parts.append(f"Not passed: {_HOW_FAILED.get(check.status, check.status)}.")
        if check.message:
            parts.append(md_code_block(check.message))
            where = where_in_file(check.message)
            if where:
                parts.append(f"**Where in your file:** {md_text(where)}")
    return "\n\n".join(parts)



def summary_output(result: SubmissionResult, assignment: Assignment | None) -> str:
    """The top-level ``output`` of results.json (Markdown): what was graded, notes, errors."""
    title = assignment.title if assignment is not None else result.assignment
    parts = [f"## {md_text(title)}"]
    if result.file:
        parts.append(f"Graded your file {md_text(Path(result.file).name)}.")
    if result.error:
        parts.append("**Nothing could be graded:**")
        parts.append(md_code_block(result.error))
        return "\n\n".join(parts)
    public = [c for c in result.checks if c.visibility == "public"]
    hidden = [c for c in result.checks if c.visibility != "public"]
    parts.append(f"**Public checks: {format_points(sum(c.score for c in public))} / "
                 f"{format_points(sum(c.max_score for c in public))} points.**")
    if hidden:
        parts.append(f"{len(hidden)} hidden check(s) worth {format_points(sum(c.max_score for c in hidden))} points "
                     "were graded too; their results appear when grades are published.")
    if result.notes:
        notes = "\n".join(f"- {md_text(note)}" for note in result.notes)
        parts.append(f"**Notes on your file** (grading went on regardless):\n\n{notes}")
    return "\n\n".join(parts)


def results_json(result: SubmissionResult, assignment: Assignment | None = None, *,
                 execution_time: float | None = None) -> dict:
    """Gradescope's results.json for one graded (or ungradable) submission."""
    file_error = result.status == "error"
    tests = [{
        "name": check.name,
        "number": str(number),
        "score": float(check.score),
        "max_score": float(check.max_score),
        "status": "passed" if check.status == "passed" else "failed",
        "output": check_output(check, file_error=file_error),
        "output_format": "md",
        "visibility": VISIBILITY.get(check.visibility, "after_published"),
    } for number, check in enumerate(result.checks, start=1)]
    data = {
        "score": float(result.score),
        "execution_time": int(math.ceil(execution_time if execution_time is not None else result.duration)),
        "output": summary_output(result, assignment),
        "output_format": "md",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"student": result.student, "file": Path(result.file).name if result.file else None,
                       "content_hash": result.content_hash or None, "status": result.status,
                       "grader_version": _grader_version()},
    }
    return data


def _grader_version() -> str | None:
    try:
        return version("grader")
    except PackageNotFoundError:
        return None


def ungraded(assignment: Assignment, student: str, reason: str, file: str = "") -> SubmissionResult:
    """A result scoring 0 with every check listed as not graded, for ``reason``."""
    checks = [CheckResult(name=c.name, score=0.0, max_score=c.points, status="error", message=f"not graded: {reason}",
                          visibility=c.visibility, description=c.description) for c in assignment.checks]
    return SubmissionResult(student=student, assignment=assignment.name, file=file, content_hash="", score=0.0,
                            max_score=assignment.max_score(), status="error", error=reason, checks=checks)


def _failure_json(reason: str, *, student: str, assignment: str) -> dict:
    """results.json when the autograder itself failed: score 0, nothing blamed on the student."""
    return {
        "score": 0.0, "execution_time": 0,
        "output": ("**The autograder could not grade your submission.** This is not a problem with your "
                   "submission: please tell the course staff.\n\n" + md_code_block(reason)),
        "output_format": "md", "stdout_visibility": "hidden", "tests": [],
        "extra_data": {"student": student, "assignment": assignment, "status": "autograder error"},
    }


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
            json.dump(data, out, indent=2, ensure_ascii=False)
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
        data = _failure_json(report.failure, student=report.student, assignment=assignment_name)
    except Exception as exc:  # noqa: BLE001 - a grader bug must still give the student a result
        report.failure = traceback.format_exc()
        data = _failure_json(f"{type(exc).__name__}: {exc}", student=report.student, assignment=assignment_name)
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
