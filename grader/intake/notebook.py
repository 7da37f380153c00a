"""A student's notebook: reading it, and neutralising IPython syntax in its cells.

The notebook students receive is generated from the stub by ``grader.course.stubs``.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

# nbformat (with its JSON-schema validator) is imported where a notebook is read or made:
# it costs ~0.1 s, which every grading worker and the CLI would pay for .py submissions too.

# Cell magics whose body is still Python, so the body runs without the magic line.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_LINE_MAGIC = re.compile(r"^(\s*)(%{1,2}|!)(.*)$")
_SHELL_ASSIGN = re.compile(r"^(\s*)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=\s*[!%](.*)$")
_HELP = re.compile(r"^(\s*)[\w.]+\?{1,2}\s*$")


class NotebookError(ValueError):
    """A file that is not a readable Jupyter notebook."""


def _repair_cells(raw: dict) -> list[str]:
    """Fix, in place, what a notebook in the wild gets wrong where the intent is clear; returns
    what was repaired. What cannot be repaired raises ``NotebookError`` naming the cell."""
    repairs: list[str] = []
    cells = raw.get("cells")
    if cells is None and "worksheets" in raw:
        return repairs  # nbformat 3: upgraded (and then checked) by nbformat itself
    if not isinstance(cells, list):
        raise NotebookError("it has no list of cells")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {number} is not a JSON object")
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            raise NotebookError(f"cell {number} has an unknown cell_type {str(kind)[:40]!r}")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            cell["source"] = "".join(source)
        elif not isinstance(source, str):
            raise NotebookError(f"cell {number}'s source is {type(source).__name__}, not text")
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
            repairs.append(f"cell {number}: metadata")
        if kind == "code":
            if not isinstance(cell.get("outputs"), list):
                cell["outputs"] = []
                repairs.append(f"cell {number}: outputs")
            count = cell.get("execution_count")
            if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
                cell["execution_count"] = None
                repairs.append(f"cell {number}: execution_count")
        else:
            for key in ("outputs", "execution_count"):
                if key in cell:
                    del cell[key]
                    repairs.append(f"cell {number}: {key} of a {kind} cell")
    if not isinstance(raw.get("metadata"), dict):
        raw["metadata"] = {}
        repairs.append("notebook metadata")
    return repairs


def _schema_path(error) -> str:
    """``cell 3, outputs[0]`` for a validation error at ``cells/2/outputs/0``."""
    path = list(getattr(error, "absolute_path", []))
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[2:]).lstrip(".")
        return f"cell {path[1] + 1}" + (f", {rest}" if rest else "")
    return "/".join(map(str, path))[:80] or "the top level"


def read_notebook(text: str) -> NotebookNode:
    """Parse a notebook of any nbformat version, upgraded to v4 and valid against its schema.

    Safe repairs where the intent is clear (``source`` as a list of lines, missing metadata or
    outputs, a nonsensical execution count, missing or duplicate cell ids); anything else that
    breaks the schema raises ``NotebookError`` with one line saying what and where."""
    import json

    import nbformat
    from nbformat.validator import ValidationError, normalize

    try:
        raw = json.loads(text)
    except RecursionError:
        raise NotebookError("its JSON is nested too deeply") from None
    except ValueError as exc:
        raise NotebookError(f"not JSON ({str(exc)[:200]})") from None
    if not isinstance(raw, dict):
        raise NotebookError("its JSON is not an object")
    _repair_cells(raw)
    try:
        with warnings.catch_warnings():  # missing cell ids: normalize() below adds them
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(json.dumps(raw), as_version=4)
            _, fixed = normalize(notebook, relax_add_props=True, strip_invalid_metadata=True)
            notebook = nbformat.from_dict(fixed)
            nbformat.validate(notebook, relax_add_props=True)
    except ValidationError as exc:
        raise NotebookError(f"it does not follow the notebook format at {_schema_path(exc)}: "
                            f"{str(getattr(exc, 'message', exc)).splitlines()[0][:200]}") from None
    except RecursionError:
        raise NotebookError("its JSON is nested too deeply") from None
    except Exception as exc:  # nbformat raises many kinds: NotJSONError, KeyError, AttributeError...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(reason[:300]) from None
    if not isinstance(notebook.get("cells"), list):
        raise NotebookError("it has no list of cells")
    for cell in notebook.cells:  # the upgrade from v3 may bring lists back
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return notebook


def code_cell_labels(cells) -> dict[int, str]:
    """How the student finds each code cell, by its number among all cells (1-based).

    What Jupyter shows beside it: ``In [9]`` when the notebook was saved with that execution
    count. A cell never run (no count), or one whose count another cell shares too (cells run
    before and after a kernel restart), is named by its place among the code cells instead:
    ``code cell 4``. Cells run out of order keep their own counts: that is what the student sees."""
    counts: dict[int, int] = {}
    for cell in cells:
        count = cell.get("execution_count") if cell.get("cell_type") == "code" else None
        if _is_count(count):
            counts[count] = counts.get(count, 0) + 1
    labels: dict[int, str] = {}
    position = 0
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        position += 1
        count = cell.get("execution_count")
        labels[number] = f"In [{count}]" if _is_count(count) and counts[count] == 1 else f"code cell {position}"
    return labels


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def neutralise_ipython(source: str) -> tuple[str | None, list[str]]:
    """Replace IPython-only lines (magics, ``!shell``, ``name?``) by ``pass``; never run them.

    Returns the new source, or None when the whole cell is a non-Python cell magic
    (``%%bash``, ``%%writefile``...), and what was neutralised, for the feedback.
    """
    lines = source.splitlines()
    notes: list[str] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].strip()[2:].split()[0] if lines[first].strip()[2:] else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None, [f"cell magic %%{magic} (cell not run)"]
        notes.append(f"%%{magic}")
        lines[first] = ""
    out = []
    for line in lines:
        assign = _SHELL_ASSIGN.match(line)
        magic = _LINE_MAGIC.match(line)
        if assign:
            notes.append(line.strip())
            out.append(f"{assign.group(1)}{assign.group(2).strip()} = []")
        elif magic:
            notes.append(line.strip())
            out.append(f"{magic.group(1)}pass")
        elif _HELP.match(line):
            notes.append(line.strip())
            out.append(f"{_HELP.match(line).group(1)}pass")
        else:
            out.append(line)
    return "\n".join(out), notes
