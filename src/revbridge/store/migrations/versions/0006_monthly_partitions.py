"""PostgreSQL: ``messages`` and ``events`` range-partitioned by month; ``event_keys`` keeps events unique.

``messages`` is partitioned by ``received_at``, ``events`` by ``created_at`` (store/partitions.py
says why and names the partitions). The primary keys become ``(id, received_at)`` and
``(id, created_at)`` as PostgreSQL requires; the unique event key moves to the unpartitioned
``event_keys`` table (filled from the events already stored), and the foreign keys from
``message_keys`` and ``events`` to ``messages`` are dropped (a key to a partitioned table would
have to include the partition key). Existing rows are copied into the new tables, each into its
month; a partition is made for every month that holds rows and for the current month and the next
two (partitions.AHEAD), plus a default partition. On SQLite this migration does nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from revbridge.store import partitions
from revbridge.store.types import BigId, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MESSAGE_COLUMNS = (
    "id, channel, format, dedupe_key, content_hash, key_id, payload, size, locator, received_at, "
    "correlation_id, status, attempts, next_attempt_at, lease_owner, lease_expires_at, terminal_reason, "
    "duplicate_of, ack, completed_at, purged_at"
)
EVENT_COLUMNS = (
    "id, key, kind, message_id, facility, occurred_on, amount_minor, currency, body, content_hash, state, "
    "wait_until, created_at"
)


def _message_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(36), nullable=False),
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
    ]


def _event_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", BigId, server_default=sa.text("nextval('events_id_seq'::regclass)"), nullable=False),
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
    ]


def _months(table: str, column: str) -> list[datetime]:
    rows = op.get_bind().execute(sa.text(f"SELECT DISTINCT date_trunc('month', {column} AT TIME ZONE 'UTC') FROM {table}"))
    return [r[0] for r in rows]


def _partition(table: str, column: str, old: str) -> None:
    """Create the partitioned ``table`` with a default partition and a partition for every month
    ``old`` holds rows of, plus the current month and the ones ahead; the rows are copied later."""
    conn = op.get_bind()
    now = datetime.now(UTC)
    wanted = {partitions.month_of(m) for m in _months(old, column)}
    wanted.update(partitions.months_from(partitions.month_of(now), partitions.AHEAD + 1))
    partitions.create_default(conn, table)
    for month in sorted(wanted):
        partitions.create_month(conn, table, month)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint("fk_message_keys_message_id_messages", "message_keys", type_="foreignkey")
    op.drop_constraint("fk_events_message_id_messages", "events", type_="foreignkey")
    _upgrade_messages()
    _upgrade_events()


def _upgrade_messages() -> None:
    op.rename_table("messages", "messages_unpartitioned")
    op.execute("ALTER TABLE messages_unpartitioned RENAME CONSTRAINT pk_messages TO pk_messages_unpartitioned")
    op.drop_index("ix_messages_status_next", table_name="messages_unpartitioned")
    op.drop_index("ix_messages_received_at", table_name="messages_unpartitioned")
    op.create_table(
        "messages",
        *_message_columns(),
        sa.PrimaryKeyConstraint("id", "received_at", name="pk_messages"),
        postgresql_partition_by="RANGE (received_at)",
    )
    op.create_index("ix_messages_status_next", "messages", ["status", "next_attempt_at"])
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    _partition("messages", "received_at", "messages_unpartitioned")
    op.execute(f"INSERT INTO messages ({MESSAGE_COLUMNS}) SELECT {MESSAGE_COLUMNS} FROM messages_unpartitioned")
    op.drop_table("messages_unpartitioned")


def _upgrade_events() -> None:
    op.rename_table("events", "events_unpartitioned")
    op.execute("ALTER TABLE events_unpartitioned RENAME CONSTRAINT pk_events TO pk_events_unpartitioned")
    op.drop_constraint("uq_events_key", "events_unpartitioned", type_="unique")
    for name in ("ix_events_message_id", "ix_events_state", "ix_events_kind_occurred"):
        op.drop_index(name, table_name="events_unpartitioned")
    op.create_table(
        "events",
        *_event_columns(),
        sa.PrimaryKeyConstraint("id", "created_at", name="pk_events"),
        postgresql_partition_by="RANGE (created_at)",
    )
    op.create_index("ix_events_message_id", "events", ["message_id"])
    op.create_index("ix_events_state", "events", ["state"])
    op.create_index("ix_events_kind_occurred", "events", ["kind", "occurred_on"])
    op.create_index("ix_events_key", "events", ["key"])
    op.create_table(
        "event_keys",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_event_keys"),
    )
    _partition("events", "created_at", "events_unpartitioned")
    op.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM events_unpartitioned")
    op.execute(
        "INSERT INTO event_keys (key, content_hash, message_id, created_at) "
        "SELECT key, content_hash, message_id, created_at FROM events_unpartitioned"
    )
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")  # kept: ids go on where they were
    op.drop_table("events_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.rename_table("messages", "messages_partitioned")
    op.execute("ALTER TABLE messages_partitioned RENAME CONSTRAINT pk_messages TO pk_messages_partitioned")
    op.drop_index("ix_messages_status_next", table_name="messages_partitioned")
    op.drop_index("ix_messages_received_at", table_name="messages_partitioned")
    op.create_table("messages", *_message_columns(), sa.PrimaryKeyConstraint("id", name="pk_messages"))
    op.create_index("ix_messages_status_next", "messages", ["status", "next_attempt_at"])
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    op.execute(f"INSERT INTO messages ({MESSAGE_COLUMNS}) SELECT {MESSAGE_COLUMNS} FROM messages_partitioned")
    op.execute("DROP TABLE messages_partitioned CASCADE")
    _downgrade_events()
    # Retention may have dropped months whose message ids the keys still name: NOT VALID keeps the
    # dedupe keys of those and checks every new row.
    op.execute(
        "ALTER TABLE message_keys ADD CONSTRAINT fk_message_keys_message_id_messages "
        "FOREIGN KEY (message_id) REFERENCES messages (id) NOT VALID"
    )
    op.execute(
        "ALTER TABLE events ADD CONSTRAINT fk_events_message_id_messages "
        "FOREIGN KEY (message_id) REFERENCES messages (id) NOT VALID"
    )


def _downgrade_events() -> None:
    op.rename_table("events", "events_partitioned")
    op.execute("ALTER TABLE events_partitioned RENAME CONSTRAINT pk_events TO pk_events_partitioned")
    for name in ("ix_events_message_id", "ix_events_state", "ix_events_kind_occurred", "ix_events_key"):
        op.drop_index(name, table_name="events_partitioned")
    op.create_table(
        "events",
        *_event_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("key", name="uq_events_key"),
    )
    op.create_index("ix_events_message_id", "events", ["message_id"])
    op.create_index("ix_events_state", "events", ["state"])
    op.create_index("ix_events_kind_occurred", "events", ["kind", "occurred_on"])
    op.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM events_partitioned")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute("DROP TABLE events_partitioned CASCADE")
    op.drop_table("event_keys")
