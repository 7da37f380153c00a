# %% [markdown]
# # Perceptron updates
#
# Implement the perceptron as in the lecture. Conventions used throughout:
#
# - **Extended vectors**: the bias is the *last* weight, and every input carries a trailing 1.
# - Arrays are NumPy arrays. Do not modify your inputs in place: return new arrays.
#
# Check your work with `grader check perceptron perceptron.py` (or this notebook).

# %%
import numpy as np

# %% [markdown]
# ## 1. Step and activation functions
#
# `step(z)`: 1 where z > 0, else 0 (so `step(0) == 0`). Works on scalars and, elementwise, on arrays.
#
# `activation(name, z)`: elementwise; `name` is one of `linear`, `unit_step` (0 for z < 0, 0.5 at 0,
# 1 for z > 0), `sign` (-1, 0, 1), `piecewise_linear` (0 for z <= -1/2, z + 1/2 between, 1 for z >= 1/2),
# `sigmoid`, `tanh`, `relu`. An unknown name raises `ValueError`.

# %%
def step(z):
    raise NotImplementedError


def activation(name, z):
    raise NotImplementedError

# %% [markdown]
# ## 2. Extended inputs and predictions
#
# `extend(X)`: append a constant-1 feature: shape (d,) becomes (d+1,), (n, d) becomes (n, d+1).
#
# `predict(w, X)`: labels in {0, 1} from `step(X @ w)`; X is extended, (d+1,) or (n, d+1).

# %%
def extend(X):
    raise NotImplementedError


def predict(w, X):
    raise NotImplementedError

# %% [markdown]
# ## 3. The perceptron update and training
#
# `perceptron_update(w, x, y)`: one step on one extended point; returns `(new_w, mistake)`.
# If `predict(w, x) == y`, return `(w, False)`; otherwise `w + x` when y == 1, `w - x` when y == 0,
# with `mistake=True`.
#
# `train_perceptron(X, y, w0=None, max_epochs=100)`: `w0` defaults to zeros. Each epoch visits the
# points in order and updates on every mistake. Stop after the first epoch with zero mistakes, or after
# `max_epochs` epochs. Return `(w, mistakes)`, where `mistakes` is the list of mistake counts per epoch.

# %%
def perceptron_update(w, x, y):
    raise NotImplementedError


def train_perceptron(X, y, w0=None, max_epochs=100):
    raise NotImplementedError

# %% [markdown]
# ## Try it
# The lecture's example: starting from w0 = (1, 2, -1), training should give w = (1, 1, -2)
# and mistakes = [1, 0].

# %%
if __name__ == "__main__":
    X = extend(np.array([[0, 1], [1, 0], [2, 1], [1, 2]], dtype=float))
    print(train_perceptron(X, np.array([0, 0, 1, 1]), w0=np.array([1.0, 2.0, -1.0])))
