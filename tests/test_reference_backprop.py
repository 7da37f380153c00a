"""The backprop reference solution against torch autograd / torch.nn.functional and the lecture."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PATH = ROOT / "reference" / "backprop.py"
ASSIGNMENT_DIR = ROOT / "assignments" / "backprop"


def _load_reference():
    spec = importlib.util.spec_from_file_location("backprop_reference_under_test", REFERENCE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()
SEED = tomllib.loads((ASSIGNMENT_DIR / "assignment.toml").read_text())["seed"]


def t(array, grad=True):
    return torch.tensor(array, dtype=torch.float64, requires_grad=grad)


def close(actual, expected, rtol=1e-10, atol=1e-12):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def distinct_values(rng, shape):
    """Tie-free inputs for max pooling (values at least 0.02 apart)."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * 0.03 + rng.uniform(-0.004, 0.004, size)).reshape(shape)


# --- layers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape, m", [((4, 5), 3), ((2, 3, 4, 2), 3), ((1, 4, 3), 5), ((3, 1), 1)])
def test_affine_matches_torch(x_shape, m):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape)
    d = int(np.prod(x_shape[1:]))
    w, b = rng.standard_normal((d, m)), rng.standard_normal(m)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    out, cache = ref.affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = ref.affine_backward(dout, cache)

    xt, wt, bt = t(x), t(w), t(b)
    out_t = xt.reshape(x_shape[0], -1) @ wt + bt
    out_t.backward(torch.from_numpy(dout))
    close(out, out_t)
    close(dx, xt.grad)
    close(dw, wt.grad)
    close(db, bt.grad)
    assert dx.shape == x.shape
    for before, after in ((x0, x), (w0, w), (b0, b)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 3, 2), (1, 5)])
def test_relu_and_sigmoid_match_torch(shape):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.1, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
    dout = rng.standard_normal(shape)
    for forward, backward, torch_fn in ((ref.relu_forward, ref.relu_backward, torch.relu),
                                        (ref.sigmoid_forward, ref.sigmoid_backward, torch.sigmoid)):
        x0 = x.copy()
        out, cache = forward(x)
        dx = backward(dout, cache)
        xt = t(x)
        out_t = torch_fn(xt)
        out_t.backward(torch.from_numpy(dout))
        close(out, out_t)
        close(dx, xt.grad)
        np.testing.assert_array_equal(x, x0)


