"""X12 5010 files: a facility's nightly 837P or 837I batch and a payer's daily 835.

One interchange per file, one functional group; an 837 carries all the facility's claims of the
night in one transaction set (subscriber loops under one billing provider), an 835 one
transaction set per payee facility, each its own payment with its own TRN02. Delimiters are the
common ``* : ^ ~``; a newline after every terminator keeps the files readable (readers skip it).
The 835 balances by construction (billing.py): BPR02 = sum(CLP04) - sum(PLB), and per claim and
per service line charge - adjustments = paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from revbridge.demo.billing import Adjudication, Claim, LinePayment, Remittance
from revbridge.demo.encounter import Charge
from revbridge.demo.system import RECEIVER, Facility, Payer

P837 = "005010X222A1"
I837 = "005010X223A2"
R835 = "005010X221A1"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def sender_id(facility: Facility) -> str:
    """ISA06 of a facility's claim files."""
    return f"MERCY{facility.short}"


def control_number(day: date, sequence: int) -> str:
    """ISA13: unique per sender across the run (day number, then a sequence within the day)."""
    return f"{day.toordinal() % 100000:05d}{sequence:04d}"


class _Set:
    """The segments of one transaction set, counted for SE01."""

    def __init__(self, code: str, version: str, control: str) -> None:
        self.control = control
        self.segments = [f"ST*{code}*{control}*{version}"]

    def add(self, *elements: str) -> None:
        self.segments.append("*".join(elements).rstrip("*"))

    def close(self) -> list[str]:
        return [*self.segments, f"SE*{len(self.segments) + 1}*{self.control}"]


def _interchange(
    sender: str, functional: str, version: str, at: datetime, control: str, sets: list[list[str]]
) -> bytes:
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{RECEIVER:<15}*{at:%y%m%d}*{at:%H%M}*^*00501*"
        f"{control}*0*P*:"
    )
    group = str(int(control))
    segments = [isa, f"GS*{functional}*{sender}*{RECEIVER}*{at:%Y%m%d}*{at:%H%M}*{group}*X*{version}"]
    for transaction in sets:
        segments += transaction
    segments += [f"GE*{len(sets)}*{group}", f"IEA*1*{control}"]
    return ("~\n".join(segments) + "~\n").encode("ascii")


# ---- 837 -------------------------------------------------------------------------------------


def claims_file(
    facility: Facility, claims: Sequence[Claim], *, institutional: bool, at: datetime, control: str
) -> bytes:
    version = I837 if institutional else P837
    st = _Set("837", version, "0001")
    st.add(
        "BHT",
        "0019",
        "00",
        f"{facility.short}{at:%y%m%d}{'I' if institutional else 'P'}",
        f"{at:%Y%m%d}",
        f"{at:%H%M}",
        "CH",
    )
    st.add("NM1", "41", "2", f"{facility.name} BILLING", "", "", "", "", "46", sender_id(facility))
    st.add("PER", "IC", "BILLING OFFICE", "TE", "5550100000")
    st.add("NM1", "40", "2", "MERCY HEALTH REVBRIDGE", "", "", "", "", "46", RECEIVER)
    st.add("HL", "1", "", "20", "1")
    st.add("NM1", "85", "2", facility.name, "", "", "", "", "XX", facility.npi)
    st.add("N3", "1 DEMO PLAZA")
    st.add("N4", "FAKETOWN", "NY", "00000")
    st.add("REF", "EI", facility.tax_id)
    for n, claim in enumerate(claims, start=2):
        _claim(st, n, claim, institutional)
    return _interchange(sender_id(facility), "HC", version, at, control, [st.close()])


