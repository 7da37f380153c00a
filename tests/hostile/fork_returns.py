# BASE: correct
# Forks at import and lets every child carry on as the parent does (no exit): each child falls
# back into the sandbox's own loop, where it must end quietly instead of answering the grader
# beside the real process. The parent's answers alone count.
import os

_children = 0
for _ in range(8):
    try:
        if os.fork() == 0:
            break  # the child leaves the loop and goes on with the rest of the file
    except OSError:
        break
    _children += 1
print(f"forked {_children} children that return")

