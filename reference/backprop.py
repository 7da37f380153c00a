"""Reference solution of the ``backprop`` assignment (hidden; trusted process only).

Part A is the hand-backpropagation quiz: ``quiz_for(seed, student_id)`` makes each
student's numbers, deterministically from the assignment seed and the student id, and
``quiz_answers(quiz)`` solves them. Part B is the classic CS231n ``layers.py`` API: every
forward returns ``(out, cache)`` and every backward takes ``(dout, cache)``.

The lecture's numbers (``LECTURE_QUIZ``, what the unreleased stub holds), as curriculum.md gives them:

- ``q1``: x = (1, 2), y = 8 as printed. The lecture's weights exist only in a figure, so the
  weights here are examples of our own and the stub never calls their result the lecture's.
- ``q2``: y = 1, x = (1, -1), w = (1, 2): sigma(-1) - 1 ~ -0.7311.
- ``q3``: x = (1, -1), y = 1 as printed; the weights (only in a figure) must give z = 3, and
  w = (1, -2) does: yhat = 3, loss 4, dloss/dw1 = 2 (yhat - y) x1 = 4. x stays as printed
  rather than being changed to switch the ReLU on.
- ``q4``: p = (0.02, 0.90, 0.05, 0.01, 0.02), class 3: -ln 0.05 ~ 2.9957.
"""

from __future__ import annotations

import copy
import hashlib
import math

import numpy as np

# ---------------------------------------------------------------------------------------
# Part A: the quiz
# ---------------------------------------------------------------------------------------

#: The lecture's own numbers (what ``quiz_for(seed, None)`` returns and what the stub holds).
#: Answers: q1 = -12 (with the example weights), q2 = sigma(-1) - 1 ~ -0.7311, q3 = 4,
#: q4 = -ln 0.05 ~ 2.9957.
LECTURE_QUIZ = {
    "q1": {"x1": 1, "x2": 2, "y": 8, "w1": 1, "w2": -1, "w3": 0.5, "w4": 1, "w5": 2, "w6": 1},
    "q2": {"x1": 1, "x2": -1, "y": 1, "w1": 1, "w2": 2},
    "q3": {"x1": 1, "x2": -1, "y": 1, "w1": 1, "w2": -2},
    "q4": {"p": [0.02, 0.90, 0.05, 0.01, 0.02], "label": 3},
}

_INPUTS = (-3, -2, -1, 1, 2, 3)
_WEIGHTS = (-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2)


