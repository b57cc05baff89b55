"""Replay is a diff (DESIGN.md section 6): post only what changed, by reversal, never by update.

The pipeline re-parses a message with today's master data and rulebook and hands ``diff`` the
drafts it posted (or staged) before for the same source documents, including earlier replays,
and the drafts it would post now. Per source document the two are compared by their net
positions (legal entity, lane, currency, account, role, dimensions and event keys; posting dates
do not count, so a posting the closed-period policy moved is not a change). Equal: nothing to do.
Different: the reversal of what stands posted plus the new drafts. Posting that output makes the
posted net equal the current one, so a second replay returns nothing.

Revisions are derived from the posted history and the new content, so computing the same replay
again yields the same journal ids (the ERP lookup finds them) while any later replay yields new
ones, even one that returns to an earlier state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from revbridge.core.ids import digest
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, JournalDraft, JournalLine, Lane
from revbridge.ledger.role import AccountRole

Position = tuple[str, Lane, str, str, AccountRole, Dimensions, tuple[str, ...]]
DatedPosition = tuple[date, str, Lane, str, str, AccountRole, Dimensions, tuple[str, ...]]


def _position(draft: JournalDraft, line: JournalLine) -> Position:
    return (
        draft.legal_entity,
        draft.lane,
        line.amount.currency,
        line.account,
        line.role,
        line.dimensions,
        line.event_keys,
    )


def net_positions(drafts: Iterable[JournalDraft]) -> dict[Position, Decimal]:
    """Signed sums (debit positive) per position, zero positions dropped."""
    sums: dict[Position, Decimal] = {}
    for draft in drafts:
        for line in draft.lines:
            key = _position(draft, line)
            sums[key] = sums.get(key, Decimal(0)) + line.net.amount
    return {key: amount for key, amount in sums.items() if amount != 0}


def _dated_positions(drafts: Iterable[JournalDraft]) -> dict[DatedPosition, Decimal]:
    sums: dict[DatedPosition, Decimal] = {}
    for draft in drafts:
        for line in draft.lines:
            key = (draft.posting_date, *_position(draft, line))
            sums[key] = sums.get(key, Decimal(0)) + line.net.amount
    return {key: amount for key, amount in sums.items() if amount != 0}


def _fingerprint(positions: dict[DatedPosition, Decimal]) -> str:
    # Minor units, not Decimal text: "1.0" and "1.00" read back from the store are the same money.
    rows = []
    for key, amount in positions.items():
        currency = key[3]
        rows.append(repr((tuple(str(part) for part in key), Money(amount, currency).to_minor())))
    return "\n".join(sorted(rows))


def _reversal(
    source_document_key: str, positions: dict[DatedPosition, Decimal], revision: str
) -> list[JournalDraft]:
    groups: dict[tuple[date, str, Lane, str], list[JournalLine]] = {}
    for (posting_date, legal_entity, lane, currency, account, role, dims, keys), amount in positions.items():
        line = JournalLine.signed(
            account=account, role=role, amount=Money(-amount, currency), dimensions=dims, event_keys=keys
        )
        if line is not None:
            groups.setdefault((posting_date, legal_entity, lane, currency), []).append(line)
    return [
        JournalDraft(
            lane=lane,
            legal_entity=legal_entity,
            currency=currency,
            posting_date=posting_date,
            source_document_key=source_document_key,
            lines=tuple(lines),
            revision=revision,
        )
        for (posting_date, legal_entity, lane, currency), lines in sorted(groups.items())
    ]


def diff(posted: Sequence[JournalDraft], current: Sequence[JournalDraft]) -> tuple[JournalDraft, ...]:
    """The drafts to post so that, per source document, what stands posted equals ``current``."""
    before: dict[str, list[JournalDraft]] = {}
    now: dict[str, list[JournalDraft]] = {}
    for draft in posted:
        before.setdefault(draft.source_document_key, []).append(draft)
    for draft in current:
        now.setdefault(draft.source_document_key, []).append(draft)
    out: list[JournalDraft] = []
    for document in sorted(before.keys() | now.keys()):
        old, new = before.get(document, []), now.get(document, [])
        if net_positions(old) == net_positions(new):
            continue
        if not old:
            out.extend(new)  # never posted: a first posting, under the ids a first posting gets
            continue
        standing = _dated_positions(old)
        # The history (every earlier draft's reference) makes each replay's revision unique even
        # when the same net state comes back (post A, reverse A, post A again).
        history = "\n".join(sorted(f"{d.reference}@{d.posting_date.isoformat()}" for d in old))
        revision = digest(document, history, _fingerprint(_dated_positions(new)), length=12)
        out.extend(_reversal(document, standing, f"{revision}-reversal"))
        out.extend(
            JournalDraft(
                lane=draft.lane,
                legal_entity=draft.legal_entity,
                currency=draft.currency,
                posting_date=draft.posting_date,
                source_document_key=draft.source_document_key,
                lines=draft.lines,
                revision=revision if len(new) == 1 else f"{revision}-{n}",
                moved_from=draft.moved_from,
            )
            for n, draft in enumerate(new, start=1)
        )
    return tuple(out)
