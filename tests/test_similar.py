"""grader similar: fingerprints of wrong answers stored at grading time, code winnowing, ranked pairs."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import CheckFailed, expect_close, expect_equal
from grader.compare import EXACT, compare
from grader.fingerprint import fingerprint
from grader.gradebook import Gradebook
from grader.results import CheckResult, SubmissionResult
from grader.sandbox.wire import Remote


# --- fingerprints of failed comparisons --------------------------------------------------------

def test_a_fingerprint_is_a_hash_of_path_and_both_values_not_the_values():
    yours, expected = np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0])
    digest = fingerprint(yours, expected, path="dx")
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert fingerprint(yours, expected, path="dx") == digest  # stable
    assert fingerprint(yours, expected, path="dw") != digest  # another place in the check
    assert fingerprint(yours + 1, expected, path="dx") != digest  # another wrong answer
    assert fingerprint(yours, expected + 1, path="dx") != digest  # another question (a per-student variant)


def test_floats_agree_to_six_significant_digits_and_zero_signs_and_nans_do_not_matter():
    base = np.array([0.1 + 0.2, -0.0, np.nan, 1234.5678, 9.9999996])
    same = np.array([0.3, 0.0, np.nan, 1234.56781, 10.0])
    assert fingerprint(base, None, path="x") == fingerprint(same, None, path="x")
    assert fingerprint(np.array([0.300001]), None, path="x") != fingerprint(np.array([0.3]), None, path="x")
    # lists and tuples alike, as compare treats them; an array is not a list of its numbers
    assert fingerprint([1, (2.0, "a")], None, path="x") == fingerprint((1, [2.0, "a"]), None, path="x")
    assert fingerprint(np.array([1, 2]), None, path="x") != fingerprint([1, 2], None, path="x")
    # shape and kind count: the same bytes in another shape, or ints against bools, are other answers
    assert fingerprint(np.zeros((2, 3)), None, path="x") != fingerprint(np.zeros((3, 2)), None, path="x")
    assert fingerprint(np.array([1, 0]), None, path="x") != fingerprint(np.array([True, False]), None, path="x")
    # dicts by key, in any order; objects that could not cross the boundary by their type
    assert fingerprint({"b": 1, "a": 2}, None, path="x") == fingerprint({"a": 2, "b": 1}, None, path="x")
    assert fingerprint(Remote(1, "Cache"), None, path="x") == fingerprint(Remote(2, "Cache"), None, path="x")
    assert fingerprint(Remote(1, "Cache"), None, path="x") != fingerprint(Remote(1, "Other"), None, path="x")


def test_a_value_too_large_to_encode_has_no_fingerprint():
    assert fingerprint([[0]] * 200_000, None, path="x") is None
    assert fingerprint(np.zeros(200_000), None, path="x") is None


def test_a_failed_comparison_carries_its_fingerprint_and_the_same_message():
    wrong = compare(np.array([1.0, 2.5]), np.array([1.0, 2.0]), path="db")
    assert not wrong.ok and wrong.fingerprint == fingerprint(np.array([1.0, 2.5]), np.array([1.0, 2.0]), path="db")
    assert wrong.message.startswith("db: not close (rtol=1e-06, atol=1e-08): 1 / 2 elements (50.0%) differ")
    nested = compare({"W1": [np.zeros(2), 3]}, {"W1": [np.zeros(2), 4]}, path="grads", tol=EXACT)
    assert nested.message == "grads['W1'][1]: 3 (yours), expected 4"
    assert nested.fingerprint == fingerprint({"W1": [np.zeros(2), 3]}, {"W1": [np.zeros(2), 4]}, path="grads")
    assert compare(np.ones(2), np.ones(2)).fingerprint is None
    with pytest.raises(CheckFailed) as failed:
        expect_equal([1, 0], [1, 1], name="mistakes")
    assert str(failed.value) == "mistakes[1]: 0 (yours), expected 1"
    assert failed.value.fingerprint == fingerprint([1, 0], [1, 1], path="mistakes")
    with pytest.raises(CheckFailed) as failed:
        expect_close(2.0, 1.0, name="loss")
    assert failed.value.fingerprint == fingerprint(2.0, 1.0, path="loss")


def test_fingerprints_are_stored_and_read_back(gradebook_url):
    checks = [CheckResult("a", 0.0, 1.0, "failed", "x: 1 (yours), expected 2", fingerprint="f" * 64),
              CheckResult("b", 1.0, 1.0, "passed", "")]
    result = SubmissionResult(student="ann", assignment="perceptron", file="ann.py", content_hash="h", score=1.0,
                              max_score=2.0, status="graded", error=None, checks=checks)
    with Gradebook(gradebook_url) as gradebook:
        gradebook.record(result)
        stored, = gradebook.latest("perceptron")
    assert [c.fingerprint for c in stored.checks] == ["f" * 64, None]
