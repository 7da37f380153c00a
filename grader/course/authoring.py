"""Tools for course staff who write assignments: scaffold a new one, validate one.

``validate`` grades the assignment's own reference (it must earn full marks) and its
unmodified stub (it must earn zero) through the real sandbox, so an assignment that
passes validation behaves the same way for students.
"""

from __future__ import annotations

import pprint
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.assignment import Assignment
from grader.errors import AssignmentError, UsageError
from grader.grading.grader import Grader
from grader.course.stubs import notebook_from_percent
from grader.sandbox.forkserver import ForkServer
from grader.intake.submission import Submission, content_hash, python_submission

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
VALIDATION_STUDENT = "validation"


@dataclass
class Finding:
    """One item of a validation: what was checked, whether it holds, and details."""

    what: str
    ok: bool
    detail: str = ""


@dataclass
class ValidationReport:
    assignment: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def add(self, what: str, ok: bool, detail: str = "") -> None:
        self.findings.append(Finding(what, ok, detail))


def _reference_as_submission(assignment: Assignment) -> Submission:
    source = assignment.reference_path.read_text()
    extra = getattr(assignment.reference, "solution_values", None)
    if extra is not None:
        values = extra(assignment.seed, VALIDATION_STUDENT)
        source += "\n\n" + "\n".join(f"{k} = {pprint.pformat(v)}" for k, v in values.items()) + "\n"
    return python_submission(source, f"{assignment.module}.py", VALIDATION_STUDENT)


def _failures(result) -> str:
    failed = [f"{c.name}: {c.message}" for c in result.checks if c.status != "passed"]
    return "; ".join(failed[:3]) + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else "")


def validate(assignment: Assignment, *, forkserver: ForkServer | None = None) -> ValidationReport:
    """Check an assignment the way course staff should before releasing it."""
    report = ValidationReport(assignment.name)
    try:
        checks = assignment.checks
        assignment.reference
    except AssignmentError as exc:
        report.add("checks and reference import", False, str(exc))
        return report
    report.add("checks and reference import", True, f"{len(checks)} checks")
    undocumented = [c.name for c in checks if not c.description]
    report.add("every check has a docstring", not undocumented, ", ".join(undocumented))
    public = [c for c in checks if c.visibility == "public"]
    hidden = [c for c in checks if c.visibility == "hidden"]
    report.add("public/hidden split", bool(public),
               f"{len(public)} public ({sum(c.points for c in public):g} points), "
               f"{len(hidden)} hidden ({sum(c.points for c in hidden):g} points)"
               + ("" if public else ": students need at least one public check to self-check"))
    if not assignment.stub_path.is_file():
        report.add("stub.py exists", False, str(assignment.stub_path))
        return report
    stub_text = assignment.stub_path.read_text()
    try:
        import nbformat  # here, not at the top: the grade command imports this module too

        notebook = notebook_from_percent(stub_text, title=assignment.title)
        nbformat.validate(notebook)
        report.add("notebook stub generates and is valid", True, f"{len(notebook.cells)} cells")
    except Exception as exc:  # noqa: BLE001 - any failure here is a finding to report
        report.add("notebook stub generates and is valid", False, str(exc))

    with Grader(assignment, forkserver=forkserver) as grader:
        reference = grader.grade(_reference_as_submission(assignment))
        report.add("the reference earns full marks", reference.score == reference.max_score,
                   f"{reference.score:g} / {reference.max_score:g}" + (
                       f": {_failures(reference)}" if reference.score != reference.max_score else ""))
        stub = grader.grade(python_submission(stub_text, f"{assignment.module}.py", VALIDATION_STUDENT))
        passed = [c.name for c in stub.checks if c.status == "passed"]
        report.add("the unmodified stub earns zero", stub.score == 0,
                   f"{stub.score:g} / {stub.max_score:g}" + (f": passes {', '.join(passed)}" if passed else ""))
    return report


# --- scaffolding ---------------------------------------------------------------------------------

_TOML = '''title = "{title}"
module = "{name}"
seed = {seed}

[limits]
check_timeout = 10
load_timeout = 20
memory_mb = 2048
warm_imports = ["numpy", "torch"]
'''

_STUB = '''# %% [markdown]
# # {title}
#
# Implement `scale(x, factor)`: return a new array, `x` multiplied elementwise by `factor`.
# Do not modify `x` in place.

# %%
import numpy as np


def scale(x, factor):
    raise NotImplementedError
'''

_REFERENCE = '''"""Reference solution of {name} (hidden: never released, never sandboxed)."""

import numpy as np


def scale(x, factor):
    return np.asarray(x, dtype=float) * factor
'''

_CHECKS = '''"""Checks of {name}: each calls the student's function and the reference with the same inputs."""

import numpy as np

from grader.checks import check, expect_close


@check(points=1, visibility="public")
def scale_small_example(ctx):
    """scale multiplies every element by the factor."""
    x = np.array([1.0, -2.0, 3.5])
    expect_close(ctx.student.scale(x, 2.0), ctx.reference.scale(x, 2.0), name="scale([1, -2, 3.5], 2)")


@check(points=2, visibility="hidden")
def scale_random_inputs(ctx):
    """scale on random matrices and factors (inputs from the check's seeded RNG)."""
    for shape in ((3, 4), (1, 1), (5,)):
        x = ctx.rng.normal(size=shape)
        factor = float(ctx.rng.uniform(-3, 3))
        expect_close(ctx.student.scale(x, factor), ctx.reference.scale(x, factor),
                     name=f"scale(x, {{factor:.3f}}) for x of shape {{shape}}")
'''


def scaffold(course_root: Path, name: str, *, title: str | None = None) -> list[Path]:
    """Create ``assignments/NAME/`` and ``reference/NAME.py`` with a worked example check."""
    if not NAME_PATTERN.match(name):
        raise UsageError(f"assignment names are lower-case identifiers (letters, digits, _), not {name!r}")
    folder = course_root / "assignments" / name
    reference = course_root / "reference" / f"{name}.py"
    if folder.exists() or reference.exists():
        raise UsageError(f"assignment {name!r} already exists in {course_root}")
    title = title or name.replace("_", " ").capitalize()
    seed = int(content_hash(name.encode())[:6], 16)
    folder.mkdir(parents=True)
    reference.parent.mkdir(parents=True, exist_ok=True)
    files = {
        folder / "assignment.toml": _TOML.format(title=title, name=name, seed=seed),
        folder / "stub.py": _STUB.format(title=title),
        folder / "checks.py": _CHECKS.format(name=name),
        reference: _REFERENCE.format(name=name),
    }
    for path, text in files.items():
        path.write_text(text)
    return list(files)
