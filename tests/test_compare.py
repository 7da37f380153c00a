"""Every message path of the comparison helpers."""

import math

import numpy as np
import pytest

from grader.checks import CheckFailed, expect, expect_close, expect_equal
from grader.compare import EXACT, Tolerance, compare, is_finite_number
from grader.sandbox.wire import Remote


def message(yours, expected, **kwargs):
    result = compare(yours, expected, **kwargs)
    assert not result.ok
    return result.message


def test_equal_arrays_pass_within_tolerance():
    assert compare(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])).ok
    assert compare(np.array([1, 2]), np.array([1.0, 2.0])).ok  # int vs float is fine unless asked


def test_shape_mismatch_stops_before_values():
    assert message(np.zeros((3, 2)), np.zeros((2, 3)), path="dw") == "dw: shape (3, 2) (yours), expected (2, 3)"


def test_dtype_kind_checked_when_asked():
    text = message(np.array([1.0, 0.0]), np.array([1, 0]), check_dtype=True)
    assert text == "result: dtype float64 (yours), expected a int64 array"


def test_value_mismatch_states_tolerance_count_and_worst_offenders():
    expected = np.arange(12, dtype=float).reshape(3, 4) + 1
    yours = expected.copy()
    yours[1, 2] *= 1.02
    yours[2, 3] += 0.5
    text = message(yours, expected, path="db", tol=Tolerance(1e-6, 1e-8))
    assert text.startswith("db: not close (rtol=1e-06, atol=1e-08): 2 / 12 elements (16.7%) differ")
    assert "greatest relative difference 4.2e-02 at [2, 3]" in text
    assert "[2, 3]: 12.5 (yours), 12 (expected)" in text
    assert "[1, 2]: 7.14 (yours), 7 (expected)" in text


def test_at_most_three_offenders_listed():
    text = message(np.ones(10), np.zeros(10))
    assert text.count("(yours)") == 3
    assert "10 / 10 elements (100.0%) differ" in text
    assert "relative difference" not in text  # expected zeros: no relative difference to state


def test_nan_and_inf_are_mismatches_with_a_hint():
    text = message(np.array([1.0, np.nan, np.inf]), np.array([1.0, 2.0, 3.0]), path="loss")
    assert "2 / 3 elements" in text
    assert "2 of yours are NaN or inf" in text
    assert "[1]: nan (yours), 2 (expected)" in text


def test_nan_in_scalar_result():
    text = message(float("nan"), 2.5, path="loss")
    assert text == "loss: nan (yours), expected 2.5 (rtol=1e-06, atol=1e-08); yours is not finite (overflow or division by zero?)"


def test_same_infinity_matches():
    assert compare(np.array([np.inf, 1.0]), np.array([np.inf, 1.0])).ok


def test_exact_comparison_says_not_equal_without_tolerance():
    assert message(np.array([1, 0, 1]), np.array([1, 1, 1]), tol=EXACT) == \
        "result: not equal: 1 / 3 elements (33.3%) differ; [1]: 0 (yours), 1 (expected)"
    assert message(3, 2, tol=EXACT, path="step(0)") == "step(0): 3 (yours), expected 2"


def test_scalar_expected_but_array_given():
    assert message(np.array([1.0, 2.0]), 1.0) == \
        "result: expected a number, yours is a numpy array of shape (2,) and dtype float64"
    assert compare(np.array(1.0), 1.0).ok  # a 0-d array is a number
    assert message("1.0", 1.0) == "result: expected a number, yours is str '1.0'"


def test_array_expected_but_other_type_given():
    assert message(None, np.zeros(3)) == "result: expected a numpy array of shape (3,), yours is None"
    assert message(2.0, np.zeros(3)) == "result: yours is a single number, expected an array of shape (3,)"
    assert compare([[1, 2], [3, 4]], np.array([[1, 2], [3, 4]])).ok  # nested lists count as arrays


def test_nested_paths_name_the_failing_item():
    expected = (np.zeros(2), {"W1": np.ones((2, 2)), "b1": np.zeros(2)})
    yours = (np.zeros(2), {"W1": np.ones((2, 2)), "b1": np.ones(2)})
    assert message(yours, expected, path="result").startswith("result[1]['b1']: not close")


def test_tuple_length_and_type_mismatch():
    assert message((1, 2, 3), (1, 2)) == "result: 3 items (yours), expected 2"
    assert message(np.zeros((2, 2)), (np.zeros(2), False)) == \
        "result: expected a tuple of 2 items, yours is a numpy array of shape (2, 2) and dtype float64"


def test_list_and_array_of_counts_are_interchangeable():
    assert compare(np.array([1, 0]), [1, 0]).ok
    assert compare((1, 0), [1, 0]).ok


