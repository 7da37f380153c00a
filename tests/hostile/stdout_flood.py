# BASE: correct
# 300 MB of stdout at import: the grader keeps a capped part and counts the rest.
import sys

_line = "flood " * 170000 + "\n"  # about 1 MB
for _ in range(300):
    sys.stdout.write(_line)
