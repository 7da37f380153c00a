"""Labels: short texts a check records beside its metrics (``leaderboard_name``), JSON per check result.

Check results stored before this revision get ``{}``: they recorded none.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("check_results") as batch:
        batch.add_column(sa.Column("labels", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("check_results") as batch:
        batch.drop_column("labels")
