# LeNet for the 8x8 digits -- my solution
#
# (Sample: too many parameters. The second pooling layer is missing, so 64 x 4 x 4 = 1024
# features reach the first Linear layer, and with 128 hidden units it alone holds 131,200
# parameters, over the 100,000 allowed.)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EPOCHS = 20
BATCH_SIZE = 64


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)   # 32 x 8 x 8 -> pool -> 32 x 4 x 4
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)  # 64 x 4 x 4
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def build_model():
    return LeNet()


def train_model(model, X_train, y_train):
    optimizer = torch.optim.Adam(model.parameters(), lr=4e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    losses = []
    model.train()
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(y_train))
        total, batches = 0.0, 0
        for i in range(0, len(perm), BATCH_SIZE):
            idx = perm[i:i + BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_fn(model(X_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
        losses.append(total / batches)
        scheduler.step()
    return losses


def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(dim=1) == y).float().mean().item()


if __name__ == "__main__":
    with np.load("train.npz") as data:
        X = torch.from_numpy(data["images"].astype(np.float32) / 16).unsqueeze(1)
        y = torch.from_numpy(data["labels"].astype(np.int64))
    model = build_model()
    print(train_model(model, X[:1100], y[:1100])[-1], accuracy(model, X[1100:], y[1100:]))
