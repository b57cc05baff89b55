"""The durable edge: SQLAlchemy Core tables, Alembic migrations, the message store (accept with
group commit), the work queue (claim with leases), events, work items and API keys.

Runs on SQLite (the embedded default, WAL + synchronous=FULL) and PostgreSQL (the production store,
synchronous_commit=on, FOR UPDATE SKIP LOCKED). Money is stored as integer minor units.
"""
