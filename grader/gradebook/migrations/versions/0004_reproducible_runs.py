"""Reproducible runs: the assignment version, grader and NumPy/torch versions of each run; the
batch (command) that stored it, so that an interrupted ``--force`` or regrade resumes; the
LMS's own lateness verdict.

Runs stored before this revision keep NULL in the new columns: their versions are unknown,
so ``grader regrade`` counts them as graded with an older version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RUN_COLUMNS = (
    ("late_by_lms", sa.Boolean()), ("assignment_version", sa.String(length=64)),
    ("grader_version", sa.String(length=40)), ("numpy_version", sa.String(length=40)),
    ("torch_version", sa.String(length=40)),
)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("assignment_version", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("grading_runs") as batch:
        for name, type_ in _RUN_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
        batch.create_index("ix_grading_runs_batch_id", ["batch_id"], unique=False)
        batch.create_foreign_key("fk_grading_runs_batch_id_batches", "batches", ["batch_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("grading_runs") as batch:
        batch.drop_constraint("fk_grading_runs_batch_id_batches", type_="foreignkey")
        batch.drop_index("ix_grading_runs_batch_id")
        batch.drop_column("batch_id")
        for name, _ in reversed(_RUN_COLUMNS):
            batch.drop_column(name)
    op.drop_table("batches")
