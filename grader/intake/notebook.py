"""Notebooks: reading a student's, neutralising IPython syntax, and generating a stub's.

The stub of an assignment is a jupytext-style "percent" script (``# %%`` starts a code cell,
``# %% [markdown]`` a markdown cell whose lines are ``# ``-commented); the notebook that
students receive is generated from it, so the two never drift apart.
"""

from __future__ import annotations

import re
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


def read_notebook(text: str) -> NotebookNode:
    """Parse a notebook of any nbformat version, upgraded to v4."""
    import nbformat

    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many kinds: NotJSONError, ValidationError, KeyError...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(reason[:300]) from None
    if not isinstance(notebook.get("cells"), list):
        raise NotebookError("it has no list of cells")
    return notebook


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


def percent_cells(text: str) -> list[tuple[str, str]]:
    """Split a percent-format script into (cell type, source) pairs."""
    cells: list[tuple[str, list[str]]] = []
    kind, body = "code", []
    started = False
    for line in text.splitlines():
        marker = re.match(r"^# %%(.*)$", line)
        if marker:
            if started or any(l.strip() for l in body):
                cells.append((kind, body))
            started = True
            kind = "markdown" if "[markdown]" in marker.group(1) else "code"
            body = []
        else:
            body.append(line)
    if any(l.strip() for l in body):
        cells.append((kind, body))
    result = []
    for kind, body in cells:
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        if kind == "markdown":
            body = [re.sub(r"^# ?", "", l) for l in body]
        result.append((kind, "\n".join(body)))
    return result


def notebook_from_percent(text: str, *, title: str = "") -> NotebookNode:
    """The student notebook generated from a percent-format stub."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    if title:
        notebook.metadata["title"] = title
    for kind, source in percent_cells(text):
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        notebook.cells.append(cell)
    # Stable ids, so regenerating the same stub gives the same bytes.
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index + 1}"
    return notebook
