# %% [markdown]
# # Backpropagation by hand
#
# Two parts:
#
# - **Part A, quiz.** Work out four derivatives by hand (pen and paper: the chain rule)
#   and write the numbers into `ANSWERS`. `QUIZ` holds *your* numbers: every student gets
#   different ones, so solve the questions for the values below, not for the lecture's.
# - **Part B, layers.** Implement the forward and backward passes of the classic CS231n
#   `layers.py` API with NumPy. Every `*_forward` returns `(out, cache)`; the matching
#   `*_backward(dout, cache)` returns the gradients. What you put in `cache` is up to you.
#
# Rules for Part B:
#
# - Do not modify the arrays you are given (no `x[x < 0] = 0` on an argument, no
#   `x += ...`): make a copy or build a new array. A function that changes its inputs
#   loses the points of that check.
# - Work in float64; results are compared with a relative tolerance of 1e-6.
# - Check your backward passes with a numerical gradient (centred differences) of your own
#   forward passes: the grader does so too, and tells you which of the two is wrong.
#
# You may add cells (demos, prints, plots): grading only uses the names defined below.

# %%
import numpy as np

# %% [markdown]
# ## Part A: quiz
#
# Answer each question with a number (a Python `float`), e.g. `ANSWERS["q2"] = -0.7311`.
# Answers are accepted within a relative tolerance of 1e-3, so four significant digits
# are enough. The values of `QUIZ` are yours; leave them as they are.
#
# - **q1.** Two inputs, two hidden units, one output, no biases, linear activation
#   g(z) = z: z1 = w1·x1 + w3·x2, z2 = w2·x1 + w4·x2, a_i = g(z_i),
#   z3 = w5·a1 + w6·a2, ŷ = g(z3), L = ½(ŷ − y)². Give ∂L/∂w3.
# - **q2.** One neuron with sigmoid activation and binary cross-entropy loss,
#   ŷ = σ(w1·x1 + w2·x2), ℓ = −[y ln ŷ + (1 − y) ln(1 − ŷ)]. Give ∂ℓ/∂w1.
# - **q3.** One neuron with ReLU activation and square loss, ŷ = ReLU(w1·x1 + w2·x2),
#   ℓ = (ŷ − y)². Give ∂ℓ/∂w1.
# - **q4.** The cross-entropy loss (natural log) of the probability vector `p` when the true
#   class is `label` (counted from 1).
#
# To practise on the lecture's examples: q2 with y = 1, x = (1, −1), w = (1, 2) gives
# σ(−1) − 1 ≈ −0.7311; q3 with x = (1, −1), y = 1 and weights giving z = 3, e.g.
# w = (1, −2), gives ŷ = 3, ℓ = 4 and ∂ℓ/∂w1 = 4; q4 with p = (0.02, 0.90, 0.05, 0.01, 0.02)
# and class 3 gives −ln 0.05 ≈ 2.9957. For q1 the lecture uses x = (1, 2), y = 8 with weights
# drawn only in its figure: with the example weights w1 = 1, w2 = −1, w3 = 0.5, w4 = 1,
# w5 = 2, w6 = 1 (ours, not the lecture's), ∂L/∂w3 = −12.
#
# Check your answers for *your* numbers with `grader check backprop FILE --student YOUR_ID`
# (the id your stub was released for; without `--student` the file's name is taken as the id).

# %%
QUIZ = {
    "q1": {"x1": 1, "x2": 2, "y": 8, "w1": 1, "w2": -1, "w3": 0.5, "w4": 1, "w5": 2, "w6": 1},
    "q2": {"x1": 1, "x2": -1, "y": 1, "w1": 1, "w2": 2},
    "q3": {"x1": 1, "x2": -1, "y": 1, "w1": 1, "w2": -2},
    "q4": {"p": [0.02, 0.9, 0.05, 0.01, 0.02], "label": 3},
}

ANSWERS = {}

