"""SAP S/4HANA's asynchronous confirmations: what SAP pushed back for each journal entry request,
keyed by the request's message id, for the SAP connector's ``check`` to read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from revbridge.store.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sap_confirmations",
        sa.Column("message_id", sa.String(35), nullable=False),
        sa.Column("request_id", sa.String(35), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accounting_document", sa.String(10), nullable=False),
        sa.Column("company_code", sa.String(4), nullable=False),
        sa.Column("fiscal_year", sa.String(4), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("message_id", "request_id", name="pk_sap_confirmations"),
    )


def downgrade() -> None:
    op.drop_table("sap_confirmations")
