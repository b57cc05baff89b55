"""The go-live opening-balance CSV: its shape is checked in full, every error carries its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from revbridge.formats.golive import parse

HEADER = "legal_entity,facility,payer_class,account,amount\n"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "golive" / "opening-balances.csv"


def test_the_example_file_reads_in_full() -> None:
    found = parse(EXAMPLE.read_text(encoding="utf-8"))
    assert found.errors == ()
    assert len(found.rows) == 7
    first, credit = found.rows[0], found.rows[5]
    assert (first.line, first.legal_entity, first.facility, first.payer_class) == (
        2,
        "MHN",
        "MHN-STJ",
        "MEDICARE",
    )
    assert first.amount == Decimal("12450.00")
    assert credit.amount == Decimal("-120.00"), "a credit balance is a negative amount"


def test_columns_in_any_order_with_a_byte_order_mark_and_blank_lines() -> None:
    text = "\ufeffamount,account,payer_class,facility,legal_entity\n1,234.5 ,A1,MEDICARE,MHN-STJ,MHN\n\n"
    found = parse(text.replace("1,234.5 ", '"1,234.5"'))
    assert found.errors == ()
    (row,) = found.rows
    assert (row.account, row.amount, row.legal_entity) == ("A1", Decimal("1234.5"), "MHN")


def test_every_bad_line_is_reported_and_no_row_is_kept() -> None:
    text = HEADER + (
        "MHN,MHN-STJ,MEDICARE,A1,10.00\n"
        "MHN,MHN-STJ,MEDICARE,A2,1.234\n"
        "MHN,,MEDICARE,A3,5\n"
        "MHN,MHN-STJ,MEDICARE,A4,0\n"
        "MHN,MHN-STJ,MEDICARE,A1,7\n"
        "MHN,MHN-STJ,MEDICARE,A5\n"
        "MHN,MHN-STJ,MEDICARE,A6,ten\n"
    )
    found = parse(text)
    assert found.rows == ()
    assert found.errors == (
        "line 3: amount is not a decimal number with at most 2 decimal places",
        "line 4: facility is empty",
        "line 5: amount is zero",
        "line 6: the same account and payer class as line 2",
        "line 7: 4 fields, the header has 5",
        "line 8: amount is not a decimal number with at most 2 decimal places",
    )


def test_the_errors_never_quote_the_account_number() -> None:
    found = parse(
        HEADER + "MHN,MHN-STJ,MEDICARE,SENTINEL-ACCT-991,x\nMHN,MHN-STJ,MEDICARE,SENTINEL-ACCT-991,5\n"
    )
    assert found.errors
    assert not any("SENTINEL" in e for e in found.errors)


def test_a_wrong_header_or_an_empty_file_is_refused() -> None:
    assert parse("").errors == ("line 1: the file is empty; expected a header row",)
    wanted = "line 1: the header must name exactly legal_entity, facility, payer_class, account, amount"
    assert parse("legal_entity,facility,payer_class,account\nMHN,MHN-STJ,MEDICARE,A1\n").errors == (wanted,)
    assert parse(HEADER.replace("\n", ",mrn\n")).errors == (wanted,)
    assert parse(HEADER).errors == ("line 2: the file has a header but no rows",)
    assert parse(HEADER + "MHN,MHN-STJ,MEDICARE,A1,NaN\n").errors == (
        "line 2: amount is not a decimal number with at most 2 decimal places",
    )
