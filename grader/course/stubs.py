"""The notebook a student receives, generated from the assignment's stub.

The stub is a jupytext-style "percent" script (``# %%`` starts a code cell, ``# %% [markdown]``
a markdown cell whose lines are ``# ``-commented); the notebook is generated from it, so the
two never drift apart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode


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
