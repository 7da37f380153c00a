"""Reference solution of the ``lenet`` assignment (hidden from students).

A LeNet for 8x8 digits: two 3x3 convolutions (padding 1, so the 8x8 grid survives them),
each followed by a ReLU and a 2x2 max-pool (8x8 -> 4x4 -> 2x2), then two fully connected
layers, 128 -> 64 -> 10 logits: 13,706 parameters. It trains for 20 epochs of shuffled
batches of 64 with AdamW under a one-cycle learning-rate schedule and a little label
smoothing; on one CPU thread that is about 2 s, and it reaches about 0.98 on the hidden
split (the noise and sub-pixel shifts of the course secret included).

The randomness (initial weights, batch order) comes from torch's global generator, which
the grader seeds before ``build_model``: grading the same file twice gives the same model.
"""

from __future__ import annotations

import torch
from torch import nn

EPOCHS = 20
BATCH_SIZE = 64
MAX_LEARNING_RATE = 5e-3
LABEL_SMOOTHING = 0.1


def build_model():
    """The LeNet: conv-ReLU-pool twice, then Linear(128 -> 64), ReLU, Linear(64 -> 10); no softmax."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 4 x 4
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 2 x 2
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )


def train_model(model, X_train, y_train):
    """Train ``model`` in place; the list of epoch mean losses (mean of the batch losses)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=MAX_LEARNING_RATE)
    batches_per_epoch = -(-len(y_train) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=MAX_LEARNING_RATE,
                                                   total_steps=EPOCHS * batches_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)
    model.train()
    losses = []
    for _ in range(EPOCHS):
        order = torch.randperm(len(y_train))
        total = 0.0
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_fn(model(X_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        losses.append(total / batches_per_epoch)
    return losses
