"""The student bundle: the stub as .py and as a generated notebook, and a short README.

Only the stub goes out: never the reference, never the checks. Per-student variants
(``[variants] function`` in assignment.toml) replace top-level literals of the stub,
such as ``QUIZ = {...}``, with the values the reference derives for that student.
"""

from __future__ import annotations

import ast
import pprint
from pathlib import Path

from grader.course.assignment import Assignment
from grader.errors import AssignmentError, UsageError
from grader.course.stubs import notebook_from_percent


def substitute_literals(source: str, values: dict) -> str:
    """Replace each top-level ``NAME = ...`` statement of ``source`` with ``NAME = <literal>``."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    replaced = set()
    for node in reversed(tree.body):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in values):
            name = node.targets[0].id
            literal = pprint.pformat(values[name], sort_dicts=False, width=88)
            text = f"{name} = {literal}\n"
            lines[node.lineno - 1:node.end_lineno] = [text]
            replaced.add(name)
    missing = set(values) - replaced
    if missing:
        raise AssignmentError(f"the stub has no top-level assignment to {', '.join(sorted(missing))} to fill in")
    return "".join(lines)


def stub_source(assignment: Assignment, student: str | None = None) -> str:
    source = assignment.stub_path.read_text()
    if student is None:
        return source
    if assignment.variants_function is None:
        raise UsageError(f"{assignment.name} has no per-student variants; release it without --student")
    make_values = getattr(assignment.reference, assignment.variants_function, None)
    if make_values is None:
        raise AssignmentError(f"reference/{assignment.name}.py has no function {assignment.variants_function}")
    return substitute_literals(source, make_values(assignment.seed, student))


def _readme(assignment: Assignment, student: str | None) -> str:
    module = assignment.module
    whose = f" (your personal version, student {student})" if student else ""
    student_option = f" --student {student}" if student else ""
    return (f"# {assignment.title}{whose}\n\n"
            f"Write your solution in `{module}.py` or in the notebook `{module}.ipynb` (one of them).\n"
            "Keep the function names and arguments exactly as given: the grader calls them by name.\n"
            "Anything else you add (plots, prints, experiments) is fine.\n\n"
            "Check your work before you submit:\n\n"
            f"    grader check {assignment.name} {module}.py{student_option}\n\n"
            "This runs the public checks and tells you what is wrong. When your work is graded,\n"
            "more (hidden) checks of the same functions run too, so test beyond the public ones.\n")


def release(assignment: Assignment, out: Path, *, student: str | None = None, force: bool = False) -> list[Path]:
    """Write the student bundle into ``out``; returns the paths written. Files already there (a
    student's solved work, perhaps) are not overwritten unless ``force``: ``UsageError`` first,
    before anything is written."""
    source = stub_source(assignment, student)
    py_path = out / f"{assignment.module}.py"
    nb_path = out / f"{assignment.module}.ipynb"
    readme_path = out / "README.md"
    existing = [p for p in (py_path, nb_path, readme_path) if p.exists() or p.is_symlink()]
    if existing and not force:
        raise UsageError(f"{out} already has {', '.join(p.name for p in existing)}; release would overwrite "
                         f"{'it' if len(existing) == 1 else 'them'} (add --force to replace, or release into "
                         "another folder)")
    out.mkdir(parents=True, exist_ok=True)
    py_path.write_text(source)
    import nbformat  # here, not at the top: the grade command imports this module too

    notebook = notebook_from_percent(source, title=assignment.title)
    nbformat.validate(notebook)
    nbformat.write(notebook, str(nb_path))
    readme_path.write_text(_readme(assignment, student))
    return [py_path, nb_path, readme_path]
