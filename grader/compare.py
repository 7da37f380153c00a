"""Numeric comparison of a student's value with the reference's.

``compare`` is the core: it walks both values together and returns a ``Comparison``
whose message a student can act on. Structure is compared first (type, length, keys,
shape, dtype kind) and the walk stops at the first structural difference; only then are
values compared, always with the tolerance stated, a count of offending elements and the
worst few of them, never whole arrays.

Values arrive here already decoded from the sandbox: numpy arrays, numpy scalars,
Python scalars, strings, None, lists, tuples, dicts and ``Remote`` placeholders for
objects that could not cross the boundary.
"""

from __future__ import annotations

import contextvars
import math
from dataclasses import dataclass, replace
from numbers import Number

import numpy as np

from grader.fingerprint import fingerprint
from grader.sandbox.wire import Remote

MAX_OFFENDERS_SHOWN = 3


@dataclass(frozen=True)
class Tolerance:
    """A pair of tolerances, as in ``numpy.isclose``: |yours - expected| <= atol + rtol * |expected|."""

    rtol: float = 1e-6
    atol: float = 1e-8

    def __post_init__(self):
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"a tolerance's {name} must be a number >= 0, not {value!r}")

    def __str__(self) -> str:
        return f"rtol={self.rtol:g}, atol={self.atol:g}"


EXACT = Tolerance(rtol=0.0, atol=0.0)


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing a student's value with the expected one."""

    ok: bool
    #: Empty when ``ok``; otherwise one readable sentence naming the path that differs.
    message: str = ""
    #: When not ``ok``: a hash of the path and the two values compared (``grader.fingerprint``),
    #: so that students wrong in the same way can be found without storing what they returned.
    fingerprint: str | None = None


def _describe(value) -> str:
    if isinstance(value, Remote):
        return f"a {value.type_name} object"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return f"the bool {bool(value)}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None"
    if isinstance(value, str) and len(value) > 40:
        value = value[:40]  # repr of only what is shown: a student's string may be megabytes
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _expected_kind(expected) -> str:
    if isinstance(expected, np.ndarray):
        return "a numpy array"
    if isinstance(expected, (bool, np.bool_)):
        return "a bool"
    if isinstance(expected, (list, tuple)):
        return "a tuple or list"
    if isinstance(expected, dict):
        return "a dict"
    if isinstance(expected, (Number, np.number)):
        return "a number"
    return f"a {type(expected).__name__}"


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_)) or (
        isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "b"
    )


def _is_number(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, (Number, np.number)):
        return not isinstance(value, complex) and not np.iscomplexobj(value)
    return isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "biuf"


