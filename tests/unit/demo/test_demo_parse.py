"""Everything the generator sends reads cleanly with revbridge's own parsers, balances, and adds
up to the ground truth it records."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from demo_traffic import Parsed

from revbridge.canonical.events import (
    ChargeCaptured,
    ChargeReversed,
    ClaimAdjudicated,
    ClaimSubmitted,
    PatientPaymentReceived,
    ProviderAdjustment,
    RefundIssued,
    RemittanceReceived,
)
from revbridge.core.problem import Severity
from revbridge.demo import Kind, Status, Traffic, check
from revbridge.masterdata import Configuration

ZERO = Decimal(0)


def test_the_profile_matches_the_reference_configuration(reference: Configuration) -> None:
    assert check(reference.master) == []


def test_the_profile_check_names_what_a_configuration_does_not_map(reference: Configuration) -> None:
    master = reference.master
    radiology = next(d for d in master.departments if d.code == "RAD")
    broken = replace(
        master,
        payers=tuple(p for p in master.payers if p.code != "AETNA"),
        departments=(*master.departments, replace(radiology, code="RAD9")),
        facilities=tuple(
            replace(f, identifiers=replace(f.identifiers, portal=())) for f in master.facilities
        ),
    )
    # Four portal codes are also their facility's MSH-4, so only Bayside's and General's go missing.
    assert sorted(check(broken)) == [
        "facility MHS-BAY: identifier 'BAY' maps to None",
        "facility MHS-GEN: identifier 'GEN' maps to None",
        "payer AETNA: alias '60054' maps to None",  # its IN1-3 ...
        "payer AETNA: alias '60054' maps to None",  # ... and its TRN03
        "payer AETNA: alias 'Organization/2' maps to None",
        "the deliberately unmapped department 'RAD9' is mapped",
    ]


def test_the_profile_check_names_an_837_billing_provider_the_configuration_does_not_map(
    reference: Configuration,
) -> None:
    """The 837s name each facility's own NPI (NM1*85): unmapped, reconciliation would list their
    rows as ``<npi> (unmapped)`` instead of the facility."""
    master = reference.master
    general = next(f for f in master.facilities if f.code == "MHS-GEN")
    without_npi = replace(general, identifiers=replace(general.identifiers, npi=()))
    broken = replace(
        master, facilities=tuple(without_npi if f.code == "MHS-GEN" else f for f in master.facilities)
    )
    assert check(broken) == ["facility MHS-GEN: identifier '1295837461' maps to None"]


def test_every_message_parses_without_a_problem(parsed: list[Parsed]) -> None:
    """No errors and no warnings either: the deliberate faults are master-data faults, which only
    posting can see, and duplicates are whole messages sent twice."""
    found = [(p.message.kind, str(problem)) for p in parsed for problem in p.problems]
    assert found == []
    assert all(p.events for p in parsed), [p.message.kind for p in parsed if not p.events]
    assert all(p.ignored_by is None for p in parsed)


def test_every_835_balances_by_its_own_segments(traffic: Traffic) -> None:
    """Independently of our reader: BPR02 = sum(CLP04) - sum(PLB), and charge - CAS = paid per
    claim and per service line, straight from the segments."""
    checked = 0
    for message in traffic.messages:
        if message.kind is not Kind.REMITTANCE_835:
            continue
        segments = [s.strip().split("*") for s in message.payload.decode().split("~") if s.strip()]
        for start in [i for i, s in enumerate(segments) if s[0] == "ST"]:
            end = next(i for i in range(start, len(segments)) if segments[i][0] == "SE")
            body = segments[start:end]
            bpr02 = Decimal(body[1][2])
            paid = ZERO
            plb = ZERO
            claim: list[Decimal] | None = None  # charge, paid, cas of the open claim
            line: list[Decimal] | None = None
            for seg in [*body, ["CLP", "", "", "0", "0"]]:
                if seg[0] in ("CLP", "SVC") and line is not None:
                    assert line[0] - line[2] == line[1], seg
                    line = None
                if seg[0] == "CLP":
                    if claim is not None:
                        assert claim[0] - claim[2] == claim[1]
                        checked += 1
                    claim = [Decimal(seg[3]), Decimal(seg[4]), ZERO]
                    paid += claim[1]
                elif seg[0] == "SVC":
                    line = [Decimal(seg[2]), Decimal(seg[3]), ZERO]
                elif seg[0] == "CAS":
                    total = sum((Decimal(a) for a in seg[3::3] if a), ZERO)
                    assert claim is not None
                    claim[2] += total
                    if line is not None:
                        line[2] += total
                elif seg[0] == "PLB":
                    plb += sum((Decimal(a) for a in seg[4::2]), ZERO)
            assert bpr02 == paid - plb
    assert checked > 100


def test_interchange_and_trace_numbers_are_unique(traffic: Traffic) -> None:
    interchanges: set[tuple[str, str]] = set()
    traces: set[tuple[str, str]] = set()
    for message in traffic.messages:
        if message.channel.value != "file" or message.expect.status is Status.DUPLICATE:
            continue
        text = message.payload.decode()
        isa = text.split("~")[0].split("*")
        key = (isa[6].strip(), isa[13])
        assert key not in interchanges
        interchanges.add(key)
        for seg in text.split("~"):
            parts = seg.strip().split("*")
            if parts[0] == "TRN":
                assert (parts[3], parts[2]) not in traces
                traces.add((parts[3], parts[2]))
    assert len(traces) > 20


def test_charges_remittances_and_patient_money_add_up_to_the_truth(
    parsed: list[Parsed], traffic: Traffic, reference: Configuration
) -> None:
    """The parsed events, summed per facility, are the truth's totals: the truth says what was sent."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)

    def facility(sent: str) -> str:
        code = reference.facility_code(sent)
        assert code is not None, sent
        return code

    for p in parsed:
        if p.message.expect.status is Status.DUPLICATE:
            continue
        for event in p.events:
            match event:
                case ChargeCaptured():
                    sums[(facility(event.facility), "charges")] += event.amount.amount
                case ChargeReversed():
                    sums[(facility(event.facility), "credits")] += event.amount.amount
                case ClaimSubmitted():  # billing NPIs the configuration does not list: claims post nothing
                    sums[("", "billed")] += event.total.amount
                case RemittanceReceived() if event.carries_cash:
                    sums[(facility(event.facility), "remitted")] += event.amount.amount
                case ClaimAdjudicated():
                    sums[(facility(event.facility), "claims_paid")] += event.paid.amount
                case ProviderAdjustment() if event.reason == "L6":
                    sums[(facility(event.facility), "interest")] -= event.amount.amount
                case ProviderAdjustment():
                    sums[(facility(event.facility), "recouped")] += event.amount.amount
                case PatientPaymentReceived():
                    sums[(facility(event.facility), "patient_payments")] += event.amount.amount
                case RefundIssued():
                    sums[(facility(event.facility), "refunds")] += event.amount.amount
                case _:
                    continue
    truth = traffic.by_facility()
    for code, totals in truth.items():
        for name in ("charges", "credits", "remitted", "interest", "recouped", "patient_payments", "refunds"):
            assert sums[(code, name)] == getattr(totals, name), (code, name)
    # Claims in remittances of denials alone (no cash, nothing posts) are paid nothing either.
    paid = sum((t.claims_paid for t in truth.values()), ZERO)
    assert sum((v for (_, name), v in sums.items() if name == "claims_paid"), ZERO) == paid
    assert sums[("", "billed")] == sum((t.billed for t in truth.values()), ZERO)


