"""The Gradescope autograder bundle: the zip course staff upload.

Gradescope builds a container image from a zip holding ``setup.sh`` and ``run_autograder``
(unpacked in ``/autograder/source``), then, for every submission, puts the student's files in
``/autograder/submission/`` and runs ``run_autograder``; what ``/autograder/results/results.json``
says then is the grade (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
``build_bundle`` writes that zip for one assignment: the grader's source and pins, that
assignment's folder and its reference, nothing else.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.course.assignment import Assignment
from grader.errors import AssignmentError, UsageError
from grader.gradescope.metadata import STUDENT_ID_FIELDS

#: The PyTorch index serving CPU-only wheels; setup.sh takes torch (and only torch) from it.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Files and folders of a source tree never copied into the bundle.
_NOT_BUNDLED = {"__pycache__", ".ipynb_checkpoints"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources give the same zip


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


def run_script(assignment: str, student_id: str | None = None) -> str:
    """``run_autograder``: run for every submission, from /autograder, as root. Without ``student_id``
    the run takes the field from the assignment's ``[gradescope] student_id``."""
    command = (f'"$GRADER" --course "$ROOT/source" gradescope run {shlex.quote(assignment)} --root "$ROOT"'
               + (f" --student-id {shlex.quote(student_id)}" if student_id else ""))
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


def build_bundle(assignment: Assignment, out: Path, *, student_id: str | None = None,
                 source_root: Path | None = None) -> Bundle:
    """Write the Gradescope autograder zip of ``assignment`` to ``out``.

    It holds ``setup.sh`` and ``run_autograder`` at its root, the grader's source (``grader/``,
    ``pyproject.toml``, ``constraints.txt``, ``README.md``) from ``source_root`` (default: this
    package's source tree), ``assignments/<name>/`` and ``reference/<name>.py``: no other
    assignment, no samples, tests, virtual environments, gradebooks or version control.
    ``student_id`` is the field of Gradescope's submission metadata that names the student (None:
    the assignment's ``[gradescope] student_id``, else ``email``). The assignment's Gradescope
    settings (``[gradescope]``, ``[leaderboard]``, ``attempts_per_day``) are checked here, not on
    Gradescope.
    """
    from grader.course.leaderboard import leaderboard_spec
    from grader.gradescope.attempts import attempts_per_day
    from grader.gradescope.run import student_id_field

    if student_id is not None and student_id not in STUDENT_ID_FIELDS:
        raise UsageError(f"student id field must be one of {', '.join(STUDENT_ID_FIELDS)}, not {student_id!r}")
    source_root = Path(source_root) if source_root is not None else source_tree()
    assignment.checks  # a broken checks.py fails here, not on Gradescope
    student_id_field(assignment), attempts_per_day(assignment), leaderboard_spec(assignment)
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
