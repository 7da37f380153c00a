"""The reference's answers are remembered across a batch, and a hit is indistinguishable from a run."""

import types

import numpy as np
import pytest

from grader.grading import reference_cache
from grader.grading.reference_cache import CachedReference


def _module(**functions):
    module = types.ModuleType("reference")
    calls = []
    for name, function in functions.items():
        def counted(*args, _function=function, _name=name, **kwargs):
            calls.append(_name)
            return _function(*args, **kwargs)
        setattr(module, name, counted)
    module.calls = calls
    return module


def test_an_array_and_list_answer_is_computed_once_and_each_hit_is_a_fresh_writable_copy():
    module = _module(train=lambda X, w0=None: (X.sum(axis=0) * 1.0, [3, 1, 0]))
    reference = CachedReference(module)
    X = np.arange(6.0).reshape(3, 2)
    first = reference.train(X, w0=None)
    first[0][0] = 99.0       # a check writing into what it got ...
    first[1].append(7)       # ... or appending to it
    second = reference.train(X, w0=None)
    assert module.calls == ["train"]
    assert (reference.hits, reference.misses) == (1, 1)
    np.testing.assert_array_equal(second[0], [6.0, 9.0])
    assert second[1] == [3, 1, 0]
    assert second[0].flags.writeable
    second[0][1] = -1.0
    np.testing.assert_array_equal(reference.train(X, w0=None)[0], [6.0, 9.0])


def test_different_arguments_are_different_questions():
    module = _module(double=lambda x: x * 2)
    reference = CachedReference(module)
    assert reference.double(np.array([1, 2]))[1] == 4
    assert reference.double(np.array([1.0, 2.0])).dtype == np.float64  # same values, other dtype
    assert reference.double(2) == 4
    assert reference.double(True) == 2  # True is not 1
    assert module.calls == ["double"] * 4


def test_a_reference_that_writes_into_its_argument_runs_every_time():
    def scale(x):
        x *= 2
        return x.sum()
    module = _module(scale=scale)
    reference = CachedReference(module)
    x = np.ones(3)
    reference.scale(x)
    reference.scale(x)
    np.testing.assert_array_equal(x, [4.0, 4.0, 4.0])  # both calls had their effect
    assert module.calls == ["scale", "scale"]


def test_objects_and_unkeyable_arguments_are_not_remembered():
    class Thing:
        pass
    module = _module(make=lambda: Thing(), length=lambda items: len(items))
    reference = CachedReference(module)
    assert reference.make() is not reference.make()
    reference.length([1, 2])
    reference.length([1, 2])  # a list argument has no exact key
    assert module.calls == ["make", "make", "length", "length"]


def test_an_exception_is_an_answer_too():
    def size(n):
        if n < 0:
            raise ValueError(f"negative size {n}")
        return n
    module = _module(size=size)
    reference = CachedReference(module)
    for _ in range(2):
        with pytest.raises(ValueError, match="negative size -1"):
            reference.size(-1)
    assert module.calls == ["size"]


def test_remembered_arrays_are_bounded_in_bytes(monkeypatch):
    monkeypatch.setattr(reference_cache, "MAX_ARRAY_BYTES", 4 * 8 * 1000)
    module = _module(zeros=lambda n: np.zeros(n))
    reference = CachedReference(module)
    for n in range(1, 200):
        reference.zeros(n)
    assert reference._array_bytes <= 4 * 8 * 1000
    reference.zeros(199)  # the newest are kept
    reference.zeros(1)    # the oldest went first
    assert module.calls.count("zeros") == 200
    assert len(reference.zeros(5000)) == 5000  # too big to keep: still answered, every time
    assert len(reference.zeros(5000)) == 5000
    assert module.calls.count("zeros") == 202
