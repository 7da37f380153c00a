# BASE: correct
# Memory bombs with numpy: one at import (caught), one inside a function.
import numpy as np

try:
    _hog = [np.ones(1 << 20) for _ in range(1 << 16)]  # 512 GiB, touched page by page
except MemoryError:
    _hog = None


def activation(name, z):
    return np.ones((1 << 17, 1 << 17))  # 128 GiB at once
