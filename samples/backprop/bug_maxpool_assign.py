# %% [markdown]
# # Backpropagation by hand

# %%
import numpy as np

# %%
QUIZ = {
    "q1": {"x1": -1, "x2": -3, "y": 3, "w1": -0.5, "w2": 1.5, "w3": 1, "w4": 1.5, "w5": -2, "w6": 1.5},
    "q2": {"x1": -2, "x2": 3, "y": 0, "w1": 1, "w2": 1},
    "q3": {"x1": -3, "x2": -2, "y": -1, "w1": -1, "w2": -1.5},
    "q4": {"p": [0.42, 0.24, 0.31, 0.03], "label": 2},
}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def solve_quiz(Q):
    """My hand calculations, written out so I can re-run them."""
    answers = {}

    # q1: linear net, dL/dw3 = (yhat - y) * w5 * x2  (w3 feeds a1 through x2)
    q = Q["q1"]
    a1 = q["w1"] * q["x1"] + q["w3"] * q["x2"]
    a2 = q["w2"] * q["x1"] + q["w4"] * q["x2"]
    yhat = q["w5"] * a1 + q["w6"] * a2
    answers["q1"] = (yhat - q["y"]) * q["w5"] * q["x2"]

    # q2: sigmoid + BCE, dl/dz = yhat - y, so dl/dw1 = (yhat - y) * x1
    q = Q["q2"]
    yhat = _sigmoid(q["w1"] * q["x1"] + q["w2"] * q["x2"])
    answers["q2"] = (yhat - q["y"]) * q["x1"]

    # q3: relu + square loss, dl/dw1 = 2 (yhat - y) * relu'(z) * x1
    q = Q["q3"]
    z = q["w1"] * q["x1"] + q["w2"] * q["x2"]
    yhat = max(z, 0.0)
    answers["q3"] = 2 * (yhat - q["y"]) * (1.0 if z > 0 else 0.0) * q["x1"]

    # q4: cross-entropy = -ln p[true class]; label counts from 1
    q = Q["q4"]
    answers["q4"] = -np.log(q["p"][q["label"] - 1])

    return {k: float(v) for k, v in answers.items()}


ANSWERS = solve_quiz(QUIZ)


# %%
def affine_forward(x, w, b):
    N = x.shape[0]
    x_rows = x.reshape(N, -1)
    out = x_rows.dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


# %%
def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx


def sigmoid_forward(x):
    out = 1.0 / (1.0 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, cache):
    s = cache
    return dout * s * (1 - s)


# %%
def softmax_loss(x, y):
    N = x.shape[0]
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def mse_loss(pred, y):
    N = pred.shape[0]
    diff = pred - y
    loss = 0.5 * np.sum(diff ** 2) / N
    dpred = diff / N
    return loss, dpred


# %%
def two_layer_net(X, y, params, reg=0.0):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    hidden, cache_fc1 = affine_forward(X, W1, b1)
    hidden_act, cache_relu = relu_forward(hidden)
    scores, cache_fc2 = affine_forward(hidden_act, W2, b2)

    loss, dscores = softmax_loss(scores, y)
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    grads = {}
    dhidden_act, grads["W2"], grads["b2"] = affine_backward(dscores, cache_fc2)
    dhidden = relu_backward(dhidden_act, cache_relu)
    _, grads["W1"], grads["b1"] = affine_backward(dhidden, cache_fc1)
    grads["W1"] += reg * W1
    grads["W2"] += reg * W2
    return loss, grads


# %%
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x_pad[n, :, hs:hs + HH, ws:ws + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    dw[f] += x_pad[n, :, hs:hs + HH, ws:ws + WW] * dout[n, f, i, j]
                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


# %%
def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            out[:, :, i, j] = np.max(x[:, :, hs:hs + ph, ws:ws + pw], axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x[n, c, hs:hs + ph, ws:ws + pw]
                    mask = window == np.max(window)
                    dx[n, c, hs:hs + ph, ws:ws + pw] = mask * dout[n, c, i, j]  # BUG: = instead of +=
    return dx


# %%
if __name__ == "__main__":
    # quick self-test of the affine layer against a numerical gradient
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    out, cache = affine_forward(x, w, b)
    dout = rng.normal(size=out.shape)
    dx, dw, db = affine_backward(dout, cache)
    h = 1e-6
    e = np.zeros_like(x)
    e[1, 2] = h
    num = (np.sum(affine_forward(x + e, w, b)[0] * dout) - np.sum(affine_forward(x - e, w, b)[0] * dout)) / (2 * h)
    print("dx[1, 2]:", dx[1, 2], "numerical:", num)
    print(ANSWERS)
