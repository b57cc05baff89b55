"""Subledger to journals to ERP, journal by journal (DESIGN.md sections 6 and 8).

Per journal: its lines balance per currency; every line equals the sum of the subledger rows
linked to it (``event_lines.journal_line_id``), so neither table can change alone unnoticed; and
its delivery. A posted journal is compared with what the ERP holds under its id when the caller
read that ERP back (``read_back`` names those connectors); otherwise its receipt (the ERP's
document number) is all the acknowledgement there is. Staged and submitting journals are in
flight until ``Thresholds.in_flight`` has passed since they were staged; failed ones are breaks.
Subledger rows not in any journal wait for their batch window; the same threshold applies. ERP
documents under references we never staged are breaks too.

``JournalsResult.acknowledged(line)`` answers, for the daily tie-out, whether the ERP has
acknowledged one subledger row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from revbridge.core.money import Money
from revbridge.reconcile import erp
from revbridge.reconcile.breaks import Break, Control, Thresholds, age
from revbridge.reconcile.facts import ErpDocument, JournalFact, JournalStatus, LineFact


class Delivery(StrEnum):
    ACKNOWLEDGED = "acknowledged"  # posted, and the ERP's read-back equals the journal
    RECEIPTED = "receipted"  # posted with the ERP's document number; that ERP is not read back
    MISMATCH = "mismatch"  # posted, but the ERP holds other amounts under its id
    MISSING = "missing"  # posted, but the ERP holds nothing under its id (or no document number)
    IN_FLIGHT = "in_flight"  # staged or submitting, recently
    STALE = "stale"  # staged or submitting for longer than the threshold
    FAILED = "failed"


ACCEPTED = frozenset({Delivery.ACKNOWLEDGED, Delivery.RECEIPTED})


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalCheck:
    journal: JournalFact
    delivery: Delivery
    comparison: erp.ErpComparison | None
    breaks: tuple[Break, ...]
    unmatched_lines: frozenset[int] = frozenset()  # journal line ids in groups the ERP disagrees on

    def as_json(self) -> dict[str, object]:
        j = self.journal
        return {
            "journal_id": j.id,
            "lane": j.lane,
            "legal_entity": j.legal_entity,
            "posting_date": j.posting_date.isoformat(),
            "status": j.status,
            "connector": j.connector,
            "erp_document": j.erp_document,
            "delivery": self.delivery.value,
            "ties": not self.breaks,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalsResult:
    checks: Mapping[str, JournalCheck]
    unjournaled: tuple[LineFact, ...]  # subledger rows still waiting for their batch window
    breaks: tuple[Break, ...]  # every break of every journal, and those of no journal

    def acknowledged(self, line: LineFact) -> bool:
        if line.journal_id is None:
            return False
        check = self.checks.get(line.journal_id)
        if check is None:
            return False
        if check.delivery in ACCEPTED:
            return True
        if check.delivery is not Delivery.MISMATCH or line.journal_line_id is None:
            return False
        return line.journal_line_id not in check.unmatched_lines

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = defaultdict(int)
        for check in self.checks.values():
            found[check.delivery.value] += 1
        return {d.value: found.get(d.value, 0) for d in Delivery}


def check(
    journals: Sequence[JournalFact],
    lines: Iterable[LineFact],
    documents: Mapping[str, ErpDocument],
    *,
    read_back: frozenset[str],
    now: datetime,
    thresholds: Thresholds,
) -> JournalsResult:
    """``lines``: every subledger row of the journals in ``journals`` and the unjournaled rows in
    scope; ``documents``: the ERP documents read back, by reference (our journal id)."""
    by_journal: dict[str, list[LineFact]] = defaultdict(list)
    unjournaled: list[LineFact] = []
    for line in lines:
        if line.journal_id is None:
            unjournaled.append(line)
        else:
            by_journal[line.journal_id].append(line)
    known = {j.id for j in journals}
    checks: dict[str, JournalCheck] = {}
    breaks: list[Break] = []
    for journal in journals:
        found = _check_one(journal, by_journal.get(journal.id, []), documents, read_back, now, thresholds)
        checks[journal.id] = found
        breaks.extend(found.breaks)
    for journal_id in sorted(set(by_journal) - known):
        rows = by_journal[journal_id]
        message = f"{len(rows)} subledger row(s) point at this journal, which does not exist"
        breaks.append(_break(Control.JOURNAL, f"journal {journal_id}", message, rows))
    for reference in sorted(set(documents) - known):
        message = f"the ERP holds a document under reference {reference}, which no journal of ours has"
        breaks.append(_break(Control.ERP, f"ERP document {documents[reference].document}", message))
    stale = [ln for ln in unjournaled if thresholds.stale_row(ln.created_at, now)]
    if stale:
        oldest = min(ln.created_at for ln in stale)
        entities = ", ".join(sorted({ln.legal_entity for ln in stale}))
        message = (
            f"{len(stale)} subledger row(s) are in no journal after {age(oldest, now)}: "
            "the batch window did not close"
        )
        breaks.append(_break(Control.JOURNAL, f"batch window ({entities})", message, stale))
    return JournalsResult(checks=checks, unjournaled=tuple(unjournaled), breaks=tuple(breaks))


def _keys(rows: Iterable[LineFact]) -> tuple[str, ...]:
    return tuple(sorted({r.event_key for r in rows}))


def _break(
    control: Control,
    subject: str,
    message: str,
    rows: Iterable[LineFact] = (),
    *,
    expected: Money | None = None,
    actual: Money | None = None,
) -> Break:
    """A break named by the event keys of the subledger rows behind it."""
    return Break(
        control=control,
        subject=subject,
        message=message,
        expected=expected,
        actual=actual,
        event_keys=_keys(rows),
    )


def _check_one(
    journal: JournalFact,
    rows: list[LineFact],
    documents: Mapping[str, ErpDocument],
    read_back: frozenset[str],
    now: datetime,
    thresholds: Thresholds,
) -> JournalCheck:
    subject = f"journal {journal.id}"
    comparison: erp.ErpComparison | None = None
    if journal.status == JournalStatus.POSTED:
        delivery, comparison, delivered = _posted(journal, rows, documents, read_back, subject)
    else:
        delivery, delivered = _unposted(journal, rows, now, thresholds, subject)
    unmatched: frozenset[int] = frozenset()
    if comparison is not None and comparison.differences:
        groups = comparison.unmatched()
        unmatched = frozenset(
            jl.id for jl in journal.lines if erp.line_key(comparison.document, jl) in groups
        )
    return JournalCheck(
        journal=journal,
        delivery=delivery,
        comparison=comparison,
        breaks=(*_integrity(journal, rows, subject), *delivered),
        unmatched_lines=unmatched,
    )


def _posted(
    journal: JournalFact,
    rows: list[LineFact],
    documents: Mapping[str, ErpDocument],
    read_back: frozenset[str],
    subject: str,
) -> tuple[Delivery, erp.ErpComparison | None, list[Break]]:
    """A posted journal against the ERP's read-back, or its receipt when that ERP is not read back."""
    if not journal.erp_document:
        message = "posted, but no ERP document number was recorded"
        return Delivery.MISSING, None, [_break(Control.ERP, subject, message, rows)]
    if journal.connector not in read_back and journal.id not in documents:
        return Delivery.RECEIPTED, None, []
    comparison = erp.compare(journal, documents.get(journal.id))
    if comparison.matches:
        delivery = Delivery.ACKNOWLEDGED
    else:
        delivery = Delivery.MISSING if comparison.missing else Delivery.MISMATCH
    return delivery, comparison, _erp_breaks(journal, comparison, rows, subject)


