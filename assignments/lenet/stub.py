# %% [markdown]
# # Train a LeNet to a target accuracy
#
# Build a small convolutional network for 8×8 handwritten digits and train it well enough to
# classify images it has never seen. You write two functions:
#
# - `build_model()` returns your network, a `torch.nn.Module`;
# - `train_model(model, X_train, y_train)` trains it.
#
# The grader calls them itself: it seeds every random generator, builds your model, trains it
# with your `train_model` on the training split (within a time budget), and then measures the
# accuracy of the trained model on a **hidden test split** that you never see. Your accuracy
# earns the points: nothing at 0.80 or below, everything at 0.97 or above, in proportion in
# between.
#
# Keep the names and signatures exactly as they are. You may add helpers, experiments and
# plots; they do not affect grading.
#
# ## The data
#
# The images are the 8×8 digits of the UCI "optical recognition of handwritten digits" data
# set (Alpaydin & Kaynak, CC BY 4.0). The training split, `train.npz`, comes with this file:
# 1438 images (about 144 of each digit), pixel counts 0..16. `load_split` below turns them
# into what the grader passes to `train_model`:
#
# - `X_train`: a float32 tensor of shape (N, 1, 8, 8), pixel values scaled to [0, 1];
# - `y_train`: an int64 tensor of shape (N,), the digits 0..9.
#
# The hidden test images are like these, but each carries a little noise and a shift by a
# fraction of a pixel, so a model that has learnt the shapes of the digits (and not the exact
# pixels of the training images) does best.

# %%
from pathlib import Path

import numpy as np
import torch
from torch import nn


def load_split(path="train.npz"):
    """The images of ``path`` as float32 (N, 1, 8, 8) in [0, 1] and their int64 labels."""
    with np.load(path) as data:
        images = torch.from_numpy(data["images"].astype(np.float32) / 16.0).unsqueeze(1)
        labels = torch.from_numpy(data["labels"].astype(np.int64))
    return images, labels


# %% [markdown]
# ## 1. The model
#
# `build_model()` returns a `torch.nn.Module` that maps a batch of images of shape
# (N, 1, 8, 8), float32, to (N, 10) **logits**: one raw score per digit, no softmax at the end
# (`nn.CrossEntropyLoss` applies log-softmax itself).
#
# The intended design is a LeNet: convolutions (`nn.Conv2d`), each followed by a ReLU and a
# max-pool (`nn.MaxPool2d`), then fully connected layers (`nn.Linear`). With 8×8 inputs,
# 3×3 kernels with `padding=1` keep the size, and each 2×2 pool halves it (8 → 4 → 2).
#
# Your model may have at most **100,000 parameters**
# (`sum(p.numel() for p in model.parameters())`); a larger one earns no accuracy points.
#
# The grader puts your model in eval mode (`model.eval()`) and uses `torch.no_grad()` when it
# predicts. Two identical predictions must then give identical logits: use `nn.Dropout`
# layers (which `model.eval()` switches off) rather than `F.dropout(x, p)`, which stays on.

# %%
def build_model():
    """A LeNet-style torch.nn.Module: (N, 1, 8, 8) float32 images -> (N, 10) logits."""
    raise NotImplementedError


# %% [markdown]
# ## 2. Training
#
# `train_model(model, X_train, y_train)` trains `model` **in place** on the tensors it is
# given: you choose the loss, the optimizer, the batch size and the number of epochs.
# Shuffle the data every epoch (`torch.randperm(len(y_train))` gives a new order). Do not
# modify `X_train` or `y_train` (work on copies if you transform them), and do not build a
# new model inside: the grader evaluates the `model` it passed in.
#
# It returns the list of epoch mean losses: for each epoch, the mean of its batch losses, as
# Python floats (`loss.item()`).
#
# **The budget.** Training may use at most 60 s of CPU time when graded (20 s in the
# self-check of `grader check`), on one thread. At the budget the grader stops your training
# and evaluates the model as it stands, so a loop that would run longer loses its last epochs
# and the points for returning its losses. A LeNet of this size trains for 20 epochs
# in a few seconds: there is no need to come close to the budget.

# %%
def train_model(model, X_train, y_train):
    """Train model in place on (X_train, y_train); return the list of epoch mean losses."""
    raise NotImplementedError


# %% [markdown]
# ## 3. Try it
#
# `grader check lenet lenet.py` trains your model on 80% of the training split for at most
# 20 s and reports its accuracy on the other 20%, with the digits it confuses. The cell below
# does the same kind of experiment here. It runs when you run this notebook or
# `python lenet.py`, and not when your file is graded (the grader imports it under another
# name and passes the data in itself; `train.npz` is not there).
#
# Optional: set `LEADERBOARD_NAME = "..."` (a short name of your choice, at most 40
# characters) at the top level of your file to be shown under it on the course leaderboard
# instead of a pseudonym. Your best graded run is ranked, under the name your latest file sets.

# %%
if __name__ == "__main__":
    here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    X, y = load_split(here / "train.npz")
    torch.manual_seed(0)
    order = torch.randperm(len(y))
    held_out, kept = order[: len(y) // 5], order[len(y) // 5:]
    model = build_model()
    print("parameters:", sum(p.numel() for p in model.parameters()))
    losses = train_model(model, X[kept], y[kept])
    print("epoch losses:", [round(loss, 3) for loss in losses])
    model.eval()
    with torch.no_grad():
        predicted = model(X[held_out]).argmax(dim=1)
    print(f"validation accuracy: {(predicted == y[held_out]).float().mean().item():.3f}")
