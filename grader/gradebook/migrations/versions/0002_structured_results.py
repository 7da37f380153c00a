"""Structured results: where a failure points, why a check had no verdict, metrics, structured
notes, whose fault an error is, and where a submission time came from.

Notes were one string per run, one note per line; they become a JSON list of
``{"text": ..., "where": null}`` (a note's place was only in its text before).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import json

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CHECK_COLUMNS = (
    ("reason", sa.String(length=30)), ("where_label", sa.String(length=300)), ("where_cell", sa.Integer()),
    ("where_line", sa.Integer()), ("where_source", sa.Text()),
)
_RUN_COLUMNS = (("error_where", sa.Text()), ("fault", sa.String(length=20)), ("submitted_at_source", sa.String(length=20)))


def _convert_notes(to_json: bool) -> None:
    runs = sa.table("grading_runs", sa.column("id", sa.Integer()), sa.column("notes", sa.Text()))
    connection = op.get_bind()
    for run_id, notes in connection.execute(sa.select(runs.c.id, runs.c.notes)).all():
        if to_json:
            converted = json.dumps([{"text": line, "where": None} for line in (notes or "").split("\n") if line])
        else:
            try:
                converted = "\n".join(str(note.get("text", "")) for note in json.loads(notes or "[]"))
            except ValueError:
                converted = notes or ""
        connection.execute(runs.update().where(runs.c.id == run_id).values(notes=converted))


def upgrade() -> None:
    with op.batch_alter_table("check_results") as batch:
        for name, type_ in _CHECK_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.add_column(sa.Column("metrics", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("grading_runs") as batch:
        for name, type_ in _RUN_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    _convert_notes(to_json=True)


def downgrade() -> None:
    _convert_notes(to_json=False)
    with op.batch_alter_table("grading_runs") as batch:
        for name, _ in reversed(_RUN_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("check_results") as batch:
        batch.drop_column("metrics")
        for name, _ in reversed(_CHECK_COLUMNS):
            batch.drop_column(name)
