"""The source's side of reconciliation: posting events, remittance headers and event kinds.

The daily tie-out compares each posting event's headline amount with what the subledger booked;
the remittance control compares a payment header's BPR02 with the cash its members booked. These
readers turn ``events`` rows (and the state of the message that carried them) into
``revbridge.reconcile`` facts, inside the caller's read-only transaction. They decide nothing
about whether the figures tie, and they never return an event's body beyond the business
identifiers a remittance names.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select

from revbridge.core.money import Money
from revbridge.reconcile import EventFact, RemittanceFact
from revbridge.store.database import Database, Tx
from revbridge.store.facts.scope import chunks, occurred, posting
from revbridge.store.schema import event_lines, events, messages

REMITTANCE_MEMBERS = ("ClaimAdjudicated", "ProviderAdjustment")


def events_of(tx: Tx, day: date | None) -> tuple[EventFact, ...]:
    """The posting events of ``day`` (None: every one), in the order they were recorded."""
    query = (
        select(
            events.c.key,
            events.c.kind,
            events.c.message_id,
            events.c.facility,
            events.c.occurred_on,
            events.c.amount_minor,
            events.c.currency,
            events.c.state,
            messages.c.status,
        )
        .select_from(events.join(messages, messages.c.id == events.c.message_id))
        .where(posting(), occurred(day))
        .order_by(events.c.id)
    )
    return tuple(
        EventFact(
            key=r.key,
            kind=r.kind,
            message_id=r.message_id,
            facility=r.facility,
            occurred_on=r.occurred_on,
            amount=Money.from_minor(int(r.amount_minor), r.currency) if r.amount_minor is not None else None,
            state=r.state,
            message_state=r.status,
        )
        for r in tx.execute(query)
    )


def remittances_of(tx: Tx, day: date | None) -> tuple[RemittanceFact, ...]:
    """The payment headers (RemittanceReceived) of ``day``, each with the keys of exactly its own
    claims and provider adjustments (one 835 interchange may carry several remittances)."""
    headers = tx.execute(
        select(events.c.key, events.c.message_id, events.c.body)
        .where(events.c.kind == "RemittanceReceived", occurred(day))
        .order_by(events.c.id)
    ).all()
    members = _members(tx, {h.message_id for h in headers})
    return tuple(_remittance(h.key, h.message_id, json.loads(h.body), members) for h in headers)


def _members(tx: Tx, message_ids: Iterable[str]) -> dict[tuple[str, str], list[str]]:
    """Member event keys by (message id, remittance id)."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for chunk in chunks(message_ids):
        for key, message_id, body in tx.execute(
            select(events.c.key, events.c.message_id, events.c.body).where(
                events.c.message_id.in_(chunk), events.c.kind.in_(REMITTANCE_MEMBERS)
            )
        ):
            found[(message_id, json.loads(body).get("remittance_id", ""))].append(key)
    return found


def _remittance(
    key: str, message_id: str, body: dict[str, Any], members: dict[tuple[str, str], list[str]]
) -> RemittanceFact:
    amount = body["amount"]
    remittance_id = body.get("remittance_id", "")
    return RemittanceFact(
        key=key,
        message_id=message_id,
        remittance_id=remittance_id,
        payer_id=body.get("payer_id", ""),
        trace=body.get("trace", ""),
        occurred_on=date.fromisoformat(body["occurred_on"]),
        amount=Money.of(amount["amount"], amount["currency"]),
        carries_cash=bool(body.get("carries_cash", True)),
        member_keys=tuple(sorted(members.get((message_id, remittance_id), []))),
    )


def kinds_of(tx: Tx, keys: Iterable[str] | None) -> dict[str, str]:
    """Event kind by event key, for ``keys`` (None: every event)."""
    query = select(events.c.key, events.c.kind)
    if keys is None:
        return {str(k): str(kind) for k, kind in tx.execute(query)}
    found: dict[str, str] = {}
    for chunk in chunks(keys):
        found.update((str(k), str(kind)) for k, kind in tx.execute(query.where(events.c.key.in_(chunk))))
    return found


def message_id_of(db: Database, event_key: str) -> str | None:
    """The message that brought the event ``event_key``: where drill-down from a figure lands."""
    with db.reading() as tx:
        found = tx.execute(select(events.c.message_id).where(events.c.key == event_key)).scalar_one_or_none()
    return str(found) if found is not None else None


def journal_id_of(db: Database, event_key: str) -> str | None:
    """The first journal that carries a line of ``event_key``: where drill-down lands for a key no
    message brought (a go-live opening row, loaded from a file by ``revbridge golive load``)."""
    query = (
        select(event_lines.c.journal_id)
        .where(event_lines.c.event_key == event_key, event_lines.c.journal_id.is_not(None))
        .order_by(event_lines.c.id)
        .limit(1)
    )
    with db.reading() as tx:
        found = tx.execute(query).scalar_one_or_none()
    return str(found) if found is not None else None