def test_relu_gradient_is_zero_at_zero_and_sigmoid_is_stable():
    out, cache = ref.relu_forward(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(ref.relu_backward(np.ones(3), cache), [0.0, 0.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        out, _ = ref.sigmoid_forward(np.array([-800.0, 0.0, 800.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("n, c, scale", [(6, 4, 1.0), (1, 3, 1.0), (8, 6, 1000.0), (5, 10, 30.0)])
def test_softmax_loss_matches_torch_cross_entropy(n, c, scale):
    rng = np.random.default_rng(3)
    x = scale * rng.standard_normal((n, c))
    y = rng.integers(0, c, n)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, even for scores of magnitude 1e3
        loss, dx = ref.softmax_loss(x, y)
    xt = t(x)
    loss_t = F.cross_entropy(xt, torch.from_numpy(y))
    loss_t.backward()
    assert math.isfinite(loss) and np.isfinite(dx).all()
    close(loss, loss_t.item())
    close(dx, xt.grad)


def test_softmax_loss_stable_near_plus_and_minus_1e3():
    rng = np.random.default_rng(4)
    x = rng.uniform(-3, 3, (6, 5))
    x[:3] += 1000.0
    x[3:] -= 1000.0
    y = rng.integers(0, 5, 6)
    loss, dx = ref.softmax_loss(x, y)
    # Shifting each row by a constant does not change the softmax.
    loss0, dx0 = ref.softmax_loss(x - x.max(axis=1, keepdims=True), y)
    close(loss, loss0, rtol=1e-12)
    close(dx, dx0)


@pytest.mark.parametrize("shape", [(6, 3), (7,), (1, 4)])
def test_mse_loss_matches_torch(shape):
    rng = np.random.default_rng(5)
    pred, y = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, dpred = ref.mse_loss(pred, y)
    pt = t(pred)
    loss_t = 0.5 * ((pt - torch.from_numpy(y)) ** 2).sum() / shape[0]
    loss_t.backward()
    close(loss, loss_t.item())
    close(dpred, pt.grad)


def _spiral(rng, n, k=3):
    X = np.zeros((n * k, 2))
    y = np.repeat(np.arange(k), n)
    for j in range(k):
        r = np.linspace(0, 1, n)
        th = np.linspace(4 * j, 4 * (j + 1), n) + 0.2 * rng.standard_normal(n)
        X[j * n:(j + 1) * n] = np.c_[r * np.sin(th), r * np.cos(th)]
    return X, y


@pytest.mark.parametrize("hidden, reg", [(8, 0.1), (12, 0.0), (5, 0.7)])
def test_two_layer_net_matches_torch(hidden, reg):
    rng = np.random.default_rng(6)
    X, y = _spiral(rng, 10)
    params = {"W1": rng.standard_normal((2, hidden)), "b1": 0.1 * rng.standard_normal(hidden),
              "W2": rng.standard_normal((hidden, 3)), "b2": 0.1 * rng.standard_normal(3)}
    loss, grads = ref.two_layer_net(X, y, params, reg)
    pt = {k: t(v) for k, v in params.items()}
    scores = torch.relu(torch.from_numpy(X) @ pt["W1"] + pt["b1"]) @ pt["W2"] + pt["b2"]
    loss_t = F.cross_entropy(scores, torch.from_numpy(y)) + 0.5 * reg * ((pt["W1"] ** 2).sum() + (pt["W2"] ** 2).sum())
    loss_t.backward()
    close(loss, loss_t.item())
    assert set(grads) == {"W1", "b1", "W2", "b2"}
    for k in params:
        close(grads[k], pt[k].grad)


CONV_CASES = [
    # x shape, w shape, stride, pad
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),
    ((2, 2, 6, 5), (3, 2, 3, 2), 1, 0),   # pad 0, non-square kernel, odd width
    ((3, 1, 4, 7), (2, 1, 1, 3), 1, 0),
    ((1, 3, 7, 7), (2, 3, 3, 3), 2, 1),   # batch of one, stride 2
    ((2, 1, 5, 8), (2, 1, 3, 4), 2, 2),   # stride 2, pad 2, non-square
    ((1, 2, 5, 7), (2, 2, 3, 3), 2, 0),
    ((2, 2, 6, 6), (1, 2, 3, 3), 2, 0),   # stride does not divide: floor, as torch
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_conv_matches_torch_conv2d(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    x0, w0 = x.copy(), w.copy()
    out, cache = ref.conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = ref.conv_backward_naive(dout, cache)

    xt, wt, bt = t(x), t(w), t(b)
    out_t = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    out_t.backward(torch.from_numpy(dout))
    assert out.shape == tuple(out_t.shape)
    close(out, out_t)
    close(dx, xt.grad)
    close(dw, wt.grad)
    close(db, bt.grad)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    assert conv_param == {"stride": stride, "pad": pad}


POOL_CASES = [
    # x shape, pool height, pool width, stride
    ((2, 3, 4, 4), 2, 2, 2),
    ((2, 2, 5, 9), 2, 3, 3),   # non-square pool, odd sizes
    ((1, 2, 5, 7), 3, 2, 1),   # overlapping windows, batch of one
    ((2, 2, 4, 6), 2, 3, 2),   # overlapping along the width
    ((1, 1, 5, 5), 2, 2, 2),   # floor: the last row and column are not covered
]


@pytest.mark.parametrize("x_shape, ph, pw, stride", POOL_CASES)
def test_max_pool_matches_torch(x_shape, ph, pw, stride):
    rng = np.random.default_rng(8)
    x = distinct_values(rng, x_shape)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = ref.max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx = ref.max_pool_backward_naive(dout, cache)
    xt = t(x)
    out_t = F.max_pool2d(xt, (ph, pw), stride=stride)
    out_t.backward(torch.from_numpy(dout))
    close(out, out_t)
    close(dx, xt.grad)


def test_layers_return_float64():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 1, 4, 4))
    assert ref.conv_forward_naive(x, rng.standard_normal((1, 1, 3, 3)), np.zeros(1), {"stride": 1, "pad": 1})[0].dtype == np.float64
    assert ref.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})[0].dtype == np.float64


# --- quiz ------------------------------------------------------------------------------------

def test_lecture_facts():
    quiz = ref.quiz_for(SEED, None)["QUIZ"]
    assert quiz == ref.LECTURE_QUIZ
    # q1: the lecture's x and y as printed; its weights are only in a figure, so these are examples.
    assert (quiz["q1"]["x1"], quiz["q1"]["x2"], quiz["q1"]["y"]) == (1, 2, 8)
    assert quiz["q2"] == {"x1": 1, "x2": -1, "y": 1, "w1": 1, "w2": 2}
    # q3: x and y as printed, weights that give z = 3.
    q3 = quiz["q3"]
    assert (q3["x1"], q3["x2"], q3["y"]) == (1, -1, 1)
    assert q3["w1"] * q3["x1"] + q3["w2"] * q3["x2"] == 3
    assert (max(3, 0) - q3["y"]) ** 2 == 4  # yhat = 3, loss 4
    assert quiz["q4"] == {"p": [0.02, 0.90, 0.05, 0.01, 0.02], "label": 3}
    answers = ref.quiz_answers(quiz)
    assert answers["q1"] == pytest.approx(-12.0)  # (5 - 8) * w5 * x2 with the example weights
    assert answers["q2"] == pytest.approx(1 / (1 + math.exp(1)) - 1)
    assert answers["q2"] == pytest.approx(-0.7311, abs=1e-4)
    assert answers["q3"] == pytest.approx(4.0)
    assert answers["q4"] == pytest.approx(-math.log(0.05))
    assert answers["q4"] == pytest.approx(2.9957, abs=1e-4)


def test_lecture_neuron_binary_cross_entropy_and_sigmoid_mse_gradient():
    """The lecture's neuron (x = (1, -1), w = (1, 2), y = 1): BCE value, and the sigmoid + MSE gradient."""
    x, w = t([1.0, -1.0], grad=False), t([1.0, 2.0])
    yhat = torch.sigmoid(x @ w)
    bce = F.binary_cross_entropy(yhat, torch.tensor(1.0, dtype=torch.float64))
    assert bce.item() == pytest.approx(math.log(1 + math.e), rel=1e-12)  # -ln sigma(-1)
    assert bce.item() == pytest.approx(1.3133, abs=1e-4)
    # Two classes with scores (0, z) give the binary cross-entropy of sigma(z), through softmax_loss.
    for label in (0, 1):
        loss, dx = ref.softmax_loss(np.array([[0.0, -1.0]]), np.array([label]))
        expected = F.binary_cross_entropy(yhat, torch.tensor(float(label), dtype=torch.float64)).item()
        assert loss == pytest.approx(expected, rel=1e-12)
        close(dx[0, 1], yhat.item() - label)
    # sigmoid + square loss 1/2 (yhat - y)^2: dl/dw = (yhat - y) yhat (1 - yhat) x.
    (0.5 * (yhat - 1.0) ** 2).backward()
    s = 1 / (1 + math.exp(1))
    close(w.grad, (s - 1) * s * (1 - s) * np.array([1.0, -1.0]))
    out, cache = ref.sigmoid_forward(np.array([[-1.0]]))
    loss, dpred = ref.mse_loss(out, np.array([[1.0]]))
    _, dw, _ = ref.affine_backward(ref.sigmoid_backward(dpred, cache), (np.array([[1.0, -1.0]]), np.ones((2, 1)), 0))
    close(dw[:, 0], w.grad)


def _torch_answers(quiz):
    """Every question re-derived with torch autograd, independently of quiz_answers."""
    q = quiz["q1"]
    w = {k: t(float(q[k])) for k in ("w1", "w2", "w3", "w4", "w5", "w6")}
    a1 = w["w1"] * q["x1"] + w["w3"] * q["x2"]
    a2 = w["w2"] * q["x1"] + w["w4"] * q["x2"]
    (0.5 * (w["w5"] * a1 + w["w6"] * a2 - q["y"]) ** 2).backward()
    answers = {"q1": w["w3"].grad.item()}

    q = quiz["q2"]
    w1, w2 = t(float(q["w1"])), t(float(q["w2"]))
    z = w1 * q["x1"] + w2 * q["x2"]
    F.binary_cross_entropy_with_logits(z, torch.tensor(float(q["y"]), dtype=torch.float64)).backward()
    answers["q2"] = w1.grad.item()

    q = quiz["q3"]
    w1, w2 = t(float(q["w1"])), t(float(q["w2"]))
    ((torch.relu(w1 * q["x1"] + w2 * q["x2"]) - q["y"]) ** 2).backward()
    answers["q3"] = w1.grad.item()

    q = quiz["q4"]
    log_p = torch.log(torch.tensor([q["p"]], dtype=torch.float64))
    answers["q4"] = F.nll_loss(log_p, torch.tensor([q["label"] - 1])).item()
    return answers


@pytest.mark.parametrize("student", [None, "alice", "bob", "s0001", "correct"])
def test_quiz_answers_match_torch_autograd(student):
    quiz = ref.quiz_for(SEED, student)["QUIZ"]
    answers = ref.quiz_answers(quiz)
    expected = _torch_answers(quiz)
    assert set(answers) == {"q1", "q2", "q3", "q4"}
    for qid in expected:
        assert answers[qid] == pytest.approx(expected[qid], rel=1e-12, abs=1e-12), qid
        assert type(answers[qid]) is float


def test_quiz_for_is_deterministic_across_processes():
    """Same numbers in a fresh interpreter with another hash seed: no hash(), no global state."""
    ids = ["alice", "bob", "Zoë", "12345"]
    here = json.dumps([ref.quiz_for(SEED, s) for s in ids])
    assert here == json.dumps([ref.quiz_for(SEED, s) for s in ids])
    code = (f"import importlib.util, json; s = importlib.util.spec_from_file_location('r', {str(REFERENCE_PATH)!r}); "
            f"m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
            f"print(json.dumps([m.quiz_for({SEED}, i) for i in {ids!r}]))")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert there.stdout.strip() == here


IDS = [f"student{i:03d}" for i in range(500)]


def test_quiz_variants_differ_between_students_and_seeds():
    quizzes = [ref.quiz_for(SEED, s)["QUIZ"] for s in IDS]
    assert len({json.dumps(q, sort_keys=True) for q in quizzes}) == len(IDS)
    for qid in ("q1", "q2", "q3", "q4"):
        variants = {json.dumps(q[qid], sort_keys=True) for q in quizzes}
        assert len(variants) > 150, qid
        answers = {round(ref.quiz_answers(q)[qid], 6) for q in quizzes}
        assert len(answers) > 20, qid
    assert ref.quiz_for(SEED, "alice") != ref.quiz_for(SEED + 1, "alice")
    assert ref.quiz_for(SEED, "alice") != ref.LECTURE_QUIZ


def _is_nice(value):
    return isinstance(value, int) or (isinstance(value, float) and round(value, 1) == value)


def test_quiz_variants_are_nice_and_not_degenerate():
    for student in IDS:
        quiz = ref.quiz_for(SEED, student)["QUIZ"]
        assert set(quiz) == {"q1", "q2", "q3", "q4"}
        for qid in ("q1", "q2", "q3"):
            assert all(_is_nice(v) and abs(v) <= 3 for v in quiz[qid].values()), (student, qid)
        assert set(quiz["q1"]) == {"x1", "x2", "y", "w1", "w2", "w3", "w4", "w5", "w6"}
        assert set(quiz["q2"]) == set(quiz["q3"]) == {"x1", "x2", "y", "w1", "w2"}
        answers = ref.quiz_answers(quiz)

        q = quiz["q1"]
        a1 = q["w1"] * q["x1"] + q["w3"] * q["x2"]
        a2 = q["w2"] * q["x1"] + q["w4"] * q["x2"]
        err = q["w5"] * a1 + q["w6"] * a2 - q["y"]
        assert a1 != 0 and a2 != 0 and abs(err) >= 0.5
        wrong_weight = [err * q["w5"] * q["x1"], err * q["w6"] * q["x1"], err * q["w6"] * q["x2"]]
        assert all(abs(answers["q1"] - v) > 1e-3 * abs(answers["q1"]) for v in wrong_weight)

        q = quiz["q2"]
        z = q["w1"] * q["x1"] + q["w2"] * q["x2"]
        assert q["y"] in (0, 1)
        assert 0.5 <= abs(z) <= 2.5  # neither sigma(0) nor saturated
        assert abs(answers["q2"]) > 0.05

        q = quiz["q3"]
        z = q["w1"] * q["x1"] + q["w2"] * q["x2"]
        assert z >= 0.5  # the ReLU is on, never at its kink
        assert abs(answers["q3"]) >= 1.0

        q = quiz["q4"]
        p, label = q["p"], q["label"]
        assert 4 <= len(p) <= 6 and 1 <= label <= len(p)
        assert all(0 < v < 1 and round(v, 2) == v for v in p)
        assert sum(p) == pytest.approx(1.0, abs=1e-9)
        assert p.count(p[label - 1]) == 1  # an off-by-one index gives another answer
        assert 0.03 <= p[label - 1] <= 0.8


# --- files built from the reference ---------------------------------------------------------

def _quiz_literal(path: Path):
    tree = ast.parse(path.read_text())
    assigns = [n for n in tree.body if isinstance(n, ast.Assign)
               and any(isinstance(tg, ast.Name) and tg.id == "QUIZ" for tg in n.targets)]
    assert len(assigns) == 1, f"{path}: expected exactly one top-level QUIZ = ... statement"
    return ast.literal_eval(assigns[0].value)


def test_stub_holds_the_lecture_quiz_and_empty_answers():
    stub = ASSIGNMENT_DIR / "stub.py"
    assert _quiz_literal(stub) == ref.LECTURE_QUIZ
    tree = ast.parse(stub.read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"affine_forward", "affine_backward", "relu_forward", "relu_backward", "sigmoid_forward",
            "sigmoid_backward", "softmax_loss", "mse_loss", "two_layer_net", "conv_forward_naive",
            "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive"} <= names


@pytest.mark.parametrize("path", sorted((ROOT / "samples" / "backprop").glob("*.py")), ids=lambda p: p.name)
def test_sample_quiz_literals_are_their_own_variant(path):
    """The samples embed quiz_for(seed, <file stem>): regenerate them if the seed changes."""
    assert _quiz_literal(path) == ref.quiz_for(SEED, path.stem)["QUIZ"]
