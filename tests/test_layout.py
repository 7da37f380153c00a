"""The layout shows the flow: small modules, no import cycles, no arrow from a low room upwards."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "grader"
#: What each room must never import (module-level imports): the flow runs intake -> sandbox ->
#: grading -> gradebook -> reports and the platform adapters -> cli, with course (assignments,
#: lateness, release, authoring) beside it; nothing below the cli imports it, nothing below the
#: outputs imports them.
OUTPUTS = {"reports", "gradescope", "platforms", "cli"}
FORBIDDEN = {
    "intake": {"sandbox", "grading", "gradebook"} | OUTPUTS,
    "sandbox": {"grading", "gradebook"} | OUTPUTS,
    "grading": OUTPUTS,
    "gradebook": {"sandbox", "grading"} | OUTPUTS,
    "course": OUTPUTS,
    "checks": {"grading", "gradebook"} | OUTPUTS,
    "compare": {"grading", "gradebook"} | OUTPUTS,
    "results": {"intake", "sandbox", "grading", "gradebook", "course"} | OUTPUTS,
    "reports": {"cli"},
    "gradescope": {"cli"},
    "platforms": {"cli"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """Modules imported at module level (imports inside functions are deliberate and lazy)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("grader"))
    return names


def test_no_module_is_over_four_hundred_lines():
    big = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: lines for name, lines in big.items() if lines > 400} == {}


def test_no_import_cycles():
    modules = _modules()
    graph = {name: {d for d in _imports(path) if d in modules and d != name} for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(name, trail):
        state[name] = 1
        for dep in graph[name]:
            if state.get(dep) == 1:
                cycles.append(trail[trail.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, trail + [dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_no_room_imports_a_room_after_it_in_the_flow():
    wrong = []
    for name, path in _modules().items():
        room = name.split(".")[1] if "." in name else ""
        for dep in _imports(path):
            other = dep.split(".")[1] if dep.count(".") else ""
            if other in FORBIDDEN.get(room, ()):
                wrong.append(f"{name} imports {dep}")
    assert wrong == []
