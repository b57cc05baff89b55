"""The durable edge, and the only package that knows a table: SQLAlchemy Core tables, Alembic
migrations, the message store (accept with group commit), the work queue (claim with leases),
events, the subledger, journals and their outbox, work items, configuration versions, API keys,
the embedded general ledger, and the queries behind reports and pages.

Everything else holds a ``Database`` and the ``Tx`` it opens and calls the named functions here,
which take and return frozen records. Runs on SQLite (the embedded default, WAL +
synchronous=FULL) and PostgreSQL (the production store, synchronous_commit=on, FOR UPDATE SKIP
LOCKED). Money is stored as integer minor units.
"""

from revbridge.store.database import Database, Tx

__all__ = ["Database", "Tx"]
