"""Subledger = journal lines = ERP, journal by journal, and every way that breaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from reconcile_facts import NOW, R, era_lines, gl_document, journal, line, usd

from revbridge.reconcile import Control, ErpDocument, JournalFact, LineFact, Thresholds, account_document
from revbridge.reconcile.erp import readers_for
from revbridge.reconcile.journals import Delivery, JournalsResult, check

T = Thresholds()


def run(
    journals: list[JournalFact],
    rows: list[LineFact],
    documents: dict[str, ErpDocument] | None = None,
    read_back: frozenset[str] = frozenset({"embedded"}),
) -> JournalsResult:
    docs = (
        documents
        if documents is not None
        else {j.id: gl_document(j) for j in journals if j.status == "posted"}
    )
    return check(journals, rows, docs, read_back=read_back, now=NOW, thresholds=T)


def posted_era() -> tuple[JournalFact, list[LineFact]]:
    return journal("J-ERA", era_lines(journal=None))


def test_a_posted_journal_the_erp_holds_exactly_is_acknowledged() -> None:
    fact, rows = posted_era()
    result = run([fact], rows)
    assert result.breaks == ()
    assert result.checks["J-ERA"].delivery is Delivery.ACKNOWLEDGED
    assert all(result.acknowledged(r) for r in rows)
    assert result.counts()["acknowledged"] == 1


def test_a_deleted_erp_entry_is_named_and_only_its_group_is_not_acknowledged() -> None:
    fact, rows = posted_era()
    result = run([fact], rows, {fact.id: gl_document(fact, drop=["4510"])})
    check_ = result.checks["J-ERA"]
    assert check_.delivery is Delivery.MISMATCH
    (brk,) = result.breaks
    assert brk.control is Control.ERP
    assert brk.subject == "journal J-ERA"
    assert "account 4510" in brk.message and "the ERP holds Dr 0" in brk.message
    assert brk.expected == usd("470.00") and brk.actual == usd("0")
    contractual = {r.event_key for r in rows if r.account == "4510"}
    assert set(brk.event_keys) == contractual
    assert [r.account for r in rows if not result.acknowledged(r)] == ["4510"] * 3
    assert all(result.acknowledged(r) for r in rows if r.account != "4510")


def test_an_erp_without_the_document_is_a_break_for_the_whole_journal() -> None:
    fact, rows = posted_era()
    result = run([fact], rows, {})
    assert result.checks["J-ERA"].delivery is Delivery.MISSING
    (brk,) = result.breaks
    assert "holds no document under this reference" in brk.message
    # the worked example debits 1,555.25 net; lines keep sides apart, so the reversed CO-45 adds 100
    assert brk.expected == usd("1655.25")
    assert not any(result.acknowledged(r) for r in rows)


def test_journals_of_a_connector_nobody_reads_back_stand_on_their_receipt() -> None:
    fact, rows = posted_era()
    fact = replace(fact, connector="rest")
    result = run([fact], rows, {}, read_back=frozenset({"embedded"}))
    assert result.breaks == ()
    assert result.checks["J-ERA"].delivery is Delivery.RECEIPTED
    assert all(result.acknowledged(r) for r in rows)


def test_posted_without_a_document_number_is_a_break() -> None:
    fact, rows = posted_era()
    fact = replace(fact, erp_document=None)
    result = run([fact], rows)
    assert result.checks["J-ERA"].delivery is Delivery.MISSING
    assert [b.message for b in result.breaks] == ["posted, but no ERP document number was recorded"]


def test_a_subledger_row_changed_after_posting_no_longer_sums_to_its_journal_line() -> None:
    fact, rows = posted_era()
    tampered = [replace(r, net=usd("451.00")) if r.net == usd("450.00") else r for r in rows]
    result = run([fact], tampered)
    (brk,) = result.breaks
    assert brk.control is Control.JOURNAL
    assert (
        brk.message
        == "line 4510 (contractual_allowance) is Dr 570.00 USD, its subledger rows sum to Dr 571.00 USD"
    )
    assert brk.expected == usd("571.00") and brk.actual == usd("570.00")


def test_an_unbalanced_journal_and_rows_linked_to_nothing() -> None:
    fact, rows = posted_era()
    first = fact.lines[0]
    skewed = replace(fact, lines=(replace(first, debit=first.debit + usd("1.00")), *fact.lines[1:]))
    unlinked = replace(rows[0], journal_line_id=None)
    result = run([skewed], [unlinked, *rows[1:]], {skewed.id: gl_document(skewed)})
    messages = [b.message for b in result.breaks]
    assert "debits and credits differ by 1.00 USD" in messages
    assert any(
        m.startswith(f"subledger row {unlinked.id} is in this journal but linked to none") for m in messages
    )


def test_rows_pointing_at_a_journal_that_does_not_exist() -> None:
    rows = [line("x", R.CASH_CLEARING, "5.00", journal="J-GONE")]
    result = run([], rows)
    (brk,) = result.breaks
    assert brk.subject == "journal J-GONE" and "does not exist" in brk.message and brk.event_keys == ("x",)


def test_an_erp_document_under_a_reference_we_never_staged() -> None:
    fact, rows = posted_era()
    stray = replace(gl_document(fact), reference="J-STRAY", document="GL-00000099")
    result = run([fact], rows, {fact.id: gl_document(fact), "J-STRAY": stray})
    (brk,) = result.breaks
    assert brk.control is Control.ERP and brk.subject == "ERP document GL-00000099"


def test_failed_journals_are_breaks_with_the_connectors_reason() -> None:
    fact, rows = journal(
        "J-F", era_lines(journal=None), status="failed", last_error="period 2026-06 is closed"
    )
    result = run([fact], rows)
    assert result.checks["J-F"].delivery is Delivery.FAILED
    (brk,) = result.breaks
    assert brk.message == "the embedded connector failed it: period 2026-06 is closed"
    assert not any(result.acknowledged(r) for r in rows)


def test_staged_journals_are_in_flight_until_the_threshold_then_breaks() -> None:
    young, rows = journal(
        "J-Y", era_lines(journal=None), status="staged", created_at=NOW - timedelta(minutes=10)
    )
    old, old_rows = journal(
        "J-O", era_lines(journal=None), status="submitting", created_at=NOW - timedelta(hours=2)
    )
    result = run([young, old], rows + old_rows)
    assert result.checks["J-Y"].delivery is Delivery.IN_FLIGHT
    assert result.checks["J-O"].delivery is Delivery.STALE
    (brk,) = result.breaks
    assert brk.subject == "journal J-O" and brk.message == "still submitting 2h after it was staged"


def test_rows_in_an_open_window_are_in_flight_until_the_threshold() -> None:
    young = line("c1", R.GROSS_REVENUE, "-10.00", created_at=NOW - timedelta(minutes=1))
    old = line("c2", R.GROSS_REVENUE, "-10.00", created_at=NOW - timedelta(hours=3))
    assert run([], [young]).breaks == ()
    result = run([], [young, old])
    (brk,) = result.breaks
    assert brk.event_keys == ("c2",) and "the batch window did not close" in brk.message
    assert len(result.unjournaled) == 2


def test_an_account_level_read_back_compares_nets_through_the_account_map() -> None:
    fact, rows = posted_era()
    nets: dict[str, Decimal] = {}
    mapping = {"1015": "1.1.1"}
    for jl in fact.lines:
        code = mapping.get(jl.account, jl.account)
        nets[code] = nets.get(code, Decimal(0)) + jl.net.amount
    document = account_document(
        reference=fact.id, document="MOVE/1", balances=nets, currency="USD", accounts=mapping
    )
    result = run(
        [replace(fact, connector="tryton")], rows, {fact.id: document}, read_back=frozenset({"tryton"})
    )
    assert result.breaks == ()
    assert result.checks["J-ERA"].delivery is Delivery.ACKNOWLEDGED
    nets["7100"] = Decimal("-5.00")  # the ERP holds 0.25 less interest income
    short = account_document(
        reference=fact.id, document="MOVE/1", balances=nets, currency="USD", accounts=mapping
    )
    result = run([replace(fact, connector="tryton")], rows, {fact.id: short}, read_back=frozenset({"tryton"}))
    (brk,) = result.breaks
    assert brk.message == "ERP document MOVE/1: account 7100: we sent net -5.25 USD, the ERP holds -5.00"
    assert [r.account for r in rows if not result.acknowledged(r)] == ["7100"]


def test_rows_may_wait_as_long_as_their_batch_window_is_configured_to_stay_open() -> None:
    row = line("c1", R.GROSS_REVENUE, "-10.00", created_at=NOW - timedelta(hours=3))
    daily_windows = Thresholds(window=timedelta(hours=24, minutes=30))
    assert check([], [row], {}, read_back=frozenset(), now=NOW, thresholds=daily_windows).breaks == ()
    short = Thresholds(window=timedelta(minutes=10))
    assert len(check([], [row], {}, read_back=frozenset(), now=NOW, thresholds=short).breaks) == 1


class _Settings:
    accounts: ClassVar[dict[str, str]] = {"1015": "1.1.1"}


class _AccountLedger:
    """Looks like TrytonConnector to ``readers_for``: a name, balances(refs), settings.accounts."""

    name = "north"
    settings = _Settings()

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def balances(self, references: list[str]) -> dict[str, Decimal]:
        self.asked.append(list(references))
        return {"1.1.1": Decimal("595.25"), "7100": Decimal("-5.25"), "1211": Decimal("-590.00")}


class _Embedded:
    name = "embedded"

    def balances(self, references: list[str]) -> dict[str, Decimal]:
        raise AssertionError("the embedded ledger is read from the store, not through its connector")


class _Rest:
    name = "rest"


def test_readers_for_the_connectors_that_can_read_their_erp_back() -> None:
    north = _AccountLedger()
    readers = readers_for([north, _Embedded(), _Rest(), north], skip=frozenset({"embedded"}))
    assert set(readers) == {"north"}
    fact, _rows = posted_era()
    (document,) = readers["north"]([fact]).values()
    assert north.asked == [[fact.id]]
    assert document.reference == fact.id and document.netted and dict(document.accounts) == {"1015": "1.1.1"}
    assert {(ln.account, ln.debit.amount, ln.credit.amount) for ln in document.lines} == {
        ("1.1.1", Decimal("595.25"), Decimal(0)),
        ("7100", Decimal(0), Decimal("5.25")),
        ("1211", Decimal(0), Decimal("590.00")),
    }


class _HeldLine:
    def __init__(self, account: str, debit: str, credit: str) -> None:
        self.account, self.debit, self.credit, self.currency = account, Decimal(debit), Decimal(credit), "USD"


class _HeldJournal:
    def __init__(self, reference: str, lines: list[_HeldLine]) -> None:
        self.reference, self.document, self.lines = reference, "ERP-DOC-1", lines


def test_an_erp_read_back_by_journal_compares_debits_and_credits_and_names_what_is_missing() -> None:
    fact, rows = posted_era()
    fact = replace(fact, connector="cloud")
    other, other_rows = journal("J-OTHER", era_lines(journal=None), connector="cloud")
    held = {
        fact.id: _HeldJournal(
            fact.id,
            [_HeldLine(jl.account, str(jl.debit.amount), str(jl.credit.amount)) for jl in fact.lines],
        )
    }
    asked: list[list[str]] = []

    class Cloud:
        name = "cloud"

        def read_back(self, references: list[str]) -> dict[str, _HeldJournal]:
            asked.append(list(references))
            return {r: held[r] for r in references if r in held}

    reader = readers_for([Cloud()])["cloud"]
    documents = dict(reader([fact, other]))
    assert asked == [[fact.id, other.id]] and set(documents) == {fact.id}
    result = run([fact, other], rows + other_rows, documents, read_back=frozenset({"cloud"}))
    assert result.checks[fact.id].delivery is Delivery.ACKNOWLEDGED
    assert result.checks[other.id].delivery is Delivery.MISSING
    # the ERP changed one line: named with both figures, debits and credits apart
    held[fact.id].lines[0].debit += Decimal("1.00")
    changed = run([fact], rows, dict(reader([fact])), read_back=frozenset({"cloud"}))
    (brk,) = changed.breaks
    assert "we sent Dr" in brk.message and "the ERP holds Dr" in brk.message
