"""What-if: a proposed configuration replayed over recent events, read-only, before approval.

A steward proposes a mapping change; the approver needs to see what it would do to the books
before saying yes. ``preview`` takes the posting events recorded since a moment, groups them by
the message that brought them (one source document per message, as the worker and replay apply
them), runs ``rules.apply`` on each document twice (with the configuration in effect and with the
proposed one) and nets the resulting lines by legal entity, account and role. The difference is
what a replay of those messages would post after approval, provided the books stand as the
current configuration says they should (the replay posts proposed minus what stands).

Nothing here writes: the store is read through one read-only connection (events and the
encounter context the rules look up) and no journal, event state or work item changes. The pure
part (``compare``) takes the documents and both configurations as arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from revbridge.canonical import codec
from revbridge.canonical.events import CanonicalEvent
from revbridge.ledger.journal import JournalDraft
from revbridge.masterdata.configuration import Configuration
from revbridge.pipeline.posting import StoreContext
from revbridge.rules import apply
from revbridge.rules.context import PostingContext
from revbridge.store.database import Database
from revbridge.store.events import CONTEXT_KINDS
from revbridge.store.schema import events

# (legal entity, account, role, currency)
AccountKey = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountChange:
    legal_entity: str
    account: str
    role: str
    currency: str
    current: Decimal  # net, debit positive, under the configuration in effect
    proposed: Decimal  # the same under the proposed configuration

    @property
    def change(self) -> Decimal:
        return self.proposed - self.current


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """The posting events one message brought: what ``rules.apply`` takes at once."""

    message_id: str
    events: tuple[CanonicalEvent, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIf:
    documents: int  # messages whose posting events were re-applied
    events: int
    changed: tuple[str, ...]  # message ids whose lines differ between the two configurations
    accounts: tuple[AccountChange, ...]  # every account either configuration posts to, sorted
    problems_current: Mapping[str, int]  # problem code -> count, configuration in effect
    problems_proposed: Mapping[str, int]
    truncated: bool = False  # more events than the limit were recorded in the period

    @property
    def changes(self) -> tuple[AccountChange, ...]:
        return tuple(a for a in self.accounts if a.change != 0)


def _nets(drafts: Sequence[JournalDraft]) -> dict[AccountKey, Decimal]:
    sums: dict[AccountKey, Decimal] = {}
    for draft in drafts:
        for line in draft.lines:
            key = (draft.legal_entity, line.account, line.role.value, line.amount.currency)
            sums[key] = sums.get(key, Decimal(0)) + line.net.amount
    return sums


def compare(
    documents: Sequence[Document],
    *,
    current: Configuration,
    proposed: Configuration,
    context: PostingContext,
    truncated: bool = False,
) -> WhatIf:
    before: dict[AccountKey, Decimal] = {}
    after: dict[AccountKey, Decimal] = {}
    problems_before: Counter[str] = Counter()
    problems_after: Counter[str] = Counter()
    changed: list[str] = []
    for doc in documents:
        # final=True as replay does: a document still waiting for context is a problem under
        # both configurations alike, so it changes nothing in the comparison.
        old = apply(doc.events, current, context, final=True)
        new = apply(doc.events, proposed, context, final=True)
        old_nets, new_nets = _nets(old.drafts), _nets(new.drafts)
        if {k: v for k, v in old_nets.items() if v} != {k: v for k, v in new_nets.items() if v}:
            changed.append(doc.message_id)
        for key, amount in old_nets.items():
            before[key] = before.get(key, Decimal(0)) + amount
        for key, amount in new_nets.items():
            after[key] = after.get(key, Decimal(0)) + amount
        problems_before.update(str(p.code) for p in old.problems)
        problems_after.update(str(p.code) for p in new.problems)
    accounts = tuple(
        AccountChange(
            legal_entity=key[0],
            account=key[1],
            role=key[2],
            currency=key[3],
            current=before.get(key, Decimal(0)),
            proposed=after.get(key, Decimal(0)),
        )
        for key in sorted(before.keys() | after.keys())
    )
    return WhatIf(
        documents=len(documents),
        events=sum(len(d.events) for d in documents),
        changed=tuple(changed),
        accounts=accounts,
        problems_current=dict(sorted(problems_before.items())),
        problems_proposed=dict(sorted(problems_after.items())),
        truncated=truncated,
    )


def preview(
    db: Database,
    *,
    current: Configuration,
    proposed: Configuration,
    since: datetime,
    limit: int = 50_000,
) -> WhatIf:
    """Re-apply the posting events recorded since ``since`` (at most ``limit``) under both
    configurations; read-only."""
    query = (
        select(events.c.message_id, events.c.body)
        .where(events.c.created_at >= since, events.c.kind.not_in(sorted(CONTEXT_KINDS)))
        .order_by(events.c.id)
        .limit(limit + 1)
    )
    with db.reading() as conn:
        rows = conn.execute(query).all()
        truncated = len(rows) > limit
        grouped: dict[str, list[CanonicalEvent]] = {}
        for message_id, body in rows[:limit]:
            grouped.setdefault(message_id, []).append(codec.loads(body))
        documents = [Document(message_id=m, events=tuple(found)) for m, found in grouped.items()]
        return compare(
            documents,
            current=current,
            proposed=proposed,
            context=StoreContext(conn),
            truncated=truncated,
        )
