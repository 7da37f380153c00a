"""Reference solution of the ``training`` assignment (hidden from students).

PyTorch training loops: a multilayer perceptron builder, the lecture's two-layer
regressor, one epoch of mini-batch training, a multi-epoch ``train``, an ``evaluate`` that
leaves the model as it found it, the lecture's spiral data set and macro-averaged
classification metrics. ``tests/test_reference_training.py`` checks all of this against
hand-written loops and hand computations.

Conventions that the contract leaves open and the stub states explicitly:

- ``make_spiral`` draws its noise from ``numpy.random.default_rng(seed)``, one
  ``standard_normal(n_per_class)`` per class in class order; rows are grouped by class.
  (The checks also accept the lecture's legacy ``np.random.seed(seed)`` + ``randn``.)
- ``classification_metrics`` averages over all ``num_classes`` classes; a per-class ratio
  whose denominator is zero (no predictions for precision, no true samples for recall,
  precision + recall = 0 for F1) counts as 0, as scikit-learn does with ``zero_division=0``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def build_mlp(input_size, hidden_sizes, num_classes):
    """``nn.Sequential`` of Linear/ReLU pairs, one per hidden size, then a final Linear (no softmax)."""
    layers = []
    width = input_size
    for hidden in hidden_sizes:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


class NeuralNetRegressor(nn.Module):
    """The lecture's two-layer regressor: linear1 → ReLU → linear2 (hidden → 1).

    With biases, as the 2023 lecture builds it; the 2025 lecture's ``bias=False`` is as correct,
    and the checks compare each student's forward with their own layers' parameters."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(hidden_size, 1)

    def forward(self, x):
        return self.linear2(self.relu(self.linear1(x)))


def train_one_epoch(model, loader, loss_fn, optimizer):
    """One pass over ``loader`` in its order; the mean of the batch losses as a float."""
    model.train()
    total = 0.0
    batches = 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / batches


def train(model, loader, loss_fn, optimizer, epochs):
    """``epochs`` calls of ``train_one_epoch``; the list of epoch mean losses."""
    return [train_one_epoch(model, loader, loss_fn, optimizer) for _ in range(epochs)]


def evaluate(model, loader):
    """Accuracy of argmax predictions, without a graph, leaving mode and gradients as they were."""
    was_training = model.training
    model.eval()
    correct = 0
    total = 0
    try:
        with torch.no_grad():
            for inputs, targets in loader:
                predictions = model(inputs).argmax(dim=1)
                correct += (predictions == targets).sum().item()
                total += targets.numel()
    finally:
        model.train(was_training)
    return correct / total


def _spiral(n_per_class, n_classes, noise, standard_normal):
    """The spiral with the noise drawn by ``standard_normal(n)``, once per class in order."""
    X = np.zeros((n_per_class * n_classes, 2), dtype=np.float32)
    y = np.zeros(n_per_class * n_classes, dtype=np.int64)
    for j in range(n_classes):
        rows = slice(n_per_class * j, n_per_class * (j + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class) + noise * standard_normal(n_per_class)
        X[rows] = np.column_stack([r * np.sin(t), r * np.cos(t)])
        y[rows] = j
    return X, y


def make_spiral(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    """The lecture's spiral: X float32 (n_per_class * n_classes, 2), y int64, grouped by class."""
    rng = np.random.default_rng(seed)
    return _spiral(n_per_class, n_classes, noise, rng.standard_normal)


def make_spiral_legacy(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    """``make_spiral`` with the lecture's own RNG (``np.random.seed(seed)`` then ``randn``)."""
    rng = np.random.RandomState(seed)
    return _spiral(n_per_class, n_classes, noise, rng.randn)


def _ratio(numerator, denominator):
    """Elementwise numerator / denominator, 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def classification_metrics(y_true, y_pred, num_classes):
    """Accuracy, macro precision / recall / F1 and the confusion matrix (rows = true class)."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    true_positives = np.diag(confusion)
    precision = _ratio(true_positives, confusion.sum(axis=0))
    recall = _ratio(true_positives, confusion.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
        "confusion": confusion,
    }
