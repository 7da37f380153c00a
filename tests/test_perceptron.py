"""The perceptron reference against the lecture's facts, and the bundled samples graded."""

import numpy as np
import pytest

from conftest import ROOT, SAMPLES


@pytest.fixture(scope="module")
def ref(perceptron):
    return perceptron.reference


def test_lecture_worked_example(ref):
    X = ref.extend(np.array([[0, 1], [1, 0], [2, 1], [1, 2]], dtype=float))
    w, mistakes = ref.train_perceptron(X, np.array([0, 0, 1, 1]), w0=np.array([1.0, 2.0, -1.0]))
    assert w.tolist() == [1.0, 1.0, -2.0]
    assert mistakes == [1, 0]


def test_xor_never_converges(ref):
    X = ref.extend(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float))
    _, mistakes = ref.train_perceptron(X, np.array([0, 1, 1, 0]), max_epochs=25)
    assert len(mistakes) == 25 and mistakes[-1] != 0


def test_step_is_strict_and_elementwise(ref):
    assert ref.step(0) == 0 and ref.step(0.0) == 0 and ref.step(1e-12) == 1
    assert ref.step(np.array([[-1.0, 0.0, 2.0]])).tolist() == [[0, 0, 1]]


def test_activations(ref):
    z = np.array([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0])
    assert ref.activation("unit_step", z).tolist() == [0, 0, 0, 0.5, 1, 1, 1]
    assert ref.activation("sign", z).tolist() == [-1, -1, -1, 0, 1, 1, 1]
    assert ref.activation("piecewise_linear", z).tolist() == [0, 0, 0.25, 0.5, 0.75, 1, 1]
    assert ref.activation("relu", z).tolist() == [0, 0, 0, 0, 0.25, 0.5, 1]
    assert ref.activation("linear", z).tolist() == z.tolist()
    np.testing.assert_allclose(ref.activation("sigmoid", z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(ref.activation("tanh", z), np.tanh(z))
    with pytest.raises(ValueError):
        ref.activation("softsign", z)


def test_extend_and_update(ref):
    assert ref.extend(np.array([2.0, 3.0])).tolist() == [2, 3, 1]
    assert ref.extend(np.zeros((2, 1))).tolist() == [[0, 1], [0, 1]]
    w = np.array([1.0, 2.0, -1.0])
    x = np.array([0.0, 1.0, 1.0])
    new_w, mistake = ref.perceptron_update(w, x, 0)
    assert new_w.tolist() == [1, 1, -2] and mistake is True
    assert w.tolist() == [1, 2, -1]  # inputs untouched
    same, mistake = ref.perceptron_update(w, x, 1)
    assert same.tolist() == w.tolist() and mistake is False


def test_correct_samples_earn_full_marks_and_each_bug_strictly_less(perceptron_grader):
    results = {p.stem: perceptron_grader.grade_file(p, p.stem) for p in sorted((SAMPLES / "perceptron").iterdir())}
    assert {k for k in results if k.startswith("correct")} == {"correct", "correct_nb"}
    for name, result in results.items():
        if name.startswith("correct"):
            assert result.score == result.max_score == 32, (name, [c.message for c in result.checks if c.message])
        else:
            assert result.score < result.max_score, name
    assert results["bug_syntax_error"].score == 0 and results["bug_syntax_error"].status == "error"


def test_the_unmodified_stub_earns_zero(perceptron_grader, perceptron):
    result = perceptron_grader.grade_file(perceptron.stub_path, "stub")
    assert result.score == 0 and result.status == "graded"


def test_grading_is_deterministic(perceptron_grader):
    for sample in ("bug_update_sign.py", "correct_nb.ipynb"):
        path = SAMPLES / "perceptron" / sample
        first, second = (perceptron_grader.grade_file(path, "x") for _ in range(2))
        assert first.to_json() == second.to_json()
        assert first.notes == second.notes


def test_points_reflect_skills(perceptron):
    checks = perceptron.checks
    assert all(c.description for c in checks)
    assert {c.visibility for c in checks} == {"public", "hidden"}
    assert perceptron.max_score() == 32


def test_a_check_can_award_partial_credit_and_record_metrics(make_course, tmp_path, forkserver):
    """A check that returns Partial earns that share of its points; ctx.metrics land on its result."""
    from grader.course.assignment import get_assignment
    from grader.grading.grader import Grader

    root = make_course("perceptron")
    checks = root / "assignments" / "perceptron" / "checks.py"
    checks.write_text(checks.read_text() + '''

from grader.checks import Partial


@check(points=4, visibility="public")
def partial_example(ctx):
    """Earns a quarter of its points."""
    ctx.metrics["accuracy"] = 0.25
    ctx.metrics["ignored"] = float("nan")
    return Partial(0.25, "accuracy 0.25: a quarter of the points")
''')
    spec = get_assignment("perceptron", root)
    submission = tmp_path / "ann.py"
    submission.write_text((ROOT / "reference" / "perceptron.py").read_text())
    with Grader(spec, forkserver=forkserver) as grader:
        result = grader.grade_file(submission, "ann")
    partial = next(c for c in result.checks if c.name == "partial_example")
    assert (partial.status, partial.score, partial.max_score) == ("failed", 1.0, 4.0)
    assert partial.message == "accuracy 0.25: a quarter of the points"
    assert partial.metrics == {"accuracy": 0.25}
    assert result.score == result.max_score - 3.0