def _claim(st: _Set, n: int, claim: Claim, institutional: bool) -> None:
    visit, payer = claim.visit, claim.payer
    patient, line = visit.patient, visit.timeline
    st.add("HL", str(n), "1", "22", "0")
    st.add("SBR", "P", "18", "", "", "", "", "", "", payer.filing)
    st.add("NM1", "IL", "1", patient.family, patient.given, "", "", "", "MI", patient.member_id)
    st.add("N3", patient.street)
    st.add("N4", "FAKETOWN", "NY", patient.zip_code)
    st.add("DMG", "D8", _d8(patient.birth_date), patient.sex)
    st.add("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.era_id)
    place = ("11:A" if line.patient_class == "I" else "13:A") if institutional else "22:B"
    st.add(
        "CLM", claim.claim_id, _money(claim.total), "", "", f"{place}:{claim.frequency}", "Y", "A", "Y", "Y"
    )
    if institutional:
        st.add("DTP", "434", "RD8", f"{_d8(line.registered_at.date())}-{_d8(line.discharged_at.date())}")
        if line.patient_class == "I":
            st.add("CL1", "3", "1", "01")
    if claim.frequency == "7":
        st.add("REF", "F8", f"{payer.isa_id[:3]}{claim.claim_id}1")
    st.add("HI", "ABK:R69")
    for number, charge in enumerate(claim.lines, start=1):
        st.add("LX", str(number))
        st.add(*_service(charge, institutional))
        st.add("DTP", "472", "D8", _d8(charge.service_on))


def _service(charge: Charge, institutional: bool) -> tuple[str, ...]:
    code, units = charge.procedure.code, str(charge.units)
    if not institutional:
        return ("SV1", f"HC:{code}", _money(charge.amount), "UN", units, "", "", "1")
    if not code:
        return ("SV2", charge.procedure.revenue_code, "", _money(charge.amount), "DA", units)
    return ("SV2", charge.procedure.revenue_code, f"HC:{code}", _money(charge.amount), "UN", units)


# ---- 835 -------------------------------------------------------------------------------------


def remittance_file(payer: Payer, remittances: Sequence[Remittance], *, at: datetime, control: str) -> bytes:
    sets = [_remittance(n, r, at) for n, r in enumerate(remittances, start=1)]
    return _interchange(payer.isa_id, "HP", R835, at, control, sets)


def _remittance(n: int, r: Remittance, at: datetime) -> list[str]:
    st = _Set("835", R835, f"{n:04d}")
    payer, facility = r.payer, r.facility
    if r.carries_cash:
        company = f"1{payer.isa_id[:9]:0<9}"  # BPR10: the payer's originating company id
        st.add("BPR", "I", _money(r.amount), "C", "ACH", "CCP", "01", "011000015", "DA", "0001234567",
               company, "", "01", "021000021", "DA", "0009876543", _d8(r.paid_on))  # fmt: skip
    else:
        st.add("BPR", "H", "0.00", "C", "NON", "", "", "", "", "", "", "", "", "", "", "", _d8(r.paid_on))
    st.add("TRN", "1", r.trace, payer.era_id)
    st.add("DTM", "405", f"{at:%Y%m%d}")
    st.add("N1", "PR", payer.name, "XV", payer.era_id)
    st.add("N1", "PE", facility.name, facility.payee_qualifier, facility.payee_id)
    st.add("LX", "1")
    for claim in r.claims:
        _clp(st, claim)
    if r.provider_adjustments:
        pairs = [
            part for p in r.provider_adjustments for part in (f"{p.reason}:{p.reference}", _money(p.amount))
        ]
        st.add("PLB", facility.payee_id, f"{r.paid_on.year}1231", *pairs)
    return st.close()


def _clp(st: _Set, adjudication: Adjudication) -> None:
    claim = adjudication.claim
    visit = claim.visit
    line = visit.timeline
    facility_code = "11" if line.patient_class == "I" else "13"
    st.add(
        "CLP",
        claim.claim_id,
        adjudication.status,
        _money(adjudication.charge),
        _money(adjudication.paid),
        _money(adjudication.patient_share),
        claim.payer.filing,
        adjudication.payer_claim_id,
        facility_code,
        claim.frequency,
    )
    st.add(
        "NM1", "QC", "1", visit.patient.family, visit.patient.given, "", "", "", "MI", visit.patient.member_id
    )
    st.add("DTM", "232", _d8(line.registered_at.date()))
    st.add("DTM", "233", _d8(line.discharged_at.date()))
    for payment in adjudication.lines:
        _svc(st, payment)


def _svc(st: _Set, payment: LinePayment) -> None:
    charge = payment.charge
    procedure = charge.procedure
    units = str(charge.units)
    if procedure.code:
        st.add(
            "SVC",
            f"HC:{procedure.code}",
            _money(payment.amount),
            _money(payment.paid),
            procedure.revenue_code,
            units,
        )
    else:
        st.add("SVC", f"NU:{procedure.revenue_code}", _money(payment.amount), _money(payment.paid), "", units)
    st.add("DTM", "472", _d8(charge.service_on))
    for group in ("CO", "PR"):
        triples = [a for a in payment.adjustments if a.group == group]
        if triples:
            st.add("CAS", group, *(part for a in triples for part in (a.reason, _money(a.amount), "")))
    allowed = payment.amount - sum((a.amount for a in payment.adjustments if a.group == "CO"), Decimal(0))
    st.add("AMT", "B6", _money(allowed))
