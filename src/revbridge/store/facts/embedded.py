"""What the embedded ERP holds: ``gl_documents`` and ``gl_entries`` read back as ``ErpDocument``s.

The embedded ledger is revbridge's own general ledger in this database, so its read-back is a
query rather than a connector call: the documents filed under our journal ids, and those under
references no journal of ours has (an ERP document we never sent is a break too). Other ERPs are
read back by the readers ``reconcile.erp`` builds from their connectors, outside any transaction.
This reader runs inside the caller's read-only transaction and never posts to the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from revbridge.core.money import Money
from revbridge.reconcile import ErpDocument, ErpLine
from revbridge.store.database import Tx
from revbridge.store.facts.scope import chunks
from revbridge.store.schema import gl_documents, gl_entries, journals

EMBEDDED = frozenset({"embedded"})  # connectors whose ERP is this database's gl_* tables


def documents_of(tx: Tx, ids: set[str] | None, day: date | None) -> dict[str, ErpDocument]:
    """The documents under our journal ids (None: every document), and those under references
    no journal has (dated ``day``, when there is one), by reference."""
    wanted: list[ColumnElement[bool]]
    if ids is None:
        wanted = [gl_documents.c.id.is_not(None)]
    else:
        orphans = select(gl_documents.c.id).where(gl_documents.c.reference.not_in(select(journals.c.id)))
        if day is not None:
            orphans = orphans.where(gl_documents.c.posting_date == day)
        wanted = [gl_documents.c.id.in_(orphans), *(gl_documents.c.reference.in_(c) for c in chunks(ids))]
    found: dict[str, ErpDocument] = {}
    for condition in wanted:
        found.update(_documents(tx, condition))
    return found


def _documents(tx: Tx, condition: ColumnElement[bool]) -> dict[str, ErpDocument]:
    references = {
        row.id: row.reference
        for row in tx.execute(select(gl_documents.c.id, gl_documents.c.reference).where(condition))
    }
    if not references:
        return {}
    entries: dict[int, list[ErpLine]] = defaultdict(list)
    matching = select(gl_documents.c.id).where(condition)
    for e in tx.execute(
        select(gl_entries).where(gl_entries.c.document_id.in_(matching)).order_by(gl_entries.c.id)
    ):
        entries[int(e.document_id)].append(
            ErpLine(
                account=e.account,
                debit=Money.from_minor(int(e.debit_minor), e.currency),
                credit=Money.from_minor(int(e.credit_minor), e.currency),
                facility=e.facility,
                cost_center=e.cost_center,
                payer_class=e.payer_class,
            )
        )
    return {
        reference: ErpDocument(
            reference=reference,
            document=f"GL-{document_id:08d}",
            lines=tuple(entries.get(document_id, ())),
        )
        for document_id, reference in references.items()
    }