def _sigmoid_scalar(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _nice(value):
    """An int when the value is whole, else the value rounded to one decimal."""
    value = round(float(value), 1)
    return int(value) if value == int(value) else value


class _Dice:
    """A tiny deterministic generator: SHA-256 in counter mode (stable across Python and numpy)."""

    def __init__(self, *key):
        self._key = ":".join(str(k) for k in key)
        self._count = 0

    def _u64(self) -> int:
        self._count += 1
        digest = hashlib.sha256(f"{self._key}:{self._count}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def integer(self, low: int, high: int) -> int:
        """Uniform in [low, high] (the modulo bias of a 64-bit draw is negligible)."""
        return low + self._u64() % (high - low + 1)

    def choice(self, options):
        return options[self.integer(0, len(options) - 1)]


def _q1_answer(q) -> float:
    a1 = q["w1"] * q["x1"] + q["w3"] * q["x2"]
    a2 = q["w2"] * q["x1"] + q["w4"] * q["x2"]
    yhat = q["w5"] * a1 + q["w6"] * a2
    return (yhat - q["y"]) * q["w5"] * q["x2"]


def _q2_answer(q) -> float:
    z = q["w1"] * q["x1"] + q["w2"] * q["x2"]
    return (_sigmoid_scalar(z) - q["y"]) * q["x1"]


def _q3_answer(q) -> float:
    z = q["w1"] * q["x1"] + q["w2"] * q["x2"]
    yhat = max(z, 0.0)
    return 2.0 * (yhat - q["y"]) * (1.0 if z > 0 else 0.0) * q["x1"]


def _q4_answer(q) -> float:
    return -math.log(q["p"][q["label"] - 1])


def _q1_ok(q) -> bool:
    a1 = q["w1"] * q["x1"] + q["w3"] * q["x2"]
    a2 = q["w2"] * q["x1"] + q["w4"] * q["x2"]
    err = q["w5"] * a1 + q["w6"] * a2 - q["y"]
    answer = _q1_answer(q)
    # The other weights' gradients (a slip of index) must give a different number.
    others = [err * q["w5"] * q["x1"], err * q["w6"] * q["x1"], err * q["w6"] * q["x2"], err * a1, err * a2]
    return (a1 != 0 and a2 != 0 and abs(err) >= 0.5 and abs(answer) <= 60
            and all(abs(answer - o) > 1e-2 * abs(answer) for o in others))


def _q2_ok(q) -> bool:
    z = q["w1"] * q["x1"] + q["w2"] * q["x2"]
    # Away from 0 (sigma = 1/2 is too easy) and from saturation (|z| <= 2.5).
    return 0.5 <= abs(z) <= 2.5 and q["x1"] != q["x2"]


def _q3_ok(q) -> bool:
    z = q["w1"] * q["x1"] + q["w2"] * q["x2"]
    # The unit is on (never exactly at the kink) and the prediction is off target.
    return z >= 0.5 and abs(z - q["y"]) >= 0.5 and q["x1"] != q["x2"]


def _make_q1(dice):
    while True:
        q = {"x1": dice.choice(_INPUTS), "x2": dice.choice(_INPUTS), "y": dice.integer(-3, 3)}
        for name in ("w1", "w2", "w3", "w4", "w5", "w6"):
            q[name] = dice.choice(_WEIGHTS)
        if _q1_ok(q):
            return q


def _make_q2(dice):
    while True:
        q = {"x1": dice.choice(_INPUTS), "x2": dice.choice(_INPUTS), "y": dice.integer(0, 1),
             "w1": dice.choice(_WEIGHTS), "w2": dice.choice(_WEIGHTS)}
        if _q2_ok(q):
            return q


def _make_q3(dice):
    while True:
        q = {"x1": dice.choice(_INPUTS), "x2": dice.choice(_INPUTS), "y": dice.integer(-2, 3),
             "w1": dice.choice(_WEIGHTS), "w2": dice.choice(_WEIGHTS)}
        if _q3_ok(q):
            return q


def _make_q4(dice):
    while True:
        k = dice.integer(4, 6)
        # k positive integers (hundredths) summing to 100, each at least 1.
        cuts = sorted({dice.integer(1, 99) for _ in range(k - 1)})
        if len(cuts) != k - 1:
            continue
        parts = [b - a for a, b in zip([0] + cuts, cuts + [100])]
        # The true class: a probability between 0.03 and 0.80 that no other class shares,
        # so an off-by-one index always gives a different answer.
        candidates = [i for i, v in enumerate(parts) if 3 <= v <= 80 and parts.count(v) == 1]
        if not candidates:
            continue
        index = dice.choice(candidates)
        return {"p": [v / 100 for v in parts], "label": index + 1}


def quiz_for(seed: int, student_id: str | None) -> dict:
    """The quiz numbers of one student: ``{"QUIZ": {question id: {name: value}}}``.

    Deterministic in ``(seed, student_id)`` (SHA-256 based, not Python's ``hash``);
    ``student_id=None`` gives the lecture's own numbers (``LECTURE_QUIZ``).
    """
    if student_id is None:
        return {"QUIZ": copy.deepcopy(LECTURE_QUIZ)}
    makers = {"q1": _make_q1, "q2": _make_q2, "q3": _make_q3, "q4": _make_q4}
    quiz = {}
    for qid, make in makers.items():
        numbers = make(_Dice("backprop-quiz", seed, student_id, qid))
        quiz[qid] = {k: (v if k in ("p", "label") else _nice(v)) for k, v in numbers.items()}
    return {"QUIZ": quiz}


def quiz_answers(quiz: dict) -> dict:
    """The expected answers ``{"q1": float, ...}`` of a QUIZ dict."""
    solvers = {"q1": _q1_answer, "q2": _q2_answer, "q3": _q3_answer, "q4": _q4_answer}
    return {qid: float(solvers[qid](quiz[qid])) for qid in solvers if qid in quiz}


# ---------------------------------------------------------------------------------------
# Part B: layers
# ---------------------------------------------------------------------------------------

def solution_values(seed: int, student_id: str) -> dict:
    """Module-level values a full-marks submission defines besides the functions (for `grader validate`)."""
    return {"QUIZ": quiz_for(seed, student_id)["QUIZ"],
            "ANSWERS": quiz_answers(quiz_for(seed, student_id)["QUIZ"])}


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b; cache = (x, w, b)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)


def _sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    ex = np.exp(x[~positive])
    out[~positive] = ex / (1.0 + ex)
    return out


def sigmoid_forward(x):
    out = _sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    out = cache
    return dout * out * (1.0 - out)


def softmax_loss(x, y):
    """Mean cross-entropy of scores x (N, C) for int labels y (N,), and its gradient."""
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].sum() / n
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1.0
    return float(loss), dx / n


