# %% [markdown]
# # PyTorch training loops
#
# In this assignment you write the pieces of a PyTorch training pipeline: a multilayer
# perceptron, the lecture's two-layer regressor, the training loop (one epoch, then many),
# an evaluation function, the lecture's spiral data set and classification metrics.
#
# Keep the names and signatures exactly as they are: the grader calls them. You may add
# your own helpers, demos and plots; they do not affect grading.

# %%
import numpy as np
import torch
from torch import nn

# %% [markdown]
# ## 1. A multilayer perceptron
#
# `build_mlp(input_size, hidden_sizes, num_classes)` returns a `torch.nn.Sequential`:
# for each size in `hidden_sizes` a `nn.Linear` followed by a `nn.ReLU`, then a final
# `nn.Linear` to `num_classes` outputs. No softmax at the end: the network outputs raw
# scores (logits) and `nn.CrossEntropyLoss` applies the softmax itself.
#
# Example: `build_mlp(4, [16, 8], 3)` is
# `Sequential(Linear(4, 16), ReLU(), Linear(16, 8), ReLU(), Linear(8, 3))`;
# `build_mlp(3, [], 2)` is `Sequential(Linear(3, 2))`.

# %%
def build_mlp(input_size, hidden_sizes, num_classes):
    """nn.Sequential of Linear/ReLU pairs, one per hidden size, then a final Linear."""
    raise NotImplementedError


# %% [markdown]
# ## 2. The two-layer regressor
#
# `NeuralNetRegressor(input_size, hidden_size)` is an `nn.Module` with three attributes:
# `linear1` (`input_size → hidden_size`), `relu` and `linear2` (`hidden_size → 1`).
# Its `forward(x)` returns `linear2(relu(linear1(x)))`, of shape `(batch, 1)`. The layers may
# have biases (the default) or not (`bias=False`, as in the 2025 lecture): both are correct.
# Remember to call `super().__init__()` first.

# %%
class NeuralNetRegressor(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


# %% [markdown]
# ## 3. The training loop
#
# `train_one_epoch(model, loader, loss_fn, optimizer)` makes one pass over `loader`, in
# the order the loader gives. For each batch `(inputs, targets)`:
#
# 1. zero the gradients (`optimizer.zero_grad()`),
# 2. forward: `outputs = model(inputs)`,
# 3. the loss: `loss = loss_fn(outputs, targets)` (use the `loss_fn` you are given, as is),
# 4. backward: `loss.backward()`,
# 5. update: `optimizer.step()`.
#
# It returns the mean of the batch losses as a Python `float`: the sum of `loss.item()`
# over the batches divided by the number of batches.
#
# `train(model, loader, loss_fn, optimizer, epochs)` calls `train_one_epoch` `epochs`
# times and returns the list of the epoch mean losses.

# %%
def train_one_epoch(model, loader, loss_fn, optimizer):
    """One pass over loader: zero_grad, forward, loss, backward, step per batch; mean batch loss."""
    raise NotImplementedError


def train(model, loader, loss_fn, optimizer, epochs):
    """Call train_one_epoch `epochs` times; return the list of epoch mean losses."""
    raise NotImplementedError


# %% [markdown]
# ## 4. Evaluation
#
# `evaluate(model, loader)` returns the accuracy of the argmax predictions over the whole
# loader, as a float in [0, 1] (correct predictions / number of samples; batches may differ
# in size). While it predicts:
#
# - the model is in eval mode (`model.eval()`, so dropout and the like are off),
# - no autograd graph is built (`with torch.no_grad():`),
# - the parameters' gradients are left alone (no `zero_grad`, no `backward`).
#
# Afterwards the model is back in the mode it was in before (`model.training` tells you;
# `model.train(mode)` restores it).

# %%
def evaluate(model, loader):
    """Accuracy of argmax predictions, without a graph, restoring the model's mode."""
    raise NotImplementedError


# %% [markdown]
# ## 5. The spiral data set
#
# `make_spiral(n_per_class=100, n_classes=3, noise=0.2, seed=0)` returns `(X, y)`: the
# lecture's spiral with `n_per_class` points for each of the `n_classes` classes.
# For class `j`:
#
# - `r = np.linspace(0, 1, n_per_class)`,
# - `t = np.linspace(4 * j, 4 * (j + 1), n_per_class) + noise * N(0, 1)`,
# - the points are `(r * sin(t), r * cos(t))` — sine in the first column.
#
# Draw the noise with `rng = np.random.default_rng(seed)`, one
# `rng.standard_normal(n_per_class)` per class, class 0 first (the lecture's
# `np.random.seed(seed)` followed by `np.random.randn` is accepted too). The rows are
# grouped by class (the points of class 0, then class 1, ...). `X` is a NumPy `float32`
# array of shape `(n_per_class * n_classes, 2)` and `y` a NumPy `int64` array of the labels.

# %%
def make_spiral(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    """The lecture's spiral: X float32 (n_per_class * n_classes, 2) and y int64."""
    raise NotImplementedError


# %% [markdown]
# ## 6. Classification metrics
#
# `classification_metrics(y_true, y_pred, num_classes)` takes two integer label arrays and
# returns a dict with:
#
# - `"accuracy"`: the fraction of correct predictions,
# - `"precision"`, `"recall"`, `"f1"`: macro averages, i.e. the plain mean over all
#   `num_classes` classes of each class's precision, recall and F1
#   (F1 of a class = 2·P·R / (P + R) with that class's P and R). So `"f1"` is the mean of
#   the per-class F1 scores, not 2·P·R / (P + R) of the macro precision and recall,
# - `"confusion"`: a `num_classes × num_classes` array of counts, rows = true class,
#   columns = predicted class.
#
# A class that is never predicted has precision 0 (not NaN); likewise a class that never
# occurs in `y_true` has recall 0, and F1 is 0 when P + R = 0.

# %%
def classification_metrics(y_true, y_pred, num_classes):
    """Accuracy, macro precision / recall / F1 and the confusion matrix (rows = true class)."""
    raise NotImplementedError
