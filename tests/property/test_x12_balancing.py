"""Hypothesis: generated balanced 835s always balance after parsing and yield their posting events;
changing any one amount that takes part in balancing always yields UNBALANCED_REMITTANCE and no
posting events at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revbridge.canonical.events import ClaimAdjudicated, ProviderAdjustment, RemittanceReceived
from revbridge.core.problem import ProblemCode
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.x12 import X12

CTX = ParseContext(message_id="prop", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 1))
FAST = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

CENTS = st.integers(min_value=-500_000, max_value=500_000)
GROUPS = st.sampled_from(["CO", "PR", "OA", "PI", "CR"])
REASONS = st.sampled_from(["45", "1", "2", "3", "23", "42", "97", "253", "A2"])
Cas = list[tuple[str, list[tuple[str, int]]]]  # CAS segments: group, then (reason, cents) triples
Claim = tuple[Cas, list[tuple[int, Cas]], int, str]  # claim CAS, lines, charge without lines, CLP02


@dataclass
class Era:
    """An 835 as element lists, and where its balancing amounts are (segment, element)."""

    segments: list[list[str]]
    amounts: list[tuple[int, int]]
    claims: int
    plb_pairs: int

    def render(self) -> bytes:
        body = ["*".join(seg) for seg in self.segments]
        st = ["ST*835*0001", *body, f"SE*{len(body) + 2}*0001"]
        isa = (
            "ISA*00*          *00*          *ZZ*PAYER          *ZZ*PROVIDER       *240105*1200*^*00501"
            "*000000001*0*P*:"
        )
        envelope = [
            isa,
            "GS*HP*PAYER*PROVIDER*20240105*1200*1*X*005010X221A1",
            *st,
            "GE*1*1",
            "IEA*1*000000001",
        ]
        return ("~\n".join(envelope) + "~\n").encode()


@st.composite
def written(draw: st.DrawFn, cents: int) -> str:
    """An amount as a sender might write it: 12.30, 12.3 or 12 when exact."""
    value = Decimal(cents).scaleb(-2)
    style = draw(st.sampled_from(["fixed", "short"]))
    if style == "short":
        return format(value.normalize(), "f") if value else "0"
    return f"{value:.2f}"


@st.composite
def cas_segments(draw: st.DrawFn) -> Cas:
    return draw(
        st.lists(
            st.tuples(GROUPS, st.lists(st.tuples(REASONS, CENTS), min_size=1, max_size=6)),
            max_size=2,
        )
    )


CLAIMS = st.lists(
    st.tuples(
        cas_segments(),
        st.lists(st.tuples(CENTS, cas_segments()), max_size=3),
        CENTS,
        st.sampled_from(["1", "2", "4", "22"]),
    ),
    max_size=5,
)
PLB = st.lists(st.tuples(st.sampled_from(["L6", "WO", "FB", "72", "CS"]), CENTS), max_size=6)


class _Writer:
    """Appends an 835's segments in order and notes where each balancing amount was written."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.segments: list[list[str]] = []
        self.amounts: list[tuple[int, int]] = []

    def add(self, elements: list[str], *amount_at: int) -> None:
        self.amounts.extend((len(self.segments), n) for n in amount_at)
        self.segments.append(elements)

    def placeholder(self) -> int:
        """A segment written once what follows it is known; its index."""
        self.segments.append([])
        return len(self.segments) - 1

    def fill(self, at: int, elements: list[str], *amount_at: int) -> None:
        self.segments[at] = elements
        self.amounts.extend((at, n) for n in amount_at)

    def cas(self, groups: Cas) -> int:
        total = 0
        for group, triples in groups:
            elements = ["CAS", group]
            for reason, cents in triples:
                elements += [reason, self.draw(written(cents)), ""]
                total += cents
            self.add(elements[:-1], *range(3, len(elements), 3))
        return total

    def claim(self, n: int, claim: Claim) -> int:
        """Loop 2100 with its 2110 service lines; returns CLP04."""
        claim_cas, lines, extra_charge, status = claim
        clp_at = self.placeholder()
        claim_adjustments = self.cas(claim_cas)
        self.add(["NM1", "QC", "1", "DOE", "JANE", "", "", "", "MI", f"M{n}"])
        charges = 0
        for line_n, (charge, line_cas) in enumerate(lines, start=1):
            svc_at = self.placeholder()
            adjusted = self.cas(line_cas)
            paid = charge - adjusted
            written_charge, written_paid = self.draw(written(charge)), self.draw(written(paid))
            self.fill(svc_at, ["SVC", f"HC:9921{line_n}", written_charge, written_paid], 2, 3)
            charges += charge
            claim_adjustments += adjusted
        charge = charges if lines else extra_charge
        claim_paid = charge - claim_adjustments
        written_charge, written_paid = self.draw(written(charge)), self.draw(written(claim_paid))
        self.fill(clp_at, ["CLP", f"PCN{n}", status, written_charge, written_paid, "", "12", f"I{n}"], 3, 4)
        return claim_paid