def test_dict_missing_key_and_wrong_type():
    assert message({"W1": 1}, {"W1": 1, "W2": 2}, path="grads") == "grads: missing key 'W2' (yours has [\"'W1'\"])"
    assert message([1], {"a": 1}) == "result: expected a dict with keys ['a'], yours is a list of 1 items"
    assert compare({"a": 1.0, "extra": 5}, {"a": 1.0}).ok  # extra keys are ignored


def test_bools_are_compared_exactly_and_must_be_bools():
    assert compare(np.bool_(True), True).ok
    assert message(False, True, path="result[1]") == "result[1]: False (yours), expected True"
    assert message(1, True, path="mistake") == "mistake: expected a bool (True or False), yours is int 1"


def test_strings_and_none():
    assert compare(None, None).ok
    assert message("relu", "sigmoid") == "result: str 'relu' (yours), expected 'sigmoid'"
    assert message(0, None) == "result: int 0 (yours), expected None"


def test_unsupported_return_type_from_the_sandbox():
    assert message(Remote(3, "Generator"), np.zeros(2), path="dx") == \
        "dx: unsupported return type Generator; expected a numpy array"


def test_torch_tensors_from_the_reference_are_compared_as_arrays():
    torch = pytest.importorskip("torch")
    assert compare(np.array([1.0, 2.0]), torch.tensor([1.0, 2.0])).ok


def test_empty_arrays_match():
    assert compare(np.zeros((0, 3)), np.zeros((0, 3))).ok


def test_expect_helpers_raise_check_failed_with_the_message():
    with pytest.raises(CheckFailed, match=r"^x: 2 \(yours\), expected 1$"):
        expect_equal(2, 1, name="x")
    with pytest.raises(CheckFailed, match="not close"):
        expect_close(np.ones(2), np.zeros(2) + 0.5, rtol=1e-3, atol=0)
    with pytest.raises(CheckFailed, match="^custom$"):
        expect(False, "custom")
    expect(True, "never shown")


def test_is_finite_number():
    assert is_finite_number(1.5) and is_finite_number(np.float32(2))
    assert not is_finite_number(math.inf) and not is_finite_number("1")


def test_unknown_expected_type_is_an_authoring_error():
    with pytest.raises(TypeError):
        compare(1, object())


def test_expect_close_takes_a_tolerance_whole_never_half():
    from grader.checks import CheckFailed, Tolerance, expect_close

    expect_close(1.0 + 1e-4, 1.0, tol=Tolerance(rtol=1e-3, atol=0.0))
    expect_close(1.0 + 1e-4, 1.0, rtol=1e-3, atol=0.0)
    with pytest.raises(CheckFailed, match=r"rtol=1e-06, atol=1e-08"):
        expect_close(1.0 + 1e-4, 1.0)  # the default pair
    for half in ({"rtol": 1e-3}, {"atol": 1e-3}):
        with pytest.raises(ValueError, match="give rtol and atol together"):
            expect_close(1.0, 1.0, **half)
    with pytest.raises(ValueError, match="not both"):
        expect_close(1.0, 1.0, tol=Tolerance(), rtol=1e-3, atol=0.0)
    with pytest.raises(ValueError, match="must be a number >= 0"):
        Tolerance(rtol=-1e-3, atol=0.0)


def test_the_authoring_helpers_say_what_a_student_returned():
    from grader.checks import CheckFailed, Remote, call_text, describe, expect_tuple, show

    assert expect_tuple((1, 2), ["out", "cache"], call="f") == (1, 2)
    assert expect_tuple(np.zeros(2), ["dx"], call="f")[0].shape == (2,)
    with pytest.raises(CheckFailed, match=r"^affine_backward must return a tuple \(dx, dw, db\); "
                                          r"yours returned an array of shape \(4, 5\)$"):
        expect_tuple(np.zeros((4, 5)), ["dx", "dw", "db"], call="affine_backward")
    assert describe(Remote(3, "Cache")) == "a Cache object" and describe([1, 2]) == "a list of 2 items"
    assert show(np.float64(2.5)) == "2.5" and show(np.zeros((3, 4))) == "a numpy array of shape (3, 4)"
    assert call_text("conv_output_size", (5, 3), {"stride": np.int64(2), "x": np.zeros((2, 2))}) == \
        "conv_output_size(5, 3, stride=2, x=<array of shape (2, 2)>)"


def test_the_byte_for_byte_fast_path_agrees_with_the_tolerance():
    from grader.compare import EXACT, compare

    values = np.array([1.0, np.nan, -0.0, np.inf])
    assert compare(values, values.copy(), tol=EXACT).ok                         # the very same bytes
    assert compare(np.array([0.0, np.nan]), np.array([-0.0, np.nan]), tol=EXACT).ok  # other bytes, same values
    assert compare(values, values.astype(np.float32), tol=EXACT).ok              # other dtype, same values
    assert not compare(np.array([1.0, 2.0]), np.array([1.0, 2.5]), tol=EXACT).ok
