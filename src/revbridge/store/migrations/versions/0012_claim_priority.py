"""Messages carry a claim priority (0 = cash first, 1 = in arrival order), and the queue's index
becomes (status, priority, id), so a worker's claim reads its batch straight off the index
instead of reading and sorting every pending row (O(backlog) per claim, several claims a second).

``ix_messages_status_next`` (status, next_attempt_at) goes: the claim no longer orders or seeks
by ``next_attempt_at`` (a retry's time is checked on the few rows the new index yields), and the
other queries on ``status`` (counts, waiting messages, expired leases) use the new index's first
column. Existing rows get priority 1 (arrival order, as before). On PostgreSQL ``messages`` is
partitioned by month (0006): the column and the index are made on the partitioned parent, which
makes them on every month's partition and on the ones created later.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("priority", sa.SmallInteger, nullable=False, server_default=sa.text("1")))
    op.drop_index("ix_messages_status_next", table_name="messages")
    op.create_index("ix_messages_status_priority_id", "messages", ["status", "priority", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_status_priority_id", table_name="messages")
    op.create_index("ix_messages_status_next", "messages", ["status", "next_attempt_at"])
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("priority")
