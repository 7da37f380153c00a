# Perceptron homework -- puts the constant 1 first instead of last.
import numpy as np


def step(z):
    return np.where(np.asarray(z) > 0, 1, 0) if np.ndim(z) else int(z > 0)


def activation(name, z):
    z = np.asarray(z, dtype=float)
    if name == "linear":
        return z
    elif name == "unit_step":
        out = np.full(z.shape, 0.5)
        out[z > 0] = 1.0
        out[z < 0] = 0.0
        return out
    elif name == "sign":
        return np.sign(z)
    elif name == "piecewise_linear":
        return np.minimum(1.0, np.maximum(0.0, z + 0.5))
    elif name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    elif name == "tanh":
        return np.tanh(z)
    elif name == "relu":
        return np.where(z > 0, z, 0.0)
    raise ValueError("unknown activation: " + str(name))


def extend(X):
    X = np.asarray(X, dtype=float)
    ones = np.ones(X.shape[:-1] + (1,))
    return np.concatenate([ones, X], axis=-1)


def predict(w, X):
    return step(X @ w)


def perceptron_update(w, x, y):
    if predict(w, x) == y:
        return w, False
    if y == 1:
        return w + x, True
    return w - x, True


def train_perceptron(X, y, w0=None, max_epochs=100):
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    mistakes = []
    for epoch in range(max_epochs):
        errors = 0
        for i in range(len(X)):
            w, wrong = perceptron_update(w, X[i], y[i])
            if wrong:
                errors += 1
        mistakes.append(errors)
        if errors == 0:
            break
    return w, mistakes


if __name__ == "__main__":
    X = extend(np.array([[0, 1], [1, 0], [2, 1], [1, 2]]))
    print(train_perceptron(X, np.array([0, 0, 1, 1]), w0=np.array([1.0, 2.0, -1.0])))
