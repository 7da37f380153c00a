"""``grader db``: the gradebook database's schema (migrations shipped with the grader)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # SQLAlchemy loads when the command runs, not with every `grader` command
    from grader.gradebook.schema import SchemaState

CONTEXT = {"help_option_names": ["-h", "--help"]}


def describe(db: str, before: SchemaState) -> str:
    """One line: what ``grader db upgrade`` did to ``db``."""
    from grader.gradebook.schema import head_revision

    head = head_revision()
    if before.kind == "current":
        return f"the gradebook {db} is up to date (schema revision {head})"
    if before.kind == "new":
        return f"created the gradebook {db} at schema revision {head}"
    start = f"revision {before.revision}" if before.revision else "before schema versions"
    return f"upgraded the gradebook {db} from {start} to revision {head}"


@click.group(context_settings=CONTEXT)
def db() -> None:
    """The gradebook database: bring its schema up to this grader's version."""


@db.command(context_settings=CONTEXT)
@click.option("--db", "database", default="gradebook.db", show_default=True,
              help="Gradebook: a SQLite file path or any SQLAlchemy URL.")
def upgrade(database: str) -> None:
    """Upgrade the gradebook's schema to the one this grader needs; back the database up first.

    A new gradebook needs no upgrade (grading creates it); an older one is refused until it is
    upgraded. On a shared server, every TA needs this grader version or newer afterwards.
    """
    from sqlalchemy.engine import make_url

    from grader.gradebook import Gradebook

    with Gradebook.open(database, must_exist=True, read_only=False, upgrade=True) as gradebook:
        shown = database if "://" not in database else make_url(database).render_as_string(hide_password=True)
        click.echo(describe(shown, gradebook.schema_before))
