"""What the trusted side can add to a student's error so that it says what to do.

The child reports an exception as data (type, message, place, and the ``name`` an ImportError,
NameError or AttributeError is about). Here, in the trusted process, that report is read
together with the student's own source (which the grader holds, never the child's word) to
recognise a few situations whose plain Python message does not tell a student what to do:

- a plotting library that the grading environment does not have (``import matplotlib``);
- a name that only existed because of such an import (``plt`` after a failed import);
- an alias that NumPy 2 removed (``np.float_``, ``np.product``), with what to use instead;
- a function that is missing because the cell (or statement) defining it never ran.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

from grader.intake.submission import Submission, Unit

#: Libraries whose only use in an assignment is drawing: the grader does not install them.
PLOTTING = ("matplotlib", "seaborn", "plotly", "bokeh", "altair", "pylab")

#: Names NumPy 2 no longer has, each with what to write instead (from the NumPy 2 release notes).
NUMPY_2_REMOVED = {
    "float_": "np.float64", "complex_": "np.complex128", "cfloat": "np.complex128",
    "longfloat": "np.longdouble", "singlecomplex": "np.complex64", "longcomplex": "np.clongdouble",
    "clongfloat": "np.clongdouble", "string_": "np.bytes_", "unicode_": "np.str_",
    "int0": "np.intp", "uint0": "np.uintp", "bool8": "np.bool_",
    "Inf": "np.inf", "Infinity": "np.inf", "infty": "np.inf", "PINF": "np.inf", "NINF": "-np.inf",
    "NaN": "np.nan", "NAN": "np.nan", "PZERO": "0.0", "NZERO": "-0.0",
    "product": "np.prod", "cumproduct": "np.cumprod", "alltrue": "np.all", "sometrue": "np.any",
    "round_": "np.round", "in1d": "np.isin", "trapz": "np.trapezoid", "msort": "np.sort(a, axis=0)",
    "asfarray": "np.asarray(a, dtype=float)", "mat": "np.asmatrix", "cast": "np.asarray(a, dtype=...)",
    "find_common_type": "np.result_type", "issubclass_": "issubclass", "safe_eval": "ast.literal_eval",
    "set_string_function": "np.set_printoptions", "disp": "print",
}

_NUMPY_ATTRIBUTE = re.compile(r"\b(?:np|numpy)\.([A-Za-z_]\w*)")
_FROM_NUMPY = re.compile(r"\bfrom\s+numpy\s+import\s+\(?([\w\s,]+)")
_NUMPY_OWN_MESSAGE = re.compile(r"`np\.(\w+)` was removed in the NumPy 2\.0 release")


@lru_cache(maxsize=1)
def numpy_version() -> str:
    """The NumPy the sandbox runs: the grader's own (the child is forked from the grader's environment)."""
    from importlib import metadata  # 30 ms to import: only for a submission that needs this hint

    try:
        return metadata.version("numpy")
    except metadata.PackageNotFoundError:
        return "2"


def numpy2_hint(type_name: str, name: str, message: str, source: str) -> str:
    """`` The grader runs NumPy 2.4.6, which has no np.product ...`` for a NumPy 2 removal, else "".

    ``source`` is the student's line the error points at (read from the submission, not from the
    child); the removed name is looked for there, in NumPy's own message and in ``name``."""
    if type_name not in ("AttributeError", "ImportError"):
        return ""
    candidates = _NUMPY_ATTRIBUTE.findall(source)
    imported = _FROM_NUMPY.search(source)
    if imported:
        candidates += [part.split(" as ")[0].strip() for part in imported.group(1).split(",")]
    own = _NUMPY_OWN_MESSAGE.search(message)
    if own:
        candidates.insert(0, own.group(1))
    if name and name in candidates:
        candidates.insert(0, name)
    removed = next((c for c in candidates if c in NUMPY_2_REMOVED), None)
    if removed is not None:
        return (f" The grader runs NumPy {numpy_version()}, which has no np.{removed} (NumPy 2 removed it): "
                f"use {NUMPY_2_REMOVED[removed]} instead.")
    if own:
        return f" The grader runs NumPy {numpy_version()}."
    return ""


def plotting_library(type_name: str, name: str) -> str:
    """The plotting library a ModuleNotFoundError is about (``matplotlib``), or ""."""
    root = name.split(".")[0]
    return root if type_name == "ModuleNotFoundError" and root in PLOTTING else ""


def plotting_import_hint(library: str, unit: Unit) -> str:
    """What a failed plotting import at load means for the grade."""
    stopped = "the rest of this cell did not run" if unit.cell is not None else "this statement was skipped"
    return (f" Plots are not available while grading ({library} is not installed here), so {stopped}; "
            f"the rest of your submission was graded.")


def plotting_names(unit: Unit) -> set[str]:
    """The names a unit's plotting imports bind (``plt`` for ``import matplotlib.pyplot as plt``)."""
    try:
        tree = ast.parse(unit.source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] in PLOTTING}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PLOTTING:
            names |= {a.asname or a.name for a in node.names}
    return names


def _defines(name: str) -> re.Pattern:
    """A top-level line that defines ``name``: ``def name(``, ``class name``, ``name = ...``."""
    word = re.escape(name)
    return re.compile(rf"^(?:(?:async\s+)?def\s+{word}\s*\(|class\s+{word}\b|{word}\s*(?::[^=]*)?=(?!=))")


def definition_site(submission: Submission, name: str) -> tuple[str, int] | None:
    """Where the student's text defines ``name`` at the top level: (file name as tracebacks say it, line).

    Read from the submission's own lines, so it also finds definitions in cells that were
    skipped before running (a SyntaxError) or that stopped before reaching them."""
    pattern = _defines(name)
    for filename, lines in submission.lines.items():
        for number, line in enumerate(lines, start=1):
            if pattern.match(line):
                return filename, number
    return None