def test_the_charge_totals_hold_back_exactly_what_the_faults_do(traffic: Traffic) -> None:
    held = sum((t.held_back for t in traffic.by_facility().values()), ZERO)
    assert held == sum((f.held_back for f in traffic.faults), ZERO)
    assert held > 0


def test_remittances_and_claims_are_business_as_usual(parsed: list[Parsed]) -> None:
    statuses = {e.status for p in parsed for e in p.events if isinstance(e, ClaimAdjudicated)}
    assert statuses == {"1", "22"}  # paid and denied claims, and reversals before their corrections
    claims = [e for p in parsed for e in p.events if isinstance(e, ClaimAdjudicated)]
    reasons = {f"{a.group}-{a.reason}" for claim in claims for a in claim.adjustments}
    assert {"CO-45", "PR-1", "PR-2", "PR-3"} <= reasons
    assert reasons & {"CO-50", "CO-197", "CO-16"}
    payments = [e for p in parsed for e in p.events if isinstance(e, RemittanceReceived)]
    assert any(not e.carries_cash for e in payments)  # a payer's denials alone: BPR01 H, nothing paid
    assert all(e.amount.amount > 0 for e in payments if e.carries_cash)
    plb = {e.reason for p in parsed for e in p.events if isinstance(e, ProviderAdjustment)}
    assert plb == {"L6", "WO"}
    frequencies = {e.frequency for p in parsed for e in p.events if isinstance(e, ClaimSubmitted)}
    assert frequencies == {"1", "7"}
    severities = {problem.severity for p in parsed for problem in p.problems}
    assert Severity.ERROR not in severities
