"""What-if: a proposed configuration replayed over recent events, read-only, before approval.

A steward proposes a mapping change; the approver needs to see what it would do to the books
before saying yes. ``preview`` takes the posting events recorded since a moment, groups them by
the message that brought them (one source document per message, as the worker and replay post
them), runs ``rules.post`` on each document twice (with the configuration in effect and with the
proposed one) and nets the resulting lines by legal entity, account and role. The difference is
what a replay of those messages would post after approval, provided the books stand as the
current configuration says they should (the replay posts proposed minus what stands).

Nothing here writes: the store is read through one read-only transaction (the encounter and
charge context and the period calendar ``post`` may look up, for both configurations) and no
journal, event state or work item changes. The pure part (``compare``) takes the documents, both
configurations and the context as arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from revbridge.canonical.events import CanonicalEvent
from revbridge.ledger.journal import JournalDraft
from revbridge.masterdata.configuration import Configuration
from revbridge.pipeline.poster import context_for
from revbridge.rules import Context, post
from revbridge.store import Database, events

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
    context: Context,
    truncated: bool = False,
) -> WhatIf:
    before: dict[AccountKey, Decimal] = {}
    after: dict[AccountKey, Decimal] = {}
    problems_before: Counter[str] = Counter()
    problems_after: Counter[str] = Counter()
    changed: list[str] = []
    for doc in documents:
        # final, as a replay posts: a document still waiting for context is a problem under
        # both configurations alike, so it changes nothing in the comparison.
        old = post(doc.events, current, context)
        new = post(doc.events, proposed, context)
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
    """Post the posting events recorded since ``since`` (at most ``limit``) again under both
    configurations; read-only."""
    found = events.posting_events_since(db, since, limit=limit + 1)
    grouped: dict[str, list[CanonicalEvent]] = {}
    for message_id, event in found[:limit]:
        grouped.setdefault(message_id, []).append(event)
    documents = [Document(message_id=m, events=tuple(items)) for m, items in grouped.items()]
    everything = [event for _, event in found[:limit]]
    with db.reading() as tx:
        context = context_for(tx, everything, [current, proposed], final=True)
    return compare(
        documents, current=current, proposed=proposed, context=context, truncated=len(found) > limit
    )
