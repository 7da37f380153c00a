# BASE: correct
# An infinite loop at import: that statement is skipped after the load limit, the rest is graded.
while True:
    pass