def mse_loss(pred, y):
    """loss = 0.5 * sum((pred - y)^2) / N with N = pred.shape[0], and dloss/dpred."""
    n = pred.shape[0]
    diff = pred - y
    return float(0.5 * np.sum(diff * diff) / n), diff / n


def two_layer_net(X, y, params, reg=0.0):
    """Loss and gradients of affine - relu - affine - softmax with L2 regularisation."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h, cache1 = affine_forward(X, W1, b1)
    a, cache_relu = relu_forward(h)
    scores, cache2 = affine_forward(a, W2, b2)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    da, dW2, db2 = affine_backward(dscores, cache2)
    dh = relu_backward(da, cache_relu)
    _, dW1, db1 = affine_backward(dh, cache1)
    grads = {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2}
    return float(loss), grads


def _conv_geometry(x, w, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, H, W = x.shape
    _, _, HH, WW = w.shape
    Ho = 1 + (H + 2 * pad - HH) // stride
    Wo = 1 + (W + 2 * pad - WW) // stride
    return stride, pad, Ho, Wo


def conv_forward_naive(x, w, b, conv_param):
    """Cross-correlation with zero padding ``pad`` on each side and step ``stride``."""
    stride, pad, Ho, Wo = _conv_geometry(x, w, conv_param)
    _, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((x.shape[0], w.shape[0], Ho, Wo))
    for i in range(HH):
        for j in range(WW):
            patch = xp[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
    out += b[None, :, None, None]
    return out, (x, w, b, dict(conv_param))


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad, Ho, Wo = _conv_geometry(x, w, conv_param)
    _, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp, dtype=np.float64)
    dw = np.zeros(w.shape)
    for i in range(HH):
        for j in range(WW):
            rows = slice(i, i + stride * (Ho - 1) + 1, stride)
            cols = slice(j, j + stride * (Wo - 1) + 1, stride)
            dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Max over windows of pool_height x pool_width moved by ``stride`` (no padding)."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho = 1 + (H - ph) // stride
    Wo = 1 + (W - pw) // stride
    out = np.empty((N, C, Ho, Wo), dtype=np.result_type(x.dtype, np.float64))
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out, (x, dict(pool_param))


def max_pool_backward_naive(dout, cache):
    """Routes each window's gradient to its maximum (the first one on a tie, like torch)."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, _, _ = x.shape
    _, _, Ho, Wo = dout.shape
    dx = np.zeros(x.shape)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            flat = window.reshape(N, C, -1).argmax(axis=2)
            r, c = np.unravel_index(flat, (ph, pw))
            dx[n_idx, c_idx, i * stride + r, j * stride + c] += dout[:, :, i, j]
    return dx
