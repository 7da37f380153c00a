"""Finding assignments in a course folder and loading their trusted parts.

A course folder holds ``assignments/<name>/`` (assignment.toml, stub.py, checks.py and an
optional harness.py) and ``reference/<name>.py``. The checks and the reference are imported
only into the trusted grading process; the harness's source is sent to the sandbox.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from grader.errors import AssignmentError
from grader.course.lateness import LatePolicy
from grader.sandbox.limits import Limits

if TYPE_CHECKING:
    from grader.checks import Check

COURSE_ENV = "GRADER_COURSE"


def default_course_root() -> Path:
    """``$GRADER_COURSE``, else the folder this package was installed from, else the current one."""
    if os.environ.get(COURSE_ENV):
        return Path(os.environ[COURSE_ENV]).resolve()
    source_tree = Path(__file__).resolve().parents[2]
    if (source_tree / "assignments").is_dir():
        return source_tree
    return Path.cwd()


def assignment_version(directory: Path, reference_path: Path) -> str:
    """sha256 over everything that decides an assignment's grades: every file of its folder
    (assignment.toml's settings, checks.py, harness.py, data) but the students' starting file
    (``stub.py``) and documentation (``*.md``), and its reference solution; names and bytes.
    Two gradings with the same version graded the same way (given the same libraries)."""
    digest = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts)
                   and p.relative_to(directory) != Path("stub.py") and p.suffix != ".md")
    named = [(str(p.relative_to(directory)), p) for p in files] + [("reference.py", reference_path)]
    for name, path in named:
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
        digest.update(b"\0")
    return digest.hexdigest()


def _import_path(module_name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AssignmentError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise AssignmentError(f"{path} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


@dataclass
class Assignment:
    """One assignment of the course, as its files describe it."""

    name: str
    title: str
    #: The module name students write (curriculum.md), e.g. ``perceptron``.
    module: str
    seed: int
    limits: Limits
    directory: Path
    reference_path: Path
    #: Name of the reference function making per-student stub values, or None.
    variants_function: str | None = None
    #: Due date and late penalties, or None when the assignment has no due date.
    late_policy: LatePolicy | None = None
    extra: dict = field(default_factory=dict)

    @property
    def stub_path(self) -> Path:
        return self.directory / "stub.py"

    @property
    def harness_path(self) -> Path:
        return self.directory / "harness.py"

    @cached_property
    def version(self) -> str:
        """The assignment's version (``assignment_version``), as of the first time it is asked."""
        return assignment_version(self.directory, self.reference_path)

    @cached_property
    def checks(self) -> list[Check]:
        # grader.checks (and numpy with it) only once checks are wanted: a coordinator whose
        # workers grade never needs them.
        from grader.checks import collect_checks

        path = self.directory / "checks.py"
        if not path.is_file():
            raise AssignmentError(f"assignment {self.name} has no checks.py")
        module = _import_path(f"grader_checks_{self.name}", path)
        found = collect_checks(vars(module))
        if not found:
            raise AssignmentError(f"{path} defines no @check functions")
        return found

    @cached_property
    def reference(self) -> ModuleType:
        if not self.reference_path.is_file():
            raise AssignmentError(f"assignment {self.name} has no reference solution at {self.reference_path}")
        return _import_path(f"grader_reference_{self.name}", self.reference_path)

    @cached_property
    def harness_source(self) -> str | None:
        return self.harness_path.read_text() if self.harness_path.is_file() else None

    @cached_property
    def harness_module(self) -> ModuleType | None:
        if self.harness_source is None:
            return None
        return _import_path(f"grader_harness_{self.name}", self.harness_path)

    @cached_property
    def checks_use_reference(self) -> bool:
        """True if checks.py reads ``ctx.reference`` or ``ctx.reference_harness`` anywhere (in a
        check or a helper): only then does the grading process import the reference.

        Read from the text, not its syntax tree (5 ms to parse, every time a grader starts): a
        mention in a comment only makes the answer True, which imports what is not needed."""
        try:
            text = (self.directory / "checks.py").read_text()
        except (OSError, UnicodeDecodeError):
            return True  # importing the checks reports what is wrong with them
        return re.search(r"\.\s*reference(?:_harness)?\b", text) is not None

    def compile_reference(self) -> None:
        """Check that the reference solution exists and parses, without running it."""
        if not self.reference_path.is_file():
            raise AssignmentError(f"assignment {self.name} has no reference solution at {self.reference_path}")
        try:
            compile(self.reference_path.read_text(), str(self.reference_path), "exec")
        except (SyntaxError, ValueError) as exc:
            raise AssignmentError(f"{self.reference_path} does not parse: {type(exc).__name__}: {exc}") from None

    def checks_for(self, visibility: str) -> list[Check]:
        """``public`` checks only, or ``all``."""
        return [c for c in self.checks if visibility == "all" or c.visibility == visibility]

    def max_score(self, visibility: str = "all") -> float:
        return sum(c.points for c in self.checks_for(visibility))


def _limits(table: dict, where: Path) -> Limits:
    known = set(Limits.__dataclass_fields__)
    unknown = set(table) - known
    if unknown:
        raise AssignmentError(f"{where}: unknown [limits] setting(s) {', '.join(sorted(unknown))}")
    values = dict(table)
    if "warm_imports" in values:
        values["warm_imports"] = tuple(values["warm_imports"])
    return Limits(**values)


def load_assignment(directory: Path, course_root: Path) -> Assignment:
    config_path = directory / "assignment.toml"
    try:
        config = tomllib.loads(config_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{config_path}: {exc}") from None
    name = directory.name
    try:
        return Assignment(
            name=name,
            title=str(config.get("title", name)),
            module=str(config.get("module", name)),
            seed=int(config.get("seed", 0)),
            limits=_limits(config.get("limits", {}), config_path),
            directory=directory,
            reference_path=course_root / "reference" / f"{name}.py",
            variants_function=config.get("variants", {}).get("function"),
            late_policy=LatePolicy.from_config(config, str(config_path)),
            extra={k: v for k, v in config.items()
                   if k not in {"title", "module", "seed", "limits", "variants", "due", "late"}},
        )
    except (TypeError, ValueError) as exc:
        raise AssignmentError(f"{config_path}: {exc}") from None


def list_assignments(course_root: Path) -> list[Assignment]:
    folder = course_root / "assignments"
    if not folder.is_dir():
        return []
    return [load_assignment(d, course_root) for d in sorted(folder.iterdir())
            if (d / "assignment.toml").is_file()]


def get_assignment(name: str, course_root: Path) -> Assignment:
    directory = course_root / "assignments" / name
    if not (directory / "assignment.toml").is_file():
        available = ", ".join(a.name for a in list_assignments(course_root)) or "none"
        raise AssignmentError(f"unknown assignment {name!r} (available: {available})")
    return load_assignment(directory, course_root)