def _as_numeric_array(value, expected_shape: tuple | None = None) -> np.ndarray | None:
    """An array for a value that is numeric array-like (array, nested list of numbers), else None.

    A list is turned into an array only if its leading length matches ``expected_shape``: a
    student's list of millions of items is rejected on its length, not materialised first."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "biuf" else None
    if isinstance(value, (list, tuple)):
        if expected_shape is not None and (not expected_shape or len(value) != expected_shape[0]):
            return None
        try:
            array = np.asarray(value)
        except (ValueError, TypeError, OverflowError):
            return None
        return array if array.dtype.kind in "biuf" else None
    return None


def _fmt_index(index: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _fmt_number(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x) + 0.0:.6g}"  # + 0.0: a negative zero reads as 0, not -0


#: Arrays up to this many elements are first compared byte for byte: most answers that pass are
#: exactly the reference's, and that test costs a microsecond against ~15 for the tolerance's.
EXACT_FAST_PATH = 1 << 16


def _mismatch_mask(yours: np.ndarray, expected: np.ndarray, tol: Tolerance) -> np.ndarray:
    y = yours.astype(np.float64, copy=False)
    e = expected.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(y - e) <= tol.atol + tol.rtol * np.abs(e)
    # A NaN or inf is never close, unless the reference has the very same value there.
    same_special = (y == e) | (np.isnan(y) & np.isnan(e))
    return ~(close | same_special)


def compare_arrays(yours: np.ndarray, expected: np.ndarray, *, path: str, tol: Tolerance,
                   check_dtype: bool = False) -> Comparison:
    """Compare two numeric arrays: shape, then dtype kind (if asked), then values."""
    if yours.shape != expected.shape:
        return Comparison(False, f"{path}: shape {tuple(yours.shape)} (yours), expected {tuple(expected.shape)}")
    if check_dtype and yours.dtype.kind != expected.dtype.kind:
        return Comparison(False, f"{path}: dtype {yours.dtype} (yours), expected a {expected.dtype} array")
    if yours.size == 0:
        return Comparison(True)
    if yours.dtype == expected.dtype and yours.size <= EXACT_FAST_PATH and yours.tobytes() == expected.tobytes():
        return Comparison(True)  # the very same values (NaN where NaN): close for every tolerance
    bad = _mismatch_mask(yours, expected, tol)
    count = int(bad.sum())
    if count == 0:
        return Comparison(True)
    y = yours.astype(np.float64, copy=False)
    e = expected.astype(np.float64, copy=False)
    parts = []
    non_finite = int((~np.isfinite(y) & np.isfinite(e)).sum())
    exact = tol.rtol == 0 and tol.atol == 0
    if yours.shape == ():
        stated = "" if exact else f" ({tol})"
        parts.append(f"{path}: {_fmt_number(yours[()])} (yours), expected {_fmt_number(expected[()])}{stated}")
        if non_finite:
            parts.append("yours is not finite (overflow or division by zero?)")
        return Comparison(False, "; ".join(parts))
    share = 100.0 * count / yours.size
    verdict = "not equal" if exact else f"not close ({tol})"
    parts.append(f"{path}: {verdict}: {count} / {yours.size} elements ({share:.1f}%) differ")
    if non_finite:
        parts.append(f"{non_finite} of yours are NaN or inf (overflow or division by zero?)")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(y - e)
        rel_diff = np.where(e != 0, abs_diff / np.abs(np.where(e != 0, e, 1.0)), np.inf)
    # Rank offenders: non-finite values first, then by absolute difference.
    score = np.where(np.isfinite(abs_diff), abs_diff, np.inf)
    score = np.where(bad, score, -1.0)
    flat_order = np.argsort(-score, axis=None, kind="stable")[:min(count, MAX_OFFENDERS_SHOWN)]
    if not exact:
        finite_rel = np.where(bad & np.isfinite(rel_diff), rel_diff, -1.0)
        if finite_rel.max() > 0:
            at = np.unravel_index(int(np.argmax(finite_rel)), yours.shape)
            parts.append(f"greatest relative difference {finite_rel[at]:.1e} at {_fmt_index(at)}")
    for flat in flat_order:
        index = np.unravel_index(flat, yours.shape)
        parts.append(f"{_fmt_index(index)}: {_fmt_number(yours[index])} (yours), {_fmt_number(expected[index])} (expected)")
    return Comparison(False, "; ".join(parts))


def compare(yours, expected, *, path: str = "result", tol: Tolerance = Tolerance(),
            check_dtype: bool = False) -> Comparison:
    """Compare a student's value with the expected one, recursively.

    ``path`` names the value in messages (``grads['W1']``, ``result[1]``). Numbers and arrays
    are compared with ``tol``; bools, strings and None exactly. Lists and tuples are
    interchangeable, and a nested list of numbers may stand for an array. Keys the expected
    dict does not have are ignored; missing ones are reported. A failed comparison carries the
    fingerprint of the whole of what was compared.
    """
    if _plainly_equal(yours, expected):
        return _EQUAL
    result = _compare(yours, expected, path=path, tol=tol, check_dtype=check_dtype)
    if result.ok:
        return result
    failed = replace(result, fingerprint=fingerprint(yours, expected, path=path))
    if FIRST_FAILED.get() is None:
        FIRST_FAILED.set(failed.fingerprint)
    return failed


_EQUAL = Comparison(True)
_EXACT_SCALARS = (int, str, type(None))


def _plainly_equal(yours, expected) -> bool:
    """True for two equal values of plain Python types (ints, strings, None, and tuples or lists of
    them), which every tolerance accepts: the hundreds of output sizes a check compares skip the
    walk below. Anything else (floats, bools, arrays) takes the walk."""
    if type(yours) in _EXACT_SCALARS:
        return type(expected) is type(yours) and yours == expected
    if type(yours) in (tuple, list) and type(expected) in (tuple, list):
        return len(yours) == len(expected) and all(_plainly_equal(y, e) for y, e in zip(yours, expected))
    return False


#: The fingerprint of the first comparison that failed in the check being run (the grader resets
#: it before each check): a check that words its own failure from ``compare`` results, or raises
#: ``CheckFailed`` after comparing, still leaves what its student got wrong to ``grader similar``.
FIRST_FAILED: contextvars.ContextVar[str | None] = contextvars.ContextVar("first_failed_comparison", default=None)


def _compare(yours, expected, *, path: str, tol: Tolerance, check_dtype: bool) -> Comparison:
    if isinstance(yours, Remote):
        return Comparison(False, f"{path}: unsupported return type {yours.type_name}; expected {_expected_kind(expected)}")

    if hasattr(expected, "detach") and hasattr(expected, "numpy"):  # a torch tensor from the reference
        expected = expected.detach().cpu().numpy()

    if _is_bool(expected):
        if not _is_bool(yours):
            return Comparison(False, f"{path}: expected a bool (True or False), yours is {_describe(yours)}")
        if bool(yours) != bool(expected):
            return Comparison(False, f"{path}: {bool(yours)} (yours), expected {bool(expected)}")
        return Comparison(True)

    if expected is None or isinstance(expected, str):
        if isinstance(yours, np.ndarray) or type(yours) is not type(expected) or yours != expected:
            return Comparison(False, f"{path}: {_describe(yours)} (yours), expected {expected!r}")
        return Comparison(True)

    if _is_number(expected):
        if not _is_number(yours):
            return Comparison(False, f"{path}: expected a number, yours is {_describe(yours)}")
        return compare_arrays(np.asarray(yours), np.asarray(expected), path=path, tol=tol)

    if isinstance(expected, np.ndarray):
        if isinstance(yours, (list, tuple)) and (expected.ndim == 0 or len(yours) != expected.shape[0]):
            return Comparison(False, f"{path}: {_describe(yours)} (yours), expected an array of shape {tuple(expected.shape)}")
        array = _as_numeric_array(yours, tuple(expected.shape))
        if array is None:
            if _is_number(yours) and expected.shape != ():
                return Comparison(False, f"{path}: yours is a single number, expected an array of shape {tuple(expected.shape)}")
            if _is_number(yours):
                array = np.asarray(yours)
            else:
                return Comparison(False, f"{path}: expected a numpy array of shape {tuple(expected.shape)}, yours is {_describe(yours)}")
        if expected.dtype.kind not in "biuf":
            if array.shape != expected.shape or not np.array_equal(array, expected):
                return Comparison(False, f"{path}: {_describe(yours)} (yours), expected {_describe(expected)}")
            return Comparison(True)
        return compare_arrays(array, expected, path=path, tol=tol, check_dtype=check_dtype)

    if isinstance(expected, (list, tuple)):
        if isinstance(yours, np.ndarray) and yours.ndim == 1:
            # An array of counts is as good as a list of them. Its length first: a list is made
            # (item by item, ~30 times the array's bytes) only when it is the right one.
            if len(yours) != len(expected):
                return Comparison(False, f"{path}: {len(yours)} items (yours), expected {len(expected)}")
            yours = list(yours)
        if not isinstance(yours, (list, tuple)):
            return Comparison(False, f"{path}: expected a {type(expected).__name__} of {len(expected)} items, yours is {_describe(yours)}")
        if len(yours) != len(expected):
            return Comparison(False, f"{path}: {len(yours)} items (yours), expected {len(expected)}")
        for i, (y, e) in enumerate(zip(yours, expected)):
            result = _compare(y, e, path=f"{path}[{i}]", tol=tol, check_dtype=check_dtype)
            if not result.ok:
                return result
        return Comparison(True)

    if isinstance(expected, dict):
        if not isinstance(yours, dict):
            return Comparison(False, f"{path}: expected a dict with keys {sorted(map(str, expected))}, yours is {_describe(yours)}")
        missing = [k for k in expected if k not in yours]
        if missing:
            return Comparison(False, f"{path}: missing key {missing[0]!r} (yours has {sorted(map(repr, yours))})")
        for key, e in expected.items():
            result = _compare(yours[key], e, path=f"{path}[{key!r}]", tol=tol, check_dtype=check_dtype)
            if not result.ok:
                return result
        return Comparison(True)

    raise TypeError(f"compare() cannot handle expected values of type {type(expected).__name__}")


def is_finite_number(value) -> bool:
    """True for a real number that is neither NaN nor infinite."""
    return _is_number(value) and math.isfinite(float(np.asarray(value)))
