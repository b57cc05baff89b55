"""Asynchronous ERPs: a journal the ERP accepted and is still working on, with its ticket.

``erp_ticket`` is the ERP's job or request id (an Oracle ESS request, an F&O DMF execution, a
NetSuite async job) the outbox checks until the ERP says posted or rejected; ``accepted_at`` is
when the ERP took it, from which the poll deadline runs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from revbridge.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journals") as batch:
        batch.add_column(sa.Column("erp_ticket", sa.String(256)))
        batch.add_column(sa.Column("accepted_at", UtcDateTime))


def downgrade() -> None:
    with op.batch_alter_table("journals") as batch:
        batch.drop_column("accepted_at")
        batch.drop_column("erp_ticket")
