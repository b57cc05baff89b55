"""Messages, dedupe keys, events, work items and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from revbridge.store.types import BigId, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(512)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("locator", sa.String(128), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", UtcDateTime),
        sa.Column("terminal_reason", sa.Text),
        sa.Column("duplicate_of", sa.String(36)),
        sa.Column("ack", sa.LargeBinary),
        sa.Column("completed_at", UtcDateTime),
        sa.Column("purged_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
    )
    op.create_index("ix_messages_status_next", "messages", ["status", "next_attempt_at"])
    op.create_index("ix_messages_received_at", "messages", ["received_at"])

    op.create_table(
        "message_keys",
        sa.Column("dedupe_key", sa.String(512), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("dedupe_key", name="pk_message_keys"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_message_keys_message_id_messages"),
    )

    op.create_table(
        "events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("facility", sa.String(128), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("amount_minor", sa.BigInteger),
        sa.Column("currency", sa.String(3)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("wait_until", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("key", name="uq_events_key"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_events_message_id_messages"),
    )
    op.create_index("ix_events_message_id", "events", ["message_id"])
    op.create_index("ix_events_state", "events", ["state"])
    op.create_index("ix_events_kind_occurred", "events", ["kind", "occurred_on"])

    op.create_table(
        "work_items",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("locator", sa.String(256), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(36)),
        sa.Column("event_key", sa.String(512)),
        sa.Column("facility", sa.String(128)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("assignee", sa.String(128)),
        sa.Column("due_at", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("resolved_by", sa.String(128)),
        sa.Column("resolution", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_work_items"),
    )
    op.create_index("ix_work_items_code", "work_items", ["code"])
    op.create_index("ix_work_items_status", "work_items", ["status"])
    op.create_index("ix_work_items_message_id", "work_items", ["message_id"])
    op.create_index("ix_work_items_fingerprint", "work_items", ["fingerprint"])

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("work_items")
    op.drop_table("events")
    op.drop_table("message_keys")
    op.drop_table("messages")
