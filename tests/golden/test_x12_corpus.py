"""Golden tests over ../shared/corpus/x12_835 and x12_837: every total SOURCES.md states per
transaction set, the problems each file must give (and no others), and broken variants of the
files giving located problems instead of events."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from revbridge.canonical.codec import dumps
from revbridge.canonical.events import (
    CanonicalEvent,
    ClaimAdjudicated,
    ClaimSubmitted,
    ProviderAdjustment,
    RemittanceReceived,
)
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.x12 import X12
from revbridge.formats.x12.segments import Delimiters, SegmentReader, Source, read_delimiters

ERA = "badx12__X221-era-sample.edi"
MULTI = "badx12__X221-multiple-claims-single-check.edi"
OHIO = "editools__4010_ohio_adamh_reversals_denials.txt"
COB = "lfh_x12__cob-contractural-adjustment.835"
MANAGED = "lfh_x12__managed-care.835"
MEDICARE = "lfh_x12__medicare-part-a.835"
SECONDARY = "lfh_x12__secondary-payment.835"
ZERO_PAY = "pyx12__835_mult_loops.txt"
PROFESSIONAL = "lfh_x12__837P_demo.example1.837"
INSTITUTIONAL = "lfh_x12__837I_institutional-claim.837i"


@dataclass(frozen=True)
class Totals:
    """One row of SOURCES.md: totals per ST."""

    bpr01: str
    bpr02: str
    statuses: dict[str, int]  # CLP02 -> claims
    clp03: str
    clp04: str
    cas_claim: str
    cas_service: str
    plb: str
    se01: int


OHIO_ST = Totals(
    "H", "5.75", {"1": 2, "4": 3, "2": 1, "25": 1, "22": 2}, "439.99", "5.75", "0", "434.24", "0", 93
)
EXPECTED_835 = {
    ERA: [Totals("I", "132", {"1": 1}, "226", "132", "0", "94", "0", 35)],
    MULTI: [Totals("I", "810.8", {"1": 9}, "2819", "810.8", "0", "2008.2", "0", 190)],
    OHIO: [OHIO_ST, OHIO_ST],
    COB: [Totals("I", "34.00", {"2": 1}, "541.00", "34.00", "0", "507.00", "0", 25)],
    MANAGED: [Totals("I", "945.00", {"1": 2}, "2000.00", "945.00", "105.00", "950.00", "0", 26)],
    MEDICARE: [Totals("C", "150000.00", {"1": 2}, "226366.97", "149998.73", "76368.24", "0", "-1.27", 28)],
    SECONDARY: [Totals("I", "1222.00", {"2": 2}, "11075.14", "1222.00", "9411.64", "441.50", "0", 38)],
    ZERO_PAY: [Totals("H", "0", {"4": 1}, "915.39", "0", "0", "915.39", "0", 31)],
}

# Every problem each file gives, and nothing else.
INFO_SVC = (Severity.INFO, ProblemCode.MALFORMED_SEGMENT)
EXPECTED_PROBLEMS = {
    ERA: [],
    MULTI: [],
    OHIO: [
        (*INFO_SVC, "ST[1]/2100[1]/2110[1]/SVC[1]-1"),  # ISA16 is '>' but SVC01 uses ':'
        (*INFO_SVC, "ST[2]/2100[1]/2110[1]/SVC[1]-1"),
        (Severity.WARNING, ProblemCode.EVENT_CONFLICT, "ST[2]"),  # the same ST sent twice
        (Severity.WARNING, ProblemCode.ENVELOPE_MISMATCH, "IEA[1]-2"),  # IEA02 004075123 != ISA13
    ],
    COB: [
        (Severity.WARNING, ProblemCode.MISSING_FIELD, "ST[1]/BPR[1]-16"),  # the date sits in BPR15
        (*INFO_SVC, "ST[1]/2100[1]/2110[1]/SVC[1]-1"),  # ISA16 is ':' but SVC01 uses '>'
    ],
    MANAGED: [(Severity.WARNING, ProblemCode.INVALID_DATE, "ST[1]/BPR[1]-16")],  # BPR16 20002316
    MEDICARE: [],
    SECONDARY: [
        (Severity.WARNING, ProblemCode.MISSING_FIELD, "ST[1]/BPR[1]-16"),
        (*INFO_SVC, "ST[1]/2100[2]/2110[1]/SVC[1]-1"),
    ],
    ZERO_PAY: [],
}


def ctx() -> ParseContext:
    return ParseContext(message_id="golden", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 1))


def translate(corpus: Path, folder: str, name: str) -> Outcome[CanonicalEvent]:
    data = (corpus / folder / name).read_bytes()
    assert X12.detect(data[:256])
    [envelope] = X12.split(data)
    assert envelope.problems == ()
    return X12.to_events(envelope.payload, ctx())


def by_transaction(outcome: Outcome[CanonicalEvent]) -> dict[str, list[CanonicalEvent]]:
    grouped: dict[str, list[CanonicalEvent]] = {}
    for event in outcome.items:
        grouped.setdefault(event.source.locator.split("/")[0], []).append(event)
    return grouped


def total(amounts: list[Money]) -> Decimal:
    return sum((m.amount for m in amounts), Decimal(0))


def segment_counts(data: bytes) -> list[tuple[int, int]]:
    """(SE01 as sent, segments counted from ST to SE) per transaction set, by our tokenizer."""
    source = Source(data)
    start = source.skip_between(0)
    found = read_delimiters(source.text(start, start + 512), 0)
    assert isinstance(found, Delimiters)
    counts, counting = [], 0
    for elements in SegmentReader(source, start, found, 1 << 16):
        if elements[0] == "ST":
            counting = 0
        counting += 1
        if elements[0] == "SE":
            counts.append((int(elements[1]), counting))
    return counts


def test_every_corpus_file_is_covered(corpus: Path) -> None:
    assert sorted(p.name for p in (corpus / "x12_835").iterdir()) == sorted(EXPECTED_835)
    assert sorted(p.name for p in (corpus / "x12_837").iterdir()) == sorted([PROFESSIONAL, INSTITUTIONAL])


@pytest.mark.parametrize("name", sorted(EXPECTED_835))
def test_835_totals_per_transaction_set(corpus: Path, name: str) -> None:
    outcome = translate(corpus, "x12_835", name)
    grouped = by_transaction(outcome)
    expected = EXPECTED_835[name]
    assert list(grouped) == [f"ST[{n}]" for n in range(1, len(expected) + 1)]
    for events, want in zip(grouped.values(), expected, strict=True):
        [remittance] = [e for e in events if isinstance(e, RemittanceReceived)]
        claims = [e for e in events if isinstance(e, ClaimAdjudicated)]
        plbs = [e for e in events if isinstance(e, ProviderAdjustment)]
        assert (remittance.handling, remittance.amount.amount) == (want.bpr01, Decimal(want.bpr02))
        assert remittance.claim_count == len(claims) == sum(want.statuses.values())
        assert Counter(c.status for c in claims) == want.statuses
        assert total([c.charge for c in claims]) == Decimal(want.clp03)
        assert total([c.paid for c in claims]) == Decimal(want.clp04)
        service = [a.amount for c in claims for line in c.lines for a in line.adjustments]
        claim_level = [a.amount for c in claims for a in c.adjustments if "/2110[" not in a.locator]
        assert total(claim_level) == Decimal(want.cas_claim)
        assert total(service) == Decimal(want.cas_service)
        assert len(claim_level) + len(service) == sum(len(c.adjustments) for c in claims)
        assert total([p.amount for p in plbs]) == Decimal(want.plb)
        assert total([c.paid for c in claims]) - total([p.amount for p in plbs]) == remittance.amount.amount
    data = (corpus / "x12_835" / name).read_bytes()
    assert segment_counts(data) == [(want.se01, want.se01) for want in expected]


@pytest.mark.parametrize("name", sorted(EXPECTED_PROBLEMS))
def test_835_problems_are_exactly_the_expected_ones(corpus: Path, name: str) -> None:
    outcome = translate(corpus, "x12_835", name)
    assert [(p.severity, p.code, p.locator) for p in outcome.problems] == EXPECTED_PROBLEMS[name]
    assert outcome.ok


def test_4010_file_has_two_reversals_per_transaction_and_no_cash(corpus: Path) -> None:
    outcome = translate(corpus, "x12_835", OHIO)
    for events in by_transaction(outcome).values():
        reversals = [e for e in events if isinstance(e, ClaimAdjudicated) and e.is_reversal]
        assert [(r.claim_id, r.charge.amount, r.paid.amount) for r in reversals] == [
            ("123456", Decimal("-42.58"), Decimal("-42.58")),
            ("090909", Decimal("-86.76"), Decimal("-86.76")),
        ]
        assert [line.units for r in reversals for line in r.lines] == [Decimal(-2), Decimal(-4)]
        [remittance] = [e for e in events if isinstance(e, RemittanceReceived)]
        assert not remittance.carries_cash
        assert remittance.remittance_id == "1346000128:A04B001017.07504"
        assert remittance.facility == "346608640"
    negative_cas = [
        a.amount.amount for e in outcome.items if isinstance(e, ClaimAdjudicated) for a in e.adjustments
    ]
    assert Decimal("-1.08") in negative_cas
    assert {a.group for e in outcome.items if isinstance(e, ClaimAdjudicated) for a in e.adjustments} == {
        "CO",
        "CR",
        "OA",
        "PI",
        "PR",
    }


def test_zero_pay_notice_carries_no_cash(corpus: Path) -> None:
    remittance, claim = translate(corpus, "x12_835", ZERO_PAY).items
    assert isinstance(remittance, RemittanceReceived)
    assert isinstance(claim, ClaimAdjudicated)
    assert (remittance.carries_cash, remittance.amount.amount, remittance.method) == (
        False,
        Decimal(0),
        "NON",
    )
    assert [line.units for line in claim.lines] == [Decimal(68), Decimal(16), Decimal(36)]


def test_medicare_part_a_plb_is_a_negative_adjustment(corpus: Path) -> None:
    outcome = translate(corpus, "x12_835", MEDICARE)
    [plb] = [e for e in outcome.items if isinstance(e, ProviderAdjustment)]
    assert (plb.reason, plb.reference, plb.amount.amount) == ("CV", "CP", Decimal("-1.27"))
    assert plb.key == "x12:835:1512345678:12345:PLB:1:1"


def test_stray_separator_files_read_their_procedures(corpus: Path) -> None:
    [_, claim] = translate(corpus, "x12_835", COB).items
    assert isinstance(claim, ClaimAdjudicated)
    assert [line.procedure for line in claim.lines] == ["HC:55669"]
    claims = [e for e in translate(corpus, "x12_835", SECONDARY).items if isinstance(e, ClaimAdjudicated)]
    assert [line.procedure for c in claims for line in c.lines] == ["HC:12345:26", "HC:66543:26"]


def test_duplicate_patient_control_numbers_get_distinct_keys(corpus: Path) -> None:
    claims = [e for e in translate(corpus, "x12_835", MULTI).items if isinstance(e, ClaimAdjudicated)]
    assert {c.claim_id for c in claims} == {"7722337"}
    assert [c.occurrence for c in claims] == list(range(1, 10))
    assert len({c.key for c in claims}) == 9


@pytest.mark.parametrize(
    ("name", "total_", "lines", "claim_type", "payer", "facility"),
    [
        (
            PROFESSIONAL,
            "100.00",
            ["40.00", "15.00", "35.00", "10.00"],
            "professional",
            "999996666",
            "1912301953",
        ),
        (INSTITUTIONAL, "89.93", ["13.39", "76.54"], "institutional", "00435", "9876540809"),
    ],
)
def test_837_totals(
    corpus: Path, name: str, total_: str, lines: list[str], claim_type: str, payer: str, facility: str
) -> None:
    outcome = translate(corpus, "x12_837", name)
    assert outcome.problems == ()
    [claim] = outcome.items
    assert isinstance(claim, ClaimSubmitted)
    assert claim.total.amount == Decimal(total_) == total([line.charge for line in claim.lines])
    assert [str(line.charge.amount) for line in claim.lines] == lines
    assert [line.line_number for line in claim.lines] == list(range(1, len(lines) + 1))
    assert (claim.claim_type, claim.payer_id, claim.facility, claim.frequency) == (
        claim_type,
        payer,
        facility,
        "1",
    )


@pytest.mark.parametrize("name", sorted(EXPECTED_835))
def test_one_cent_off_in_any_claim_withholds_its_transaction_set(corpus: Path, name: str) -> None:
    """Broken variants of the real files: CLP04 of the first claim raised by 0.01."""
    data = (corpus / "x12_835" / name).read_bytes()
    start = data.index(b"CLP*")
    fields = data[start : data.index(b"~", start)].split(b"*")
    fields[4] = str(Decimal(fields[4].decode()) + Decimal("0.01")).encode()
    broken = data[:start] + b"*".join(fields) + data[data.index(b"~", start) :]
    outcome = X12.to_events(broken, ctx())
    found = [(p.code, p.locator) for p in outcome.problems if p.severity is Severity.ERROR]
    assert found == [
        (ProblemCode.UNBALANCED_CLAIM, "ST[1]/2100[1]/CLP[1]-4"),
        (ProblemCode.UNBALANCED_REMITTANCE, "ST[1]/BPR[1]-2"),
    ]
    assert not any(e.source.locator.startswith("ST[1]/") for e in outcome.items)
    assert len(outcome.items) == (len(translate(corpus, "x12_835", name).items) // 2 if name == OHIO else 0)


@pytest.mark.parametrize("folder", ["x12_835", "x12_837"])
def test_no_patient_name_or_identifier_from_the_corpus_reaches_events_or_problems(
    corpus: Path, folder: str
) -> None:
    for path in sorted((corpus / folder).iterdir()):
        data = path.read_bytes()
        text = data.decode("latin-1")
        segments = [s.strip() for s in text.split("~")]
        elsewhere = "~".join(s for s in segments if not s.startswith("NM1"))
        secrets: set[str] = set()
        for segment in segments:
            parts = segment.split("*")
            if parts[0] == "NM1" and len(parts) > 3 and parts[1] in ("QC", "IL"):
                secrets.update(p.strip() for p in parts[3:5] + parts[9:10] if p.strip())
        secrets = {s for s in secrets if s not in elsewhere}  # ignore ids that legitimately recur
        assert secrets, path.name
        outcome = X12.to_events(data, ctx())
        shown = "\n".join(dumps(e) for e in outcome.items) + "\n".join(str(p) for p in outcome.problems)
        assert [s for s in secrets if s in shown] == [], path.name
