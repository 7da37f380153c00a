"""Alembic migrations of the gradebook schema, shipped inside the package (no alembic.ini).

``grader.gradebook.schema`` configures Alembic in code; ``Gradebook(url)`` creates a new
database at the newest revision and ``grader db upgrade`` brings an older one up to it.

To change the schema: edit ``grader/gradebook/models.py``, then generate a revision against
a database at the current head and read it before committing (SQLite needs batch operations,
which ``env.py`` turns on)::

    python -c "from alembic import command; from grader.gradebook.schema import alembic_config; \\
      command.upgrade(alembic_config('sqlite:///dev.db'), 'head'); \\
      command.revision(alembic_config('sqlite:///dev.db'), message='add x', autogenerate=True)"

``tests/test_migrations.py`` fails while the models and the migrations disagree.
"""