def _unposted(
    journal: JournalFact, rows: list[LineFact], now: datetime, thresholds: Thresholds, subject: str
) -> tuple[Delivery, list[Break]]:
    """A failed journal is a break; a staged, submitting or accepted one (the ERP still working on
    it) is in flight until it is stale."""
    status = journal.status
    if status == JournalStatus.FAILED:
        reason = f": {journal.last_error}" if journal.last_error else ""
        message = f"the {journal.connector} connector failed it{reason}"
        return Delivery.FAILED, [_break(Control.JOURNAL, subject, message, rows, expected=_debits(journal))]
    if status not in (JournalStatus.STAGED, JournalStatus.SUBMITTING, JournalStatus.ACCEPTED):
        return Delivery.FAILED, [_break(Control.JOURNAL, subject, f"unknown journal status {status!r}")]
    if not thresholds.stale(journal.created_at, now):
        return Delivery.IN_FLIGHT, []
    message = f"still {status} {age(journal.created_at, now)} after it was staged"
    return Delivery.STALE, [_break(Control.JOURNAL, subject, message, rows, expected=_debits(journal))]


def _debits(journal: JournalFact) -> Money | None:
    if not journal.lines:
        return None
    total = Money.zero(journal.lines[0].debit.currency)
    for line in journal.lines:
        if line.debit.currency == total.currency:
            total = total + line.debit
    return total


