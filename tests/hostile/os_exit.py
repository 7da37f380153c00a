# BASE: correct
# os._exit inside a function: the sandbox ends; that check fails, a fresh sandbox serves the rest.
import os


def activation(name, z):
    os._exit(0)