# %% [markdown]
# ## Part B: layers
#
# ### Affine (fully connected) layer
#
# `x` has shape (N, d1, ..., dk): reshape it to (N, D) with D = d1·...·dk, then
# `out = x @ w + b` with w of shape (D, M) and b of shape (M,). The backward returns
# `dx, dw, db` with the shapes of `x`, `w` and `b` (so `dx` has the 4-D shape of `x`
# when `x` is 4-D).

# %%
def affine_forward(x, w, b):
    """Forward pass of an affine layer. Returns (out, cache), out of shape (N, M)."""
    raise NotImplementedError


def affine_backward(dout, cache):
    """Backward pass of an affine layer. Returns (dx, dw, db)."""
    raise NotImplementedError


# %% [markdown]
# ### ReLU and sigmoid
#
# Elementwise. The ReLU's gradient passes where x > 0 (0 at x = 0). For the sigmoid,
# σ'(x) = σ(x)(1 − σ(x)).

# %%
def relu_forward(x):
    """Returns (out, cache) with out = max(x, 0)."""
    raise NotImplementedError


def relu_backward(dout, cache):
    """Returns dx."""
    raise NotImplementedError


def sigmoid_forward(x):
    """Returns (out, cache) with out = 1 / (1 + exp(-x))."""
    raise NotImplementedError


def sigmoid_backward(dout, cache):
    """Returns dx."""
    raise NotImplementedError


# %% [markdown]
# ### Losses
#
# `softmax_loss(x, y)`: x of shape (N, C) holds class scores, y of shape (N,) the integer
# labels in 0..C−1. Return the mean cross-entropy over the N rows (natural log) and its
# gradient `dx`. It must stay finite and exact for scores of magnitude 1000: `np.exp(1000)`
# overflows, so subtract each row's maximum first, and compute log-probabilities directly
# (shifted − log Σ exp(shifted)) rather than taking the log of probabilities that may be 0.
#
# `mse_loss(pred, y)`: loss = ½ Σ (pred − y)² / N, N being `pred.shape[0]`, and `dpred`.

# %%
def softmax_loss(x, y):
    """Returns (loss, dx): mean softmax cross-entropy of scores x for labels y."""
    raise NotImplementedError


def mse_loss(pred, y):
    """Returns (loss, dpred) with loss = 0.5 * sum((pred - y)**2) / N."""
    raise NotImplementedError


# %% [markdown]
# ### A two-layer network
#
# scores = relu(X W1 + b1) W2 + b2; loss = softmax loss of the scores +
# ½·reg·(ΣW1² + ΣW2²). Return the loss and a dict `grads` with the gradients of the loss
# with respect to `W1`, `b1`, `W2`, `b2` (same shapes as `params`). Reuse your layers.

# %%
def two_layer_net(X, y, params, reg=0.0):
    """Returns (loss, grads) for params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
    raise NotImplementedError


# %% [markdown]
# ### Convolution (naive)
#
# x (N, C, H, W), w (F, C, HH, WW), b (F,), `conv_param = {"stride": s, "pad": p}`:
# zero-pad x by p on every side, then slide each filter with step s (cross-correlation, as
# in PyTorch). The output has shape (N, F, H', W') with H' = 1 + (H + 2p − HH) // s and
# W' = 1 + (W + 2p − WW) // s. Plain loops are fine. The backward must work for p = 0 too.

# %%
def conv_forward_naive(x, w, b, conv_param):
    """Returns (out, cache), out of shape (N, F, H', W')."""
    raise NotImplementedError


def conv_backward_naive(dout, cache):
    """Returns (dx, dw, db)."""
    raise NotImplementedError


# %% [markdown]
# ### Max pooling (naive)
#
# `pool_param = {"pool_height": ph, "pool_width": pw, "stride": s}`, no padding:
# H' = 1 + (H − ph) // s, W' = 1 + (W − pw) // s. The backward sends each window's
# gradient to the position of its maximum (windows may overlap when s is smaller than the
# pool: add up the contributions).

# %%
def max_pool_forward_naive(x, pool_param):
    """Returns (out, cache), out of shape (N, C, H', W')."""
    raise NotImplementedError


def max_pool_backward_naive(dout, cache):
    """Returns dx."""
    raise NotImplementedError