def _integrity(journal: JournalFact, rows: list[LineFact], subject: str) -> list[Break]:
    """The journal balances per currency, and each of its lines is the sum of the subledger rows
    linked to it (no row in it unlinked, none linked to a line it does not have)."""
    return [*_unbalanced(journal, rows, subject), *_unlinked(journal, rows, subject)]


def _unbalanced(journal: JournalFact, rows: list[LineFact], subject: str) -> list[Break]:
    nets: dict[str, Money] = {}
    for line in journal.lines:
        currency = line.debit.currency
        nets[currency] = nets.get(currency, Money.zero(currency)) + line.net
    return [
        _break(
            Control.JOURNAL,
            subject,
            f"debits and credits differ by {net.amount} {currency}",
            rows,
            expected=Money.zero(currency),
            actual=net,
        )
        for currency, net in sorted(nets.items())
        if not net.is_zero()
    ]


def _unlinked(journal: JournalFact, rows: list[LineFact], subject: str) -> list[Break]:
    breaks: list[Break] = []
    linked: dict[int, list[LineFact]] = defaultdict(list)
    for row in rows:
        if row.journal_line_id is not None:
            linked[row.journal_line_id].append(row)
            continue
        message = f"subledger row {row.id} is in this journal but linked to none of its lines"
        breaks.append(_break(Control.JOURNAL, subject, message, [row], actual=row.net))
    for line in journal.lines:
        members = linked.get(line.id, [])
        total = Money.zero(line.debit.currency)
        for row in members:
            total = total + row.net
        if total != line.net:
            message = (
                f"line {line.account} ({line.role.value}) is {_signed(line.net)}, "
                f"its subledger rows sum to {_signed(total)}"
            )
            breaks.append(_break(Control.JOURNAL, subject, message, members, expected=total, actual=line.net))
    for line_id in sorted(set(linked) - {jl.id for jl in journal.lines}):
        members = linked[line_id]
        message = (
            f"{len(members)} subledger row(s) are linked to line {line_id}, which is not in this journal"
        )
        breaks.append(_break(Control.JOURNAL, subject, message, members))
    return breaks


def _signed(amount: Money) -> str:
    side = "Dr" if not amount.is_negative() else "Cr"
    return f"{side} {abs(amount).amount} {amount.currency}"


def _erp_breaks(
    journal: JournalFact, comparison: erp.ErpComparison, rows: list[LineFact], subject: str
) -> list[Break]:
    if comparison.missing:
        message = (
            f"posted as {journal.erp_document}, but the {journal.connector} ledger holds "
            "no document under this reference"
        )
        return [_break(Control.ERP, subject, message, rows, expected=_debits(journal))]
    document = comparison.document
    assert document is not None
    keys = {jl.id: erp.line_key(document, jl) for jl in journal.lines}
    found = []
    for difference in comparison.differences:
        members = [
            r for r in rows if r.journal_line_id is not None and keys.get(r.journal_line_id) == difference.key
        ]
        found.append(
            _break(
                Control.ERP,
                subject,
                f"ERP document {document.document}: {difference.describe()}",
                members,
                expected=difference.ours_net,
                actual=difference.erp_net,
            )
        )
    return found
