"""Context the posting rules look up: encounters and charges by mapped facility.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from revbridge.store.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "encounter_context",
        sa.Column("facility", sa.String(64), nullable=False),
        sa.Column("encounter", sa.String(128), nullable=False),
        sa.Column("patient_class", sa.String(8), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("primary_payer_id", sa.String(128), nullable=False),
        sa.Column("cancelled", sa.Integer, nullable=False),
        sa.Column("event_key", sa.String(512), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("facility", "encounter", name="pk_encounter_context"),
    )
    op.create_table(
        "charge_context",
        sa.Column("facility", sa.String(64), nullable=False),
        sa.Column("charge_id", sa.String(128), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("payer_class", sa.String(64), nullable=False),
        sa.Column("event_key", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("facility", "charge_id", name="pk_charge_context"),
    )


def downgrade() -> None:
    op.drop_table("charge_context")
    op.drop_table("encounter_context")
