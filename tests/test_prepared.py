"""``ctx.once``: inputs drawn once per batch, and a check that cannot tell."""

import numpy as np
import pytest

from conftest import SAMPLES
from grader.checks import CheckContext, check_seed
from grader.course.assignment import get_assignment
from grader.grading.grader import Grader
from grader.grading.prepared import Prepared


def _context(prepared, name="a_check", student_id="s1"):
    return CheckContext(student=None, reference=None, harness=None, rng=np.random.default_rng(check_seed(7, name)),
                        seed=7, student_id=student_id, check_name=name, prepared=prepared)


def _configs(inputs, count):
    made.append(count)
    return [((int(inputs.rng.integers(1, 99)), None), {"stride": int(inputs.rng.integers(1, 4))}) for _ in range(count)]


made: list = []


def test_a_second_submission_gets_the_same_value_and_the_generator_where_the_first_left_it():
    made.clear()
    prepared = Prepared(lock=__import__("threading").RLock())
    first = _context(prepared, student_id="s1")
    value = first.once(_configs, 5)
    after_first = first.rng.random()
    value[0][1]["stride"] = 99  # the check changes what it got: nobody else sees that

    second = _context(prepared, student_id="s2")
    again = second.once(_configs, 5)
    assert made == [5]  # made once
    assert again[0][1]["stride"] != 99 and [c[0] for c in again] == [c[0] for c in value]
    assert second.rng.random() == after_first  # the check goes on exactly as the first did
    assert (prepared.hits, prepared.misses) == (1, 1)

    third = _context(prepared)
    third.once(_configs, 6)  # other arguments: made again
    third.rng.random()
    third.once(_configs, 5)  # the generator is elsewhere now: made again
    assert made == [5, 6, 5]


def test_make_sees_no_student_and_an_uncopyable_value_is_made_every_time():
    prepared = Prepared(lock=__import__("threading").RLock())
    ctx = _context(prepared)
    with pytest.raises(AttributeError):
        ctx.once(lambda inputs: inputs.student_id)
    objects = [_context(prepared).once(lambda inputs: object()) for _ in range(2)]
    assert objects[0] is not objects[1]


def test_two_makes_of_one_check_never_share_a_value_and_closures_are_made_every_time():
    prepared = Prepared(lock=__import__("threading").RLock())
    ctx = _context(prepared)
    assert ctx.once(lambda inputs: [1, 2]) == [1, 2]
    assert ctx.once(lambda inputs: [3, 4]) == [3, 4]  # same check, same generator state, other code
    for n in (5, 6):  # a closure: same code, another n
        assert _context(prepared).once(lambda inputs: [n]) == [n]
    assert prepared.hits == 0


def test_without_a_store_once_just_makes_the_value():
    calls = []

    def draw(inputs, n):
        calls.append(n)
        return [int(inputs.rng.integers(0, 10)) for _ in range(n)]

    ctx, same = _context(None), _context(None)
    assert ctx.once(draw, 3) == [int(same.rng.integers(0, 10)) for _ in range(3)]
    ctx.once(draw, 3)
    assert calls == [3, 3]


def test_conv_grades_the_same_from_drawn_and_remembered_configurations(course_root):
    spec = get_assignment("conv", course_root)
    buggy = SAMPLES / "conv" / "bug_no_dilation.py"
    with Grader(spec) as grader:
        first = grader.grade_file(buggy, "a")
        second = grader.grade_file(buggy, "b")
        assert grader._prepared.hits > 0  # noqa: SLF001 - the second drew nothing
    with Grader(spec) as fresh:
        alone = fresh.grade_file(buggy, "b")
    shown = [[(c.name, c.score, c.message) for c in r.checks] for r in (first, second, alone)]
    assert shown[0] == shown[1] == shown[2]
    assert first.score < first.max_score


def test_each_check_gets_its_generator_at_the_start_of_its_seed_every_time():
    import threading

    from grader.grading.generators import CheckGenerators

    generators = CheckGenerators(7)
    expected = np.random.default_rng(check_seed(7, "update_random")).normal(size=5)
    first = generators.fresh("update_random")
    assert np.array_equal(first.normal(size=5), expected)
    first.integers(0, 10, size=100)  # a check that draws more than the next one will
    assert np.array_equal(generators.fresh("update_random").normal(size=5), expected)
    assert not np.array_equal(generators.fresh("predict_random").normal(size=5), expected)
    # Two threads grading at once never share one generator.
    seen = []
    thread = threading.Thread(target=lambda: seen.append(generators.fresh("update_random")))
    thread.start()
    thread.join()
    assert seen[0] is not generators.fresh("update_random")
    assert np.array_equal(seen[0].normal(size=5), expected)
