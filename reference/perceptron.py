"""Reference solution of the perceptron assignment (hidden: never released, never sandboxed)."""

import numpy as np


def step(z):
    """1 where z > 0, else 0 (step(0) == 0); scalars give Python ints, arrays int arrays."""
    if np.ndim(z) == 0:
        return int(z > 0)
    return (np.asarray(z) > 0).astype(int)


def activation(name, z):
    z = np.asarray(z, dtype=float)
    if name == "linear":
        return z.copy()
    if name == "unit_step":
        return np.where(z > 0, 1.0, np.where(z < 0, 0.0, 0.5))
    if name == "sign":
        return np.sign(z)
    if name == "piecewise_linear":
        return np.clip(z + 0.5, 0.0, 1.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(f"unknown activation {name!r}")


def extend(X):
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        return np.append(X, 1.0)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def predict(w, X):
    return step(np.asarray(X) @ np.asarray(w))


def perceptron_update(w, x, y):
    w = np.asarray(w, dtype=float)
    if predict(w, x) == y:
        return w, False
    return (w + x if y == 1 else w - x), True


def train_perceptron(X, y, w0=None, max_epochs=100):
    X = np.asarray(X, dtype=float)
    w = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, dtype=float).copy()
    mistakes = []
    for _ in range(max_epochs):
        count = 0
        for xi, yi in zip(X, y):
            w, mistake = perceptron_update(w, xi, yi)
            count += int(mistake)
        mistakes.append(count)
        if count == 0:
            break
    return w, mistakes
