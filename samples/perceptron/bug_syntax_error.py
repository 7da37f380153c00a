# Perceptron homework -- forgot a colon: the file does not parse at all.
import numpy as np


def step(z)
    return np.where(np.asarray(z) > 0, 1, 0)
