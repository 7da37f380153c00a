"""Which assignment a file is for: the names it defines against the names its stub defines.

A file with functions of its own but none of its assignment's names (a perceptron file submitted
for conv, last week's homework) would fail every check with "… is not defined": one message
saying it looks like another assignment's file is what the student needs. The names are read from the
source, never by running it: ``top_level_names`` for code that parses, ``defined_in_lines``
for a notebook cell that was skipped because it does not.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

#: Calls through which a file can bind names that its source does not show.
_DYNAMIC = {"exec", "globals", "setattr", "vars", "__import__"}
#: Text without any match cannot hold a star import or a call of one of ``_DYNAMIC`` (``import``
#: then ``*``, with only blanks and line continuations between).
_UNSEEN = re.compile(r"\b(?:" + "|".join(sorted(_DYNAMIC)) + r")\b|\bimport[\s\\]*\*")
#: A line that defines a name at the top level of a cell: ``def name(``, ``class name``, ``name =``.
_DEFINES = re.compile(r"^(?:(?:async\s+)?def\s+([A-Za-z_]\w*)|class\s+([A-Za-z_]\w*)|([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=))")
#: Names a message lists before "…".
SHOWN = 3


@dataclass(frozen=True)
class Expected:
    """What a file for one assignment defines: the top-level names of its stub."""

    #: The assignment's name, as ``grader check`` takes it.
    assignment: str
    #: The stub's functions and classes, in its order (what a message lists).
    functions: tuple[str, ...] = ()
    #: Every name the stub binds at its top level: its functions and classes, and variables such
    #: as backprop's ``ANSWERS`` (a file that only answers the quiz is still for that assignment).
    names: frozenset[str] = frozenset()


@dataclass
class Defined:
    """The names a file binds at its top level, as far as its source shows."""

    #: Every name: functions, classes, variables, imports, loop and ``with`` targets.
    names: set[str] = field(default_factory=set)
    #: The functions and classes among them.
    functions: set[str] = field(default_factory=set)

    def add(self, other: "Defined") -> None:
        self.names |= other.names
        self.functions |= other.functions


def _may_bind_unseen(source: str | None) -> bool:
    """False when ``source`` (the exact text ``tree`` was parsed from) cannot hold a star import
    or a call of ``_DYNAMIC``: then no walk over every node is needed. Only ASCII text is read
    so: an identifier written in other characters may normalise to ``exec``."""
    return source is None or not source.isascii() or _UNSEEN.search(source) is not None


def top_level_names(tree: ast.Module, source: str | None = None) -> Defined | None:
    """What ``tree`` binds outside any function or class body (inside ``if``/``try`` too); None
    when it may bind names its source does not show (``from x import *``, or ``exec``,
    ``globals()``, ``setattr`` called anywhere, in a function too). With ``source``, the text
    ``tree`` was parsed from, a file that names none of those is not walked through for them."""
    if _may_bind_unseen(source):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
                return None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC:
                return None
    found = Defined()
    if source is not None and ":=" not in source:
        # Without an assignment expression no expression binds a name: only statements and
        # their targets are read, not every node of a top-level demo or test block.
        _statements_bind(tree.body, found)
        return found
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.names.add(node.name)
            found.functions.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.names.add(node.id)
        elif not isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            pending.extend(ast.iter_child_nodes(node))  # (comprehensions and lambdas have scopes of their own)
    return found


def _statements_bind(statements: list[ast.stmt], found: Defined) -> None:
    """What ``statements`` bind at their own level (not inside a function or class body), for
    code without assignment expressions: the same names ``top_level_names``'s walk finds."""
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.names.add(node.name)
            found.functions.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                _target_binds(target, found)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            _target_binds(node.target, found)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            _target_binds(node.target, found)
            _statements_bind(node.body, found)
            _statements_bind(node.orelse, found)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    _target_binds(item.optional_vars, found)
            _statements_bind(node.body, found)
        elif isinstance(node, (ast.If, ast.While)):
            _statements_bind(node.body, found)
            _statements_bind(node.orelse, found)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            _statements_bind(node.body, found)
            for handler in node.handlers:
                _statements_bind(handler.body, found)
            _statements_bind(node.orelse, found)
            _statements_bind(node.finalbody, found)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                _statements_bind(case.body, found)


def _target_binds(target: ast.expr, found: Defined) -> None:
    """The names an assignment target binds (``a``, ``a, *b``; ``x.y`` and ``x[0]`` bind none)."""
    if isinstance(target, ast.Name):
        found.names.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _target_binds(element, found)
    elif isinstance(target, ast.Starred):
        _target_binds(target.value, found)


def defined_in_lines(lines: Iterable[str]) -> Defined:
    """What lines of code that do not parse define at their top level, as far as the text shows."""
    found = Defined()
    for line in lines:
        match = _DEFINES.match(line)
        if match:
            function, cls, variable = match.groups()
            found.names.add(function or cls or variable)
            if function or cls:
                found.functions.add(function or cls)
    return found


def expected_from_stub(assignment: str, stub: Path) -> Expected:
    """The names a file for ``assignment`` should define, read from its stub (none if the stub
    is missing or does not parse: then no file is told it is for another assignment)."""
    try:
        tree = ast.parse(stub.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return Expected(assignment)
    functions, names = [], set()
    for node in tree.body:  # the stub's own top level only: not its ``if __name__ == "__main__":`` demo
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            functions.append(node.name)
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    public = {n for n in names if not n.startswith("_")}
    return Expected(assignment, tuple(f for f in functions if not f.startswith("_")), frozenset(public))


def _listed(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(names[:SHOWN]) + (", …" if len(names) > SHOWN else "")


def wrong_assignment(defined: Defined | None, expected: Expected,
                     others: Callable[[], Iterable[Expected]] = tuple) -> str | None:
    """Why a file that defines ``defined`` looks like the file for another assignment, or None.

    Only a file with functions of its own (a file of plain statements is not another
    assignment's; its checks say what is missing) and none of ``expected``'s names is; ``others``
    (asked only then) are the course's other assignments, and the one whose functions the file
    defines most is named."""
    if defined is None or not expected.names or defined.names & expected.names:
        return None
    if not any(not name.startswith("_") for name in defined.functions):
        return None
    what = "functions" if expected.functions else "names"
    text = f"the file defines none of {expected.assignment}'s {what} ({_listed(expected.functions or sorted(expected.names))})"
    best, shared = None, []
    for other in others():
        if other.assignment == expected.assignment:
            continue
        found = [name for name in other.functions if name in defined.functions]
        if len(found) > len(shared):
            best, shared = other, found
    if best is None:
        return text + "; is it the file for another assignment?"
    return text + f" but it defines {best.assignment}'s ({_listed(shared)}): is it the file for {best.assignment}?"
