# BASE: correct
# sys.exit inside a function (an exception, reported as such), and at import.
import sys

try:
    sys.exit(3)
except SystemExit:
    pass


def activation(name, z):
    sys.exit(0)
