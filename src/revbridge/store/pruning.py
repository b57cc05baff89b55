"""`revbridge purge` beyond raw payloads: rows that would otherwise grow for ever.

- ``event_outbox``: an announcement sent before the cut-off is dropped (consumers have had it;
  an unsent one stays whatever its age: it is still owed to them). With no events sink configured
  (``events_sink: none``) an unsent one made before the cut-off goes too: it is owed to no one,
  and a site that never sends events would otherwise keep every announcement for ever. A sink
  configured later is sent what is within retention.
- ``sap_confirmations``: SAP's answer to a journal that is settled (posted or failed) and was
  received before the cut-off is dropped; a confirmation whose journal is still in flight, or
  whose journal revbridge cannot name (not a journal id), stays: the connector still reads it.
- ``sftp_seen``: a file taken before its own cut-off (``sftp_seen_days``) is forgotten. Whether
  the file is still on the server is not knowable offline, so a file left that long on a
  read-only server (``after: remember``) is taken again; its messages are then duplicates
  (dedupe by key and content) and nothing is posted twice.

Each table's delete commits with its ``retention.prune`` audit entry, so the trail never misses a
prune. Nothing here touches a message, an event or a journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Table, and_, delete, exists, false, func, select, true

from revbridge.store import audit
from revbridge.store.database import Database
from revbridge.store.journals import FAILED, POSTED
from revbridge.store.schema import event_outbox, journals, sap_confirmations, sftp_seen


@dataclass(frozen=True, slots=True, kw_only=True)
class Cutoffs:
    records: datetime  # sent announcements and settled SAP confirmations before this go
    sftp_seen: datetime  # files taken before this are forgotten
    unsent_owed: bool = True  # False: no events sink, so unsent announcements before ``records`` go


def _due(cutoffs: Cutoffs) -> dict[str, tuple[Table, ColumnElement[bool]]]:
    settled = exists().where(
        journals.c.id == sap_confirmations.c.message_id, journals.c.status.in_((POSTED, FAILED))
    )
    return {
        "announcements_sent": (
            event_outbox,
            and_(event_outbox.c.sent_at.is_not(None), event_outbox.c.sent_at < cutoffs.records),
        ),
        "announcements_unsent": (
            event_outbox,
            and_(
                false() if cutoffs.unsent_owed else true(),
                event_outbox.c.sent_at.is_(None),
                event_outbox.c.time < cutoffs.records,
            ),
        ),
        "sap_confirmations": (
            sap_confirmations,
            and_(sap_confirmations.c.received_at < cutoffs.records, settled),
        ),
        "sftp_seen": (sftp_seen, sftp_seen.c.taken_at < cutoffs.sftp_seen),
    }


def prunable(db: Database, cutoffs: Cutoffs) -> dict[str, int]:
    """How many rows of each table ``prune`` would drop now."""
    with db.reading() as tx:
        return {
            name: int(tx.execute(select(func.count()).select_from(table).where(due)).scalar_one())
            for name, (table, due) in _due(cutoffs).items()
        }


def prune(
    db: Database, cutoffs: Cutoffs, *, now: datetime, actor: str, anchor: Path | None
) -> dict[str, int]:
    """Drop the rows past their cut-off, table by table; returns how many went from each."""
    dropped: dict[str, int] = {}
    for name, (table, due) in _due(cutoffs).items():
        with db.transaction() as tx:
            count = int(tx.execute(delete(table).where(due)).rowcount)
            if count:
                cutoff = cutoffs.sftp_seen if table is sftp_seen else cutoffs.records
                audit.append(
                    tx,
                    at=now,
                    actor=actor,
                    action="retention.prune",
                    target=table.name,
                    details={"cutoff": cutoff.isoformat(), "rows": str(count)},
                    anchor=anchor,
                )
        dropped[name] = count
    return dropped
