"""The student bundle: the stub as .py and as a generated notebook, a short README, and the
assignment's released data.

Only the stub and ``data/`` go out: never the reference, the checks, the harness or
``hidden/``. Every file of ``assignments/<name>/data/`` is copied flat next to the stub (the
stub loads it from its own folder). Per-student variants (``[variants] function`` in
assignment.toml) replace top-level literals of the stub, such as ``QUIZ = {...}``, with the
values the reference derives for that student; released without a student, the stub keeps
its own values (the lecture's numbers) and the README says so.
"""

from __future__ import annotations

import ast
import pprint
import shutil
import stat
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


#: What a release without ``--student`` of an assignment with variants holds, in the README's title.
LECTURE_NUMBERS = "the lecture's numbers; staff release each student's own with --student ID"


def data_files(assignment: Assignment) -> list[Path]:
    """The files of the assignment's ``data/`` folder that a release copies, by name (none without one).

    Only regular files directly in ``data/``: a sub-folder or a symbolic link there is refused
    (``AssignmentError``), so that nothing is left out in silence and nothing outside is copied."""
    folder = assignment.directory / "data"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        mode = path.lstat().st_mode
        if not stat.S_ISREG(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a file"
            raise AssignmentError(f"{path} is {kind}: a release copies only the files directly in "
                                  f"{assignment.name}/data/ (flat, next to the stub)")
        found.append(path)
    return found


def _readme(assignment: Assignment, student: str | None, data: list[str]) -> str:
    module = assignment.module
    if student:
        whose, student_option = f" (your personal version, student {student})", f" --student {student}"
    elif assignment.variants_function is not None:
        whose, student_option = f" ({LECTURE_NUMBERS})", " --student YOUR_ID"
    else:
        whose, student_option = "", ""
    files = f"Its data files are next to it: {', '.join(f'`{name}`' for name in data)}.\n\n" if data else ""
    return (f"# {assignment.title}{whose}\n\n"
            f"Write your solution in `{module}.py` or in the notebook `{module}.ipynb` (one of them).\n"
            "Keep the function names and arguments exactly as given: the grader calls them by name.\n"
            "Anything else you add (plots, prints, experiments) is fine.\n\n"
            f"{files}"
            "Check your work before you submit:\n\n"
            f"    grader check {assignment.name} {module}.py{student_option}\n\n"
            "This runs the public checks and tells you what is wrong. When your work is graded,\n"
            "more (hidden) checks of the same functions run too, so test beyond the public ones.\n")


def release(assignment: Assignment, out: Path, *, student: str | None = None, force: bool = False) -> list[Path]:
    """Write the student bundle into ``out``: the stub, its notebook, a README and the files of
    ``data/``; returns the paths written. Files already there (a student's solved work, perhaps)
    are not overwritten unless ``force``: ``UsageError`` first, before anything is written. A
    data file named like the stub, the notebook or the README is the course's mistake
    (``AssignmentError``)."""
    source = stub_source(assignment, student)
    py_path = out / f"{assignment.module}.py"
    nb_path = out / f"{assignment.module}.ipynb"
    readme_path = out / "README.md"
    data = data_files(assignment)
    clashes = [p.name for p in data if p.name in (py_path.name, nb_path.name, readme_path.name)]
    if clashes:
        raise AssignmentError(f"{assignment.name}/data/ has {', '.join(clashes)}, which the release writes itself "
                              "(the stub, its notebook or the README): rename it")
    copies = [out / p.name for p in data]
    existing = [p for p in (py_path, nb_path, readme_path, *copies) if p.exists() or p.is_symlink()]
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
    readme_path.write_text(_readme(assignment, student, [p.name for p in data]))
    for source_path, copy in zip(data, copies):
        if copy.is_symlink():  # --force replaces a link; it never writes through one
            copy.unlink()
        shutil.copyfile(source_path, copy)
    return [py_path, nb_path, readme_path, *copies]
