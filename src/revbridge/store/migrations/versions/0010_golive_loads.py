"""Go-live opening positions: the opening journal loaded per cut-over date, legal entity and
revision, so loading the same file again posts nothing, a different file for that date is refused
unless the loaded one is replaced, and a replaced (reversed) load names its reversing journal.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from revbridge.store.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "golive_loads",
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("legal_entity", sa.String(32), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("document_key", sa.String(128), nullable=False),
        sa.Column("journal_id", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("loaded_by", sa.String(128), nullable=False),
        sa.Column("loaded_at", UtcDateTime, nullable=False),
        sa.Column("reversed_by", sa.String(64)),
        sa.PrimaryKeyConstraint("as_of", "legal_entity", "revision", name="pk_golive_loads"),
    )


def downgrade() -> None:
    op.drop_table("golive_loads")
