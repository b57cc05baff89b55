"""Export files: CSV columns, FBDI positions, beancount checked by beancount's own loader."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from beancount import loader
from beancount.core import data

from revbridge.connectors.base import ConnectorRejected
from revbridge.connectors.exports import (
    CSV_COLUMNS,
    FbdiSettings,
    beancount_account,
    exact_lines,
    render_beancount,
    render_csv,
    render_fbdi,
)
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R

SENTINEL = "PATIENT-SENTINEL-4471"  # an event key / document key that must never reach a file


def _journal(
    n: int = 1,
    *,
    day: date = date(2026, 6, 15),
    le: str = "LE01",
    lane: Lane = Lane.REALTIME,
    currency: str = "USD",
) -> Journal:
    def line(account: str, role: R, amount: str, cost_center: str = "", payer: str = "") -> JournalLine:
        made = JournalLine.signed(
            account=account,
            role=role,
            amount=Money.of(amount, currency),
            dimensions=Dimensions(
                legal_entity=le,
                facility="F01",
                cost_center=cost_center,
                payer_class=payer,
                service_line="ACUTE",
            ),
            event_keys=(f"{SENTINEL}:{n}",),
        )
        assert made is not None
        return made

    draft = JournalDraft(
        lane=lane,
        legal_entity=le,
        currency=currency,
        posting_date=day,
        source_document_key=f"{SENTINEL}:doc:{n}",
        lines=(
            line("1010", R.CASH_CLEARING, "595.25"),
            line("4100", R.CONTRACTUAL_ALLOWANCE, "470.00", cost_center="ED", payer="Medicare"),
            line("6100", R.BAD_DEBT, "9.75"),
            line("1210", R.AR_PAYER, "-1069.75", payer="Medicare"),
            line("2150", R.PAYER_CREDIT_BALANCE, "-5.25", payer="Medicare"),
        ),
    )
    return realtime_journal(draft)


FBDI = FbdiSettings(ledger_ids={"LE01": "300000046975971", "LE02": "300000046975972"})


def test_csv_has_the_documented_columns_and_exact_amounts() -> None:
    journal = _journal()
    text = render_csv([journal]).decode()
    assert SENTINEL not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["line_no"], r["account"], r["role"], r["debit"], r["credit"]) for r in rows] == [
        ("1", "1010", "cash_clearing", "595.25", "0.00"),
        ("2", "1210", "ar_payer", "0.00", "1069.75"),
        ("3", "2150", "payer_credit_balance", "0.00", "5.25"),
        ("4", "4100", "contractual_allowance", "470.00", "0.00"),
        ("5", "6100", "bad_debt", "9.75", "0.00"),
    ]
    assert {
        (r["journal_id"], r["legal_entity"], r["posting_date"], r["lane"], r["currency"]) for r in rows
    } == {(journal.id, "LE01", "2026-06-15", "realtime", "USD")}
    assert rows[3]["cost_center"] == "ED" and rows[3]["payer_class"] == "Medicare"
    assert sum(Decimal(r["debit"]) - Decimal(r["credit"]) for r in rows) == 0


def _fbdi_rows(content: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == ["GlInterface.csv"]
        return list(csv.reader(io.StringIO(archive.read("GlInterface.csv").decode())))


def test_fbdi_is_positional_without_a_header_and_byte_identical_on_re_export() -> None:
    realtime, batch = _journal(1), _journal(2, le="LE02", lane=Lane.BATCH)
    content = render_fbdi([realtime, batch], FBDI)
    assert render_fbdi([realtime, batch], FBDI) == content
    rows = _fbdi_rows(content)
    assert len(rows) == 10 and all(len(r) == 149 for r in rows)
    first = rows[0]
    assert first[:8] == [
        "NEW",
        "300000046975971",
        "2026/06/15",
        "Patient Accounting",
        "Payments",
        "USD",
        "2026/06/15",
        "A",
    ]
    # SEGMENT1.. = legal entity, cost centre, account, payer class, service line
    assert rows[3][8:13] == ["LE01", "ED", "4100", "Medicare", "ACUTE"]
    assert rows[3][38:40] == ["470.00", ""] and rows[1][38:40] == ["", "1069.75"]
    assert {r[42] for r in rows[:5]} == {realtime.id} and {r[42] for r in rows[5:]} == {batch.id}
    assert rows[5][1] == "300000046975972" and rows[5][4] == "Charges"
    group_ids = {r[66] for r in rows}
    assert len(group_ids) == 1 and group_ids.pop().isdigit()
    assert {r[94] for r in rows} == {"Jun-26"}
    for currency in ("USD",):
        total = sum(Decimal(r[38] or 0) - Decimal(r[39] or 0) for r in rows if r[5] == currency)
        assert total == 0
    assert SENTINEL.encode() not in zipfile.ZipFile(io.BytesIO(content)).read("GlInterface.csv")


def test_fbdi_refuses_a_legal_entity_without_a_ledger_and_bad_segments() -> None:
    with pytest.raises(ConnectorRejected, match="no FBDI ledger id"):
        render_fbdi([_journal(le="LE09")], FBDI)
    with pytest.raises(ValueError, match="FBDI segments"):
        FbdiSettings(ledger_ids={}, segments=("legal_entity", "patient"))


def _balances(entries: list[object]) -> dict[tuple[str, str], Decimal]:
    result: dict[tuple[str, str], Decimal] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                _root, le, account = posting.account.split(":")
                result[(le, account)] = result.get((le, account), Decimal(0)) + posting.units.number
    return result


def test_beancount_loads_cleanly_and_balances_equal_the_journals() -> None:
    journals = [_journal(1), _journal(2, day=date(2026, 5, 2)), _journal(3, le="LE02", currency="EUR")]
    text = render_beancount(journals)
    assert SENTINEL not in text
    entries, errors, options = loader.load_string(text)
    assert errors == []
    assert options["operating_currency"] == ["EUR", "USD"]
    expected: dict[tuple[str, str], Decimal] = {}
    for journal in journals:
        for line in journal.lines:
            key = (journal.legal_entity, line.account)
            expected[key] = expected.get(key, Decimal(0)) + line.net.amount
    assert _balances(entries) == expected
    opens = {e.account: e.date for e in entries if isinstance(e, data.Open)}
    assert opens["Assets:LE01:1010"] == date(2026, 5, 2)  # dated at first use
    assert opens["Liabilities:LE01:2150"] == date(2026, 5, 2)
    assert opens["Expenses:LE02:6100"] == date(2026, 6, 15)
    txns = [e for e in entries if isinstance(e, data.Transaction)]
    assert [t.meta["journal"] for t in txns] == [journals[1].id, *sorted([journals[0].id, journals[2].id])]
    assert txns[0].postings[3].meta["cost_center"] == "ED"


def test_beancount_account_names_are_valid_and_collisions_refused() -> None:
    assert beancount_account("le.north", "4000_ED", R.GROSS_REVENUE) == "Income:Le-north:4000-ED"
    assert beancount_account("-x", "a", R.CASH_CLEARING) == "Assets:X-x:A"
    one, other = _journal(1, le="LE.1"), _journal(2, le="LE-1")
    with pytest.raises(ConnectorRejected, match="share the beancount name"):
        render_beancount([one, other])


def test_a_journal_whose_rounded_lines_do_not_balance_is_never_rendered() -> None:
    """Built past the ledger's invariants, as a bug upstream would: sub-cent amounts whose
    rounded values no longer sum to zero."""
    journal = _journal()
    odd = list(journal.lines)
    for index, amount in ((0, "595.255"), (1, "1069.745")):  # rounds to 595.26 and 1069.74
        line = odd[index]
        broken = JournalLine.__new__(JournalLine)
        for name in JournalLine.__slots__:
            object.__setattr__(broken, name, getattr(line, name))
        object.__setattr__(broken, "amount", Money(Decimal(amount), "USD"))
        odd[index] = broken
    object.__setattr__(journal, "lines", tuple(odd))
    for render in (
        lambda: render_csv([journal]),
        lambda: render_beancount([journal]),
        lambda: exact_lines(journal),
    ):
        with pytest.raises(ConnectorRejected, match="does not sum to zero"):
            render()
