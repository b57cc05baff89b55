"""The tables. Migrations in ``migrations/versions`` create exactly these; a test compares them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

from revbridge.store.types import BigId, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# Every received message, raw bytes sealed with AES-256-GCM (row id as associated data).
messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("format", String(16), nullable=False),
    Column("dedupe_key", String(512)),
    Column("content_hash", String(64), nullable=False),
    Column("key_id", String(64)),
    Column("payload", LargeBinary),
    Column("size", Integer, nullable=False),
    Column("locator", String(128), nullable=False, default=""),
    Column("received_at", UtcDateTime, nullable=False),
    Column("correlation_id", String(64), nullable=False),
    # pending | processing | waiting | processed | excepted | ignored | duplicate
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime),
    Column("terminal_reason", Text),
    Column("duplicate_of", String(36)),
    Column("ack", LargeBinary),
    Column("completed_at", UtcDateTime),
    Column("purged_at", UtcDateTime),
    # 0 first (cash: 835s, portal payments), 1 in arrival order; claims go by (priority, id).
    Column("priority", SmallInteger, nullable=False, server_default=text("1")),
    Index("ix_messages_status_priority_id", "status", "priority", "id"),
    Index("ix_messages_received_at", "received_at"),
)

# The first message seen per dedupe key; a later arrival with the same key is a duplicate of it.
message_keys = Table(
    "message_keys",
    metadata,
    Column("dedupe_key", String(512), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("content_hash", String(64), nullable=False),
)

# Canonical events, unique by business key. body is the codec's JSON (amounts as strings);
# amount_minor repeats the headline amount as integer minor units for reporting queries.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False, index=True),
    Column("facility", String(128), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("amount_minor", BigInteger),
    Column("currency", String(3)),
    Column("body", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    # recorded | context | waiting | staged | excepted | ignored
    Column("state", String(16), nullable=False),
    Column("wait_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_events_state", "state"),
    Index("ix_events_kind_occurred", "kind", "occurred_on"),
)

work_items = Table(
    "work_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, index=True),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # open | resolved | ignored
    Column("locator", String(256), nullable=False),
    Column("message", Text, nullable=False),
    Column("message_id", String(36), index=True),
    Column("event_key", String(512)),
    Column("facility", String(128)),
    Column("details", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("assignee", String(128)),
    Column("due_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolved_by", String(128)),
    Column("resolution", Text),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

# Append-only, hash-chained audit log (security/audit.py); audit_head records count and last hash
# so that a truncated tail is detected too.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(512), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# ---- posting: the subledger, journals, the outbox ------------------------------------------

# Every line the rules produced for an event (the subledger), unaggregated. Batch-lane lines wait
# here with a window key until their window closes; then journal_id/journal_line_id say where they
# went. Replay compares these per event key with what the current configuration produces.
event_lines = Table(
    "event_lines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_key", String(512), nullable=False, index=True),
    Column("document_key", String(512), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("legal_entity", String(32), nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("moved_from", Date),
    Column("account", String(64), nullable=False),
    Column("role", String(40), nullable=False),
    Column("side", String(8), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("facility", String(64), nullable=False),
    Column("cost_center", String(64), nullable=False),
    Column("payer_class", String(64), nullable=False),
    Column("service_line", String(64), nullable=False),
    Column("window_key", String(128), index=True),
    Column("journal_id", String(64), index=True),
    Column("journal_line_id", BigInteger),
    Column("received_at", UtcDateTime, nullable=False),  # when the source message arrived
    Column("created_at", UtcDateTime, nullable=False),
)

# Open micro-batch windows, one per legal entity at a time.
batch_windows = Table(
    "batch_windows",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("legal_entity", String(32), nullable=False, index=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("closed_at", UtcDateTime),
)

# Journals and their outbox state: staged -> submitting -> posted | failed.
journals = Table(
    "journals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("lane", String(16), nullable=False),
    Column("legal_entity", String(32), nullable=False, index=True),
    Column("posting_date", Date, nullable=False),
    Column("reference", String(512), nullable=False),
    Column("moved_from", Text, nullable=False),  # JSON list of ISO dates
    Column("status", String(16), nullable=False, index=True),
    Column("connector", String(32), nullable=False),
    Column("erp_document", String(128)),
    Column("erp_ticket", String(256)),  # an asynchronous ERP's job id while the journal is accepted
    Column("accepted_at", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    Column("uncertain", Integer, nullable=False),  # 1: the last attempt may have reached the ERP
    Column("next_attempt_at", UtcDateTime),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime),
    Column("last_error", Text),
    Column("first_received_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("posted_at", UtcDateTime),
)

journal_lines = Table(
    "journal_lines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("journal_id", String(64), ForeignKey("journals.id"), nullable=False, index=True),
    Column("line_no", Integer, nullable=False),
    Column("account", String(64), nullable=False),
    Column("role", String(40), nullable=False),
    Column("debit_minor", BigInteger, nullable=False),
    Column("credit_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("facility", String(64), nullable=False),
    Column("cost_center", String(64), nullable=False),
    Column("payer_class", String(64), nullable=False),
    Column("service_line", String(64), nullable=False),
)

# Events out (issue 19): CloudEvents announcing what happened, written in the same transaction as
# what they announce and sent by the publisher (revbridge.events), at least once. event_id is
# stable (the same announcement, the same id: consumers dedupe on it); data is PHI-free JSON.
event_outbox = Table(
    "event_outbox",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(40), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("data", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime),
    Column("last_error", Text),
    Column("sent_at", UtcDateTime),
    Index("ix_event_outbox_unsent", "sent_at", "seq"),
    Index("ix_event_outbox_type_subject", "type", "subject"),
)

# SAP S/4HANA's asynchronous confirmations (JournalEntryBulkCreateConfirmation), one row per
# journal entry request and submission, keyed by its MessageHeader/ID (= our journal key) and the
# bulk request's. PHI-free:
# SAP's document number, company code, fiscal year, the outcome and its Log notes (JSON list).
sap_confirmations = Table(
    "sap_confirmations",
    metadata,
    Column("message_id", String(35), primary_key=True),
    Column("request_id", String(35), primary_key=True),  # the bulk request's MessageHeader/ID
    Column("outcome", String(16), nullable=False),  # posted | rejected
    Column("accounting_document", String(10), nullable=False),
    Column("company_code", String(4), nullable=False),
    Column("fiscal_year", String(4), nullable=False),
    Column("notes", Text, nullable=False),
    Column("deliveries", Integer, nullable=False),  # how often SAP delivered it
    Column("received_at", UtcDateTime, nullable=False),
)

# Go-live opening positions, one row per cut-over date, legal entity and revision: which opening
# journal was loaded (its document key is a digest of the rows, so the same file is recognised
# again) and, once replaced or reversed, the journal that reversed it.
golive_loads = Table(
    "golive_loads",
    metadata,
    Column("as_of", Date, primary_key=True),
    Column("legal_entity", String(32), primary_key=True),
    Column("revision", Integer, primary_key=True),  # 0 for the first load of the date, then 1, 2, ...
    Column("document_key", String(128), nullable=False),
    Column("journal_id", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("loaded_by", String(128), nullable=False),
    Column("loaded_at", UtcDateTime, nullable=False),
    Column("reversed_by", String(64)),  # the reversing journal's id, once replaced or reversed
)

# ---- configuration and periods ---------------------------------------------------------------

config_versions = Table(
    "config_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),  # proposed | active | superseded | rejected
    Column("effective_from", Date, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON of the Configuration
    Column("source", String(512), nullable=False),
    Column("note", Text, nullable=False),
    Column("proposed_by", String(128), nullable=False),
    Column("proposed_at", UtcDateTime, nullable=False),
    Column("approved_by", String(128)),
    Column("approved_at", UtcDateTime),
)

periods = Table(
    "periods",
    metadata,
    Column("legal_entity", String(32), primary_key=True),
    Column("period", String(7), primary_key=True),  # YYYY-MM
    Column("status", String(8), nullable=False),  # open | closed
    Column("changed_by", String(128), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
)

# ---- the embedded ERP: revbridge's own general ledger ---------------------------------------

gl_documents = Table(
    "gl_documents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("reference", String(64), nullable=False, unique=True),  # our journal id
    Column("legal_entity", String(32), nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("period", String(7), nullable=False),
    Column("posted_at", UtcDateTime, nullable=False),
)

gl_entries = Table(
    "gl_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("document_id", BigInteger, ForeignKey("gl_documents.id"), nullable=False, index=True),
    Column("account", String(64), nullable=False),
    Column("debit_minor", BigInteger, nullable=False),
    Column("credit_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("cost_center", String(64), nullable=False),
    Column("payer_class", String(64), nullable=False),
    Column("facility", String(64), nullable=False),
)

# ---- context the posting rules look up -------------------------------------------------------

# The latest context per encounter, from ADT / FHIR context events, keyed by mapped facility code.
encounter_context = Table(
    "encounter_context",
    metadata,
    Column("facility", String(64), primary_key=True),
    Column("encounter", String(128), primary_key=True),
    Column("patient_class", String(8), nullable=False),
    Column("department", String(64), nullable=False),
    Column("primary_payer_id", String(128), nullable=False),
    Column("cancelled", Integer, nullable=False),
    Column("event_key", String(512), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# What a charge reversal must mirror of the charge it reverses.
charge_context = Table(
    "charge_context",
    metadata,
    Column("facility", String(64), primary_key=True),
    Column("charge_id", String(128), primary_key=True),
    Column("department", String(64), nullable=False),
    Column("payer_class", String(64), nullable=False),
    Column("event_key", String(512), nullable=False),
)

# Where each database staging-table source stands: the last key stored (store/staging.py). It is
# written in the transaction that stores the rows' messages, so it never runs ahead of them.
staging_marks = Table(
    "staging_marks",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("high_water", String(256), nullable=False),  # the key column's value, as text
    Column("updated_at", UtcDateTime, nullable=False),
)

# What each SFTP source took (store/sftp_seen.py): a file by name, size and modification time,
# with its content's digest and what became of it. Written after the file's messages are
# committed; a source whose server is read-only (after: remember) skips the files named here.
sftp_seen = Table(
    "sftp_seen",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("size", BigInteger, primary_key=True),
    Column("mtime", BigInteger, primary_key=True),  # seconds since the epoch, as the server says
    Column("sha256", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # stored | duplicate | refused
    Column("taken_at", UtcDateTime, nullable=False),
)
