"""grader: an autograder for deep-learning exercises."""
