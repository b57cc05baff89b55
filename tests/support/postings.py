"""Generated documents over the reference configuration, for the property tests of posting.

Events are generated over the reference configuration's mapped values, so every generated event
posts; remittances are generated balanced (paid = charge - adjustments, BPR02 = paid - PLB),
with reversals, negative adjustments, informational CARCs and PLBs of every sign. ``changed``
gives a second configuration version that books some things differently.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import strategies as st

from revbridge.canonical.events import (
    AdjustmentPosted,
    CanonicalEvent,
    CasAdjustment,
    ChargeCaptured,
    ChargeReversed,
    ClaimAdjudicated,
    PatientPaymentReceived,
    ProviderAdjustment,
    RefundIssued,
    RemittanceReceived,
)
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.ledger import AccountRole, JournalDraft, Lane
from revbridge.masterdata import AccountMapping, Configuration, EventKind, load
from revbridge.rules import ChargeFacts, EncounterFacts, StaticContext

CONFIG_DIR = Path(__file__).resolve().parents[2] / "examples" / "config"
_loaded, _errors = load(CONFIG_DIR)
assert _loaded is not None, _errors
CONFIG: Configuration = _loaded

FACILITIES = ["NCA", "6543210903", "346608640", "1", "999994703", "444313000"]
DEPARTMENTS = ["ED", "RAD", "LAB", "PHARM", "SURG", "ICU", "MED", "OB", "BEH", "DENT"]
PAYERS = ["1512345678", "636", "608", "600", "1", "60054", "1346000128", "NYSIF", "705", ""]
REMIT_PAYERS = [p for p in PAYERS if p]
CAS = [
    ("CO", "45"),
    ("CO", "42"),
    ("CO", "50"),
    ("PR", "1"),
    ("PR", "2"),
    ("PR", "3"),
    ("OA", "23"),
    ("OA", "94"),
    ("PI", "104"),
]
PLB = ["L6", "WO", "FB", "72", "J1", "CV", "CS", "50"]
DAY = date(2024, 3, 1)

cents = st.integers(min_value=1, max_value=5_000_000).map(lambda c: Money(Decimal(c).scaleb(-2), "USD"))
signed_cents = st.integers(min_value=-500_000, max_value=500_000).map(
    lambda c: Money(Decimal(c).scaleb(-2), "USD")
)
days = st.integers(min_value=0, max_value=40).map(lambda d: DAY + timedelta(days=d))


def _ref(n: int) -> SourceRef:
    return SourceRef("msg", f"item[{n}]")


@st.composite
def charge_documents(draw: st.DrawFn) -> tuple[list[CanonicalEvent], StaticContext]:
    facility = draw(st.sampled_from(FACILITIES))
    code = CONFIG.facility_code(facility)
    assert code is not None
    encounters = {}
    charges_known = {}
    events: list[CanonicalEvent] = []
    for n in range(draw(st.integers(min_value=1, max_value=6))):
        encounter = f"V{draw(st.integers(min_value=1, max_value=3))}"
        encounters[(code, encounter)] = EncounterFacts(primary_payer_id=draw(st.sampled_from(PAYERS)))
        kind = draw(st.sampled_from(["charge", "reversal", "adjustment", "adjustment_payer"]))
        amount, day, dept = draw(cents), draw(days), draw(st.sampled_from(DEPARTMENTS))
        common = {
            "key": f"k{n}",
            "source": _ref(n),
            "occurred_on": day,
            "facility": facility,
            "amount": amount,
        }
        if kind == "charge":
            events.append(ChargeCaptured(**common, charge_id=f"T{n}", encounter=encounter, department=dept))
        elif kind == "reversal":
            payer_class = CONFIG.payer_class_of(draw(st.sampled_from(PAYERS)), _ref(n))
            assert isinstance(payer_class, str)
            charges_known[(code, f"O{n}")] = ChargeFacts(department=dept, payer_class=payer_class)
            events.append(
                ChargeReversed(
                    **common,
                    charge_id=f"R{n}",
                    original_charge_id=f"O{n}",
                    encounter=encounter,
                    department="",
                )
            )
        else:
            events.append(
                AdjustmentPosted(
                    **common | {"amount": draw(signed_cents)},
                    adjustment_id=f"A{n}",
                    encounter=encounter,
                    code=draw(st.sampled_from(["CHARITY", "BADDEBT", "SMALLBAL", "ADMINWO"])),
                    against="payer" if kind == "adjustment_payer" else "patient",
                    department=draw(st.sampled_from(["", dept])),
                )
            )
    return events, StaticContext(encounters, charges_known)


@st.composite
def remittance_documents(draw: st.DrawFn) -> list[CanonicalEvent]:
    facility, payer = draw(st.sampled_from(FACILITIES)), draw(st.sampled_from(REMIT_PAYERS))
    rid, day = f"{payer}:TR", draw(days)
    common = {
        "source": _ref(0),
        "occurred_on": day,
        "facility": facility,
        "remittance_id": rid,
        "payer_id": payer,
    }
    claims: list[CanonicalEvent] = []
    for n in range(draw(st.integers(min_value=0, max_value=6))):
        adjustments = tuple(
            CasAdjustment(group=g, reason=r, amount=draw(signed_cents))
            for g, r in draw(st.lists(st.sampled_from(CAS), max_size=4))
        )
        charge = draw(cents)
        paid = charge
        for adj in adjustments:
            paid = paid - adj.amount
        sign = -1 if draw(st.booleans()) and n else 1  # a reversal negates every amount
        claims.append(
            ClaimAdjudicated(
                **common | {"source": _ref(n + 1)},
                key=f"c{n}",
                claim_id=f"C{n}",
                status="22" if sign < 0 else "1",
                charge=charge * sign,
                paid=paid * sign,
                patient_responsibility=Money.zero(),
                adjustments=tuple(replace(a, amount=a.amount * sign) for a in adjustments),
            )
        )
    plbs = [
        ProviderAdjustment(
            **common, key=f"p{n}", reason=draw(st.sampled_from(PLB)), amount=draw(signed_cents)
        )
        for n in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    cash = Money.zero()
    for c in claims:
        assert isinstance(c, ClaimAdjudicated)
        cash = cash + c.paid
    for p in plbs:
        cash = cash - p.amount
    header = RemittanceReceived(**common, key="r", amount=cash)
    return [header, *claims, *plbs]


@st.composite
def cash_documents(draw: st.DrawFn) -> list[CanonicalEvent]:
    facility, amount, day = draw(st.sampled_from(FACILITIES)), draw(cents), draw(days)
    common = {"key": "cash", "source": _ref(0), "occurred_on": day, "facility": facility, "amount": amount}
    match draw(st.sampled_from(["payment", "patient_refund", "payer_refund"])):
        case "payment":
            return [PatientPaymentReceived(**common, payment_id="P")]
        case "patient_refund":
            return [RefundIssued(**common, refund_id="RF")]
        case _:
            return [
                RefundIssued(
                    **common, refund_id="RF", recipient="payer", payer_id=draw(st.sampled_from(REMIT_PAYERS))
                )
            ]


documents = st.one_of(
    charge_documents(),
    remittance_documents().map(lambda events: (events, StaticContext({}, {}))),
    cash_documents().map(lambda events: (events, StaticContext({}, {}))),
)


def assert_balanced(drafts: tuple[JournalDraft, ...]) -> None:
    for draft in drafts:
        totals: dict[tuple[str, str], Decimal] = {}
        for line in draft.lines:
            assert line.amount.amount > 0
            assert line.dimensions.legal_entity == draft.legal_entity
            assert len(line.event_keys) == 1  # drafts from apply: one event per line, for the subledger
            key = (line.dimensions.legal_entity, line.amount.currency)
            totals[key] = totals.get(key, Decimal(0)) + line.net.amount
        assert set(totals.values()) <= {Decimal(0)}, totals


def changed(config: Configuration, change: int) -> Configuration:
    """A second configuration version that books some things differently."""
    mappings = list(config.master.account_mappings)
    match change:
        case 0:  # contractual allowances move to another account
            mappings = [
                replace(m, account="4560") if m.role is AccountRole.CONTRACTUAL_ALLOWANCE else m
                for m in mappings
            ]
        case 1:  # Medicaid receivables get their own account per legal entity
            mappings.append(
                AccountMapping(
                    role=AccountRole.AR_PAYER, legal_entity="MHS", payer_class="MEDICAID", account="1215"
                )
            )
        case 2:  # charges move to the realtime lane
            rules = tuple(
                replace(r, lane=Lane.REALTIME) if r.kind is EventKind.CHARGE else r
                for r in config.rulebook.rules
            )
            return replace(config, rulebook=replace(config.rulebook, rules=rules))
        case _:  # nothing changes
            return config
    return replace(config, master=replace(config.master, account_mappings=tuple(mappings)))
