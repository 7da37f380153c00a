"""The gradebook: every grading run of every submission, in a SQL database."""

from grader.gradebook.store import Gradebook, database_url

__all__ = ["Gradebook", "database_url"]
