"""The database staging-table poller's high-water marks: per configured source, the last key of
the source table whose row is stored, written in the same transaction as the stored messages.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from revbridge.store.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staging_marks",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("high_water", sa.String(256), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_staging_marks"),
    )


def downgrade() -> None:
    op.drop_table("staging_marks")