@st.composite
def eras(draw: st.DrawFn) -> Era:
    claims = draw(CLAIMS)
    plb = draw(PLB)
    era = _Writer(draw)
    header = era.placeholder()  # the BPR, written once the claims are paid
    era.segments += [["TRN", "1", "EFT1", "1512345678"], ["N1", "PR", "PLAN", "XV", "P1"]]
    era.segments += [["N1", "PE", "HOSPITAL", "XX", "1234567893"], ["LX", "1"]]
    paid_total = sum(era.claim(n, claim) for n, claim in enumerate(claims, start=1))
    if plb:
        elements = ["PLB", "1234567893", "20241231"]
        for reason, cents in plb:
            elements += [reason, draw(written(cents))]
        era.add(elements, *range(4, len(elements), 2))
    bpr = paid_total - sum(cents for _, cents in plb)
    era.fill(header, ["BPR", "I", draw(written(bpr)), "C", "ACH", *[""] * 11, "20240105"], 2)
    return Era(era.segments, era.amounts, len(claims), len(plb))


@FAST
@given(eras())
def test_balanced_835s_balance_and_post(era: Era) -> None:
    outcome = X12.to_events(era.render(), CTX)
    assert outcome.problems == ()
    remittance = outcome.items[0]
    assert isinstance(remittance, RemittanceReceived)
    claims = [e for e in outcome.items if isinstance(e, ClaimAdjudicated)]
    plbs = [e for e in outcome.items if isinstance(e, ProviderAdjustment)]
    assert (len(claims), len(plbs), remittance.claim_count) == (era.claims, era.plb_pairs, era.claims)
    paid = sum((c.paid.amount for c in claims), Decimal(0))
    assert paid - sum((p.amount.amount for p in plbs), Decimal(0)) == remittance.amount.amount
    for claim in claims:
        adjusted = sum((a.amount.amount for a in claim.adjustments), Decimal(0))
        assert claim.charge.amount - adjusted == claim.paid.amount
        for line in claim.lines:
            line_adjusted = sum((a.amount.amount for a in line.adjustments), Decimal(0))
            assert line.charge.amount - line_adjusted == line.paid.amount


@FAST
@given(eras(), st.data())
def test_changing_any_one_amount_withholds_every_posting_event(era: Era, data: st.DataObject) -> None:
    segment, element = data.draw(st.sampled_from(era.amounts))
    delta = data.draw(st.integers(min_value=-100_000, max_value=100_000).filter(bool))
    value = Decimal(era.segments[segment][element]) + Decimal(delta).scaleb(-2)
    era.segments[segment][element] = f"{value:.2f}"
    outcome = X12.to_events(era.render(), CTX)
    assert ProblemCode.UNBALANCED_REMITTANCE in [p.code for p in outcome.problems]
    assert outcome.items == ()
    assert not outcome.ok
