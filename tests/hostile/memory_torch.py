# BASE: correct
# Memory bombs with torch: one at import (caught), one inside a function.
import torch

try:
    _hog = [torch.ones(1 << 20, dtype=torch.float64) for _ in range(1 << 16)]
except (MemoryError, RuntimeError):
    _hog = None


def activation(name, z):
    return torch.ones(1 << 36).numpy()
