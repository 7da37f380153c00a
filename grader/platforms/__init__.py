"""Autograder platforms other than Gradescope (``grader/gradescope/``), from the one result model.

- ``autograder``: what every in-container run shares: finding the student's file, a result
  for a file that could not be graded, grading one file, writing a results file atomically.
- ``prairielearn``: PrairieLearn's external grader (``/grade/student`` in,
  ``/grade/results/results.json`` out).
- ``classroom``: GitHub Classroom: the workflow a classroom repository needs, and the result
  its autograding reporter reads.
"""
