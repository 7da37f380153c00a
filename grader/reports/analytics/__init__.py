"""Instructor analytics over the gradebook: where a class struggles (``stats``) and which
submissions look alike (``similarity``, ``pairs``). Everything here reads the gradebook and never
writes it; the pages it renders are self-contained HTML.

    readonly.py    open a gradebook for reading only; the latest run of each student
    stats.py       the class's scores, checks, failures, lateness and grading times (SQL)
    plots.py       matplotlib figures of those, as PNG bytes (headless: no pyplot)
    page.py        the stats page; html.py: what both pages share
    wrong.py       students who are wrong in the same way (failed-comparison fingerprints)
    similarity.py  token winnowing of Python code, robust to renaming and reordering
    sources.py     the graded files as they are now: code cells, the stub, what was skipped
    pairs.py       one ranked list of pairs from both signals
    similar_page.py  the pairs side by side, shared passages highlighted
"""
