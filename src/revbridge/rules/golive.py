"""The go-live opening journal: receivables open at cut-over, posted once (docs/golive.md).

One realtime draft per legal entity, dated the cut-over date: per opening row, Dr the row's
receivable (``ar_payer`` by payer class; ``ar_patient`` for the self-pay class, which is where
patient balances live) and Cr ``opening_balance`` (the chart's equity/clearing account), both lines
carrying the row's event key so the subledger drills down to the account. Remittances and patient
payments on pre-cut-over claims then relieve this AR like any other. A credit balance (a negative
amount) books the other way round. Every code is checked against master data first; a file with
any unknown code, or a cut-over date in a closed period, yields its errors and no draft.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from revbridge.core.ids import digest
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Problem
from revbridge.formats.golive import OpeningRow
from revbridge.ledger.journal import Dimensions, JournalDraft, JournalLine, Lane
from revbridge.ledger.period import PeriodCalendar
from revbridge.ledger.role import AccountRole
from revbridge.masterdata.configuration import Configuration


@dataclass(frozen=True, slots=True, kw_only=True)
class Opening:
    drafts: tuple[JournalDraft, ...]
    errors: tuple[str, ...]


def event_key(as_of: date, row: OpeningRow) -> str:
    return f"golive:{as_of.isoformat()}:{row.facility}:{row.payer_class}:{row.account}"


def document_key(as_of: date, legal_entity: str, rows: Sequence[OpeningRow]) -> str:
    """Stable for the same rows whatever their order: the same file loads as the same journal."""
    content = sorted(f"{event_key(as_of, r)}={r.amount}" for r in rows)
    return f"golive:{as_of.isoformat()}:{legal_entity}:{digest(*content, length=16)}"


def opening(
    rows: Sequence[OpeningRow],
    config: Configuration,
    *,
    as_of: date,
    calendar: PeriodCalendar | None = None,
    revision: int = 0,
) -> Opening:
    """``calendar``: a cut-over date in a legal entity's closed period is refused (an opening
    position is the start of the books, never moved to a later day). ``revision``: how many loads
    of the date came before (a replacement's journal must not share the replaced one's id)."""
    errors: list[str] = []
    lines: dict[str, list[JournalLine]] = defaultdict(list)
    by_entity: dict[str, list[OpeningRow]] = defaultdict(list)
    for row in rows:
        found = _lines(row, config, as_of)
        if isinstance(found, str):
            errors.append(f"line {row.line}: {found}")
            continue
        lines[row.legal_entity].extend(found)
        by_entity[row.legal_entity].append(row)
    closed = sorted(e for e in lines if calendar is not None and not calendar.is_open(e, as_of))
    errors += [f"{as_of.isoformat()} is in a closed period of legal entity {e}" for e in closed]
    if errors:
        return Opening(drafts=(), errors=tuple(errors))
    drafts = tuple(
        JournalDraft(
            lane=Lane.REALTIME,
            legal_entity=entity,
            currency=config.legal_entity(entity).currency,
            posting_date=as_of,
            source_document_key=document_key(as_of, entity, by_entity[entity]),
            lines=tuple(lines[entity]),
            revision=f"r{revision}" if revision else "",
        )
        for entity in sorted(lines)
    )
    return Opening(drafts=drafts, errors=())


def reversal(draft: JournalDraft) -> JournalDraft:
    """The draft that takes a loaded opening position back out (a replacement reverses the
    position it replaces): every line on the other side, same date and event keys."""
    return replace(
        draft,
        lines=tuple(line.reversed() for line in draft.lines),
        revision=f"{draft.revision or 'r0'}-reversed",
    )


def _lines(row: OpeningRow, config: Configuration, as_of: date) -> tuple[JournalLine, ...] | str:
    master = config.master
    if row.legal_entity not in {e.code for e in master.legal_entities}:
        return "legal_entity is not a configured legal entity"
    where = SourceRef("golive", f"line {row.line}")
    facility = next((f for f in master.facilities if f.code == row.facility), None)
    if facility is None:
        return "facility is not a configured facility code"
    if facility.legal_entity != row.legal_entity:
        return f"facility {facility.code} belongs to legal entity {facility.legal_entity}"
    if row.payer_class not in {c.code for c in master.payer_classes}:
        return "payer_class is not a configured payer class"
    entity = config.legal_entity(row.legal_entity)
    role = AccountRole.AR_PATIENT if row.payer_class == master.self_pay_class else AccountRole.AR_PAYER
    receivable = config.account(role, entity, payer_class=row.payer_class, where=where)
    counterpart = config.account(AccountRole.OPENING_BALANCE, entity, where=where)
    if isinstance(receivable, Problem):
        return receivable.message
    if isinstance(counterpart, Problem):
        return counterpart.message
    key = (event_key(as_of, row),)
    amount = Money.of(row.amount, entity.currency)
    debit = JournalLine.signed(
        account=receivable,
        role=role,
        amount=amount,
        dimensions=Dimensions(legal_entity=entity.code, facility=facility.code, payer_class=row.payer_class),
        event_keys=key,
    )
    credit = JournalLine.signed(
        account=counterpart,
        role=AccountRole.OPENING_BALANCE,
        amount=-amount,
        dimensions=Dimensions(legal_entity=entity.code, facility=facility.code),
        event_keys=key,
    )
    if debit is None or credit is None:  # the parser refuses zero amounts
        return "amount is zero"
    return (debit, credit)
