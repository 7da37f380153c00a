"""A fingerprint of what a failed comparison compared: a hash, never the values.

``grader similar`` looks for students whose code is wrong in the same way: the same wrong
value in the same place of the same check. To find them without storing what a student's
code returned (a hidden check's inputs can be read off its outputs), the gradebook keeps a
sha256 over a canonical encoding of the comparison's path, the student's value and the
expected one:

- numbers and numeric arrays by kind (bool, integer, float), shape and values, floats rounded
  to ``SIGNIFICANT_DIGITS`` significant digits (so that two students who compute the same
  wrong formula in a different order still agree), ``-0.0`` as ``0.0`` and every NaN alike;
- lists and tuples alike (``compare`` treats them alike), item by item; dicts by their keys'
  reprs, sorted; strings, None and bools as themselves; an object that could not cross the
  sandbox boundary by its type name.

A value too large to encode (``MAX_NODES`` items, nested) has no fingerprint: grading never
waits on one.
"""

from __future__ import annotations

import hashlib
from numbers import Number

import numpy as np

from grader.sandbox.wire import Remote

#: Floats are rounded to this many significant digits before hashing (the default tolerance is
#: rtol=1e-6: values that agree to this many digits are "the same answer").
SIGNIFICANT_DIGITS = 6
#: Values with more items than this (counting nested ones) are not fingerprinted.
MAX_NODES = 100_000
#: Bumped whenever the encoding changes: fingerprints of different versions never match.
VERSION = b"grader-fingerprint-1"


class _TooLarge(Exception):
    pass


def fingerprint(yours, expected, *, path: str) -> str | None:
    """The hex sha256 of a comparison's path, the student's value and the expected value, or
    None for a value too large to encode."""
    digest = hashlib.sha256(VERSION)
    budget = [MAX_NODES]
    try:
        for part in (path, yours, expected):
            _encode(part, digest, budget)
    except _TooLarge:
        return None
    return digest.hexdigest()


def _float_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each float as (mantissa, exponent) integers: ``SIGNIFICANT_DIGITS`` digits of mantissa,
    exact for the same rounded value however it was computed. NaN and inf keep markers of their own."""
    values = values.astype(np.float64, copy=False).ravel() + 0.0  # + 0.0 turns -0.0 into 0.0
    finite = np.isfinite(values) & (values != 0)
    exponent = np.zeros(values.shape, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent[finite] = np.floor(np.log10(np.abs(values[finite]))).astype(np.int64)
        scale = 10.0 ** (SIGNIFICANT_DIGITS - 1 - exponent.astype(np.float64))
        mantissa = np.where(finite, np.round(values * scale), 0.0)
    # 9.999996 rounds to 10.00000: renormalise so that it reads as 1.00000e1, like 10.0 does.
    over = np.abs(mantissa) >= 10 ** SIGNIFICANT_DIGITS
    mantissa[over] = np.round(mantissa[over] / 10)
    exponent[over] += 1
    mantissa = mantissa.astype(np.int64)
    special = np.where(np.isnan(values), 1, np.where(np.isposinf(values), 2, np.where(np.isneginf(values), 3, 0)))
    return np.stack([mantissa, exponent]), special.astype(np.int8)


def _encode_array(array: np.ndarray, digest) -> None:
    kind = array.dtype.kind
    digest.update(f"a{kind if kind in 'biuf' else 'o'}{array.shape}".encode())
    if kind == "b":
        digest.update(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    elif kind in "iu":
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    elif kind == "f":
        parts, special = _float_parts(array)
        digest.update(parts.tobytes())
        digest.update(special.tobytes())
    else:  # strings, objects: what compare would compare exactly
        digest.update(repr(array.tolist()).encode("utf-8", "replace"))


def _encode(value, digest, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, Remote):
        digest.update(f"r{value.type_name}".encode("utf-8", "replace"))
    elif value is None:
        digest.update(b"z")
    elif isinstance(value, (bool, np.bool_)):
        digest.update(b"bT" if value else b"bF")
    elif isinstance(value, str):
        digest.update(f"s{len(value)}:".encode() + value.encode("utf-8", "replace"))
    elif isinstance(value, np.ndarray):
        budget[0] -= value.size
        if budget[0] < 0:
            raise _TooLarge
        _encode_array(value, digest)
    elif isinstance(value, (Number, np.number)) and not isinstance(value, complex):
        _encode_array(np.asarray(value), digest)  # a number is a 0-d array, as compare treats it
    elif isinstance(value, (list, tuple)):
        digest.update(f"l{len(value)}[".encode())
        for item in value:
            _encode(item, digest, budget)
        digest.update(b"]")
    elif isinstance(value, dict):
        digest.update(f"d{len(value)}{{".encode())
        for key in sorted(value, key=repr):
            digest.update(f"k{key!r}:".encode("utf-8", "replace"))
            _encode(value[key], digest, budget)
        digest.update(b"}")
    else:
        digest.update(f"t{type(value).__name__}".encode("utf-8", "replace"))
