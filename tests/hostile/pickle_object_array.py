# BASE: correct
# A numpy object array whose pickle runs a command; returned from a function it must come back
# as "cannot be graded", and the command must never run (it would create a marker file).
import os

import numpy as np


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch __MARKER__",))


def activation(name, z):
    return np.array([_Payload(), _Payload()], dtype=object)
