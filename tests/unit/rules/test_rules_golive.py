"""The go-live opening journal: Dr the receivable of each row's payer class (the patient's for
self-pay), Cr opening_balance, one balanced realtime draft per legal entity, dated the cut-over."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from revbridge.formats.golive import OpeningRow, parse
from revbridge.ledger.journal import JournalLine, Lane, realtime_journal
from revbridge.ledger.period import Period, PeriodCalendar, PeriodStatus
from revbridge.ledger.role import AccountRole
from revbridge.masterdata import Configuration
from revbridge.rules.golive import document_key, opening, reversal

AS_OF = date(2025, 3, 2)
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "golive" / "opening-balances.csv"


def _row(line: int, facility: str, payer_class: str, amount: str, *, entity: str = "MHN") -> OpeningRow:
    return OpeningRow(
        line=line,
        legal_entity=entity,
        facility=facility,
        payer_class=payer_class,
        account=f"A{line}",
        amount=Decimal(amount),
    )


def _nets(lines: Iterable[JournalLine]) -> dict[tuple[str, str, str], Decimal]:
    found: dict[tuple[str, str, str], Decimal] = {}
    for ln in lines:
        key = (ln.account, ln.role.value, ln.dimensions.payer_class)
        found[key] = found.get(key, Decimal(0)) + ln.net.amount
    return found


def test_the_example_posts_one_balanced_journal_per_legal_entity(config: Configuration) -> None:
    built = opening(parse(EXAMPLE.read_text(encoding="utf-8")).rows, config, as_of=AS_OF)
    assert built.errors == ()
    assert [d.legal_entity for d in built.drafts] == ["MHN", "MHS"]
    mhn, mhs = built.drafts
    assert (mhn.lane, mhn.posting_date, mhn.currency) == (Lane.REALTIME, AS_OF, "USD")
    assert _nets(realtime_journal(mhn).lines) == {
        ("1211", "ar_payer", "MEDICARE"): Decimal("12450.00"),
        ("1214", "ar_payer", "COMMERCIAL"): Decimal("8312.55"),
        ("1212", "ar_payer", "MEDICAID"): Decimal("3120.40"),
        ("1220", "ar_patient", "SELF_PAY"): Decimal("415.00"),
        ("3900", "opening_balance", ""): Decimal("-24297.95"),
    }
    # a credit balance (-120.00) books the other way round and nets inside its payer class
    assert _nets(realtime_journal(mhs).lines)[("1214", "ar_payer", "COMMERCIAL")] == Decimal("6860.10")
    assert _nets(realtime_journal(mhs).lines)[("3900", "opening_balance", "")] == Decimal("-9070.85")
    # every draft line names its row's event key, so the subledger drills down to the account
    assert all(len(ln.event_keys) == 1 for d in built.drafts for ln in d.lines)
    assert "golive:2025-03-02:MHN-STJ:MEDICARE:STJ0100231" in mhn.event_keys


def test_the_same_rows_in_another_order_are_the_same_document() -> None:
    rows = [_row(2, "MHN-STJ", "MEDICARE", "10"), _row(3, "MHN-HOPE", "MEDICAID", "5")]
    assert document_key(AS_OF, "MHN", rows) == document_key(AS_OF, "MHN", rows[::-1])
    changed = [rows[0], _row(3, "MHN-HOPE", "MEDICAID", "6")]
    assert document_key(AS_OF, "MHN", rows) != document_key(AS_OF, "MHN", changed)
    assert document_key(AS_OF, "MHN", rows) != document_key(date(2025, 3, 1), "MHN", rows)


def test_unknown_codes_are_errors_with_their_line_and_no_draft(config: Configuration) -> None:
    rows = [
        _row(2, "MHN-STJ", "MEDICARE", "10"),
        _row(3, "MHS-BAY", "MEDICARE", "10"),
        _row(4, "NOWHERE", "MEDICARE", "10"),
        _row(5, "MHN-STJ", "PLATINUM", "10"),
        _row(6, "MHN-STJ", "MEDICARE", "10", entity="XYZ"),
    ]
    built = opening(rows, config, as_of=AS_OF)
    assert built.drafts == ()
    assert built.errors == (
        "line 3: facility MHS-BAY belongs to legal entity MHS",
        "line 4: facility is not a configured facility code",
        "line 5: payer_class is not a configured payer class",
        "line 6: legal_entity is not a configured legal entity",
    )


def test_a_chart_without_an_opening_balance_account_is_an_error(config: Configuration) -> None:
    master = config.master
    mappings = tuple(m for m in master.account_mappings if m.role is not AccountRole.OPENING_BALANCE)
    bare = replace(config, master=replace(master, account_mappings=mappings))
    built = opening([_row(2, "MHN-STJ", "MEDICARE", "10")], bare, as_of=AS_OF)
    assert built.drafts == ()
    assert built.errors == ("line 2: no account for role opening_balance in legal entity MHN",)


def test_a_cut_over_in_a_closed_period_is_refused(config: Configuration) -> None:
    closed = Period(
        legal_entity="MHS", start=date(2025, 3, 1), end=date(2025, 3, 31), status=PeriodStatus.CLOSED
    )
    rows = [_row(2, "MHN-STJ", "MEDICARE", "10"), _row(3, "MHS-BAY", "MEDICARE", "10", entity="MHS")]
    built = opening(rows, config, as_of=AS_OF, calendar=PeriodCalendar(periods=(closed,)))
    assert built.drafts == ()
    assert built.errors == ("2025-03-02 is in a closed period of legal entity MHS",)
    assert (
        len(opening(rows, config, as_of=date(2025, 2, 28), calendar=PeriodCalendar(periods=(closed,))).drafts)
        == 2
    )


def test_a_replacement_has_its_own_revision_and_a_reversal_undoes_every_line(config: Configuration) -> None:
    rows = parse(EXAMPLE.read_text(encoding="utf-8")).rows
    first = opening(rows, config, as_of=AS_OF).drafts[0]
    second = opening(rows, config, as_of=AS_OF, revision=2).drafts[0]
    assert (first.revision, second.revision) == ("", "r2")
    assert first.source_document_key == second.source_document_key
    assert realtime_journal(first).id != realtime_journal(second).id
    undo = reversal(first)
    assert undo.revision == "r0-reversed"
    assert (undo.posting_date, undo.event_keys) == (first.posting_date, first.event_keys)
    combined = _nets((*first.lines, *undo.lines))
    assert set(combined.values()) == {Decimal(0)}
    assert realtime_journal(undo).id not in {realtime_journal(first).id, realtime_journal(second).id}
