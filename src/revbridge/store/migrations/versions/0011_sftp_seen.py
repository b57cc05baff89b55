"""SFTP sources: the files each took (name, size, mtime, sha256), so a read-only server's files
are not taken twice and ``revbridge status`` can say what each source took.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from revbridge.store.types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sftp_seen",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("taken_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("source", "name", "size", "mtime", name="pk_sftp_seen"),
    )


def downgrade() -> None:
    op.drop_table("sftp_seen")
