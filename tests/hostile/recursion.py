# BASE: correct
# Infinite recursion with the recursion limit lifted: overflows the C stack inside a function.
import sys


def _down(n):
    return _down(n + 1) + 1


def activation(name, z):
    sys.setrecursionlimit(1 << 30)
    return _down(0)
