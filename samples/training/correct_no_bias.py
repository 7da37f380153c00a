# Training loops in PyTorch -- my solution (the regressor as in the 2025 lecture: no biases)
import numpy as np
import torch
import torch.nn as nn


def build_mlp(input_size, hidden_sizes, num_classes):
    layers = []
    prev = input_size
    for h in hidden_sizes:
        layers.append(nn.Linear(prev, h))
        layers.append(nn.ReLU())
        prev = h
    layers.append(nn.Linear(prev, num_classes))
    return nn.Sequential(*layers)


class NeuralNetRegressor(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(NeuralNetRegressor, self).__init__()
        self.linear1 = nn.Linear(input_size, hidden_size, bias=False)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, x):
        out = self.linear1(x)
        out = self.relu(out)
        out = self.linear2(out)
        return out


def train_one_epoch(model, loader, loss_fn, optimizer):
    model.train()
    losses = []
    for X, y in loader:
        optimizer.zero_grad()
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def train(model, loader, loss_fn, optimizer, epochs):
    history = []
    for epoch in range(epochs):
        history.append(train_one_epoch(model, loader, loss_fn, optimizer))
    return history


def evaluate(model, loader):
    was_training = model.training
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for X, y in loader:
            pred = model(X).argmax(dim=1)
            correct += (pred == y).sum().item()
            total += len(y)
    model.train(was_training)
    return correct / total


def make_spiral(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((n_per_class * n_classes, 2), dtype=np.float32)
    y = np.zeros(n_per_class * n_classes, dtype=np.int64)
    for j in range(n_classes):
        ix = range(n_per_class * j, n_per_class * (j + 1))
        r = np.linspace(0.0, 1, n_per_class)
        t = np.linspace(j * 4, (j + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * noise
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def classification_metrics(y_true, y_pred, num_classes):
    confusion = np.zeros((num_classes, num_classes), dtype=int)
    for t, p in zip(y_true, y_pred):
        confusion[t, p] += 1
    precisions, recalls, f1s = [], [], []
    for c in range(num_classes):
        tp = confusion[c, c]
        predicted = confusion[:, c].sum()
        actual = confusion[c, :].sum()
        precision = tp / predicted if predicted > 0 else 0.0
        recall = tp / actual if actual > 0 else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(f1)
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),
        "precision": float(np.mean(precisions)),
        "recall": float(np.mean(recalls)),
        "f1": float(np.mean(f1s)),
        "confusion": confusion,
    }


if __name__ == "__main__":
    from torch.utils.data import DataLoader, TensorDataset
    X, y = make_spiral()
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=32, shuffle=True)
    model = build_mlp(2, [64], 3)
    losses = train(model, loader, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=0.02), 60)
    print("final loss", losses[-1], "accuracy", evaluate(model, loader))
