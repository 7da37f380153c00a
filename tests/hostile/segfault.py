# BASE: correct
# A segmentation fault through ctypes inside a function.
import ctypes


def activation(name, z):
    ctypes.string_at(0)
