"""HL7 v2.5.1 messages of a visit: ADT^A01/A04 registration, A08 update, A03 discharge, DFT^P03.

Every ADT carries the whole picture (PID, PV1, IN1s), as a PAS sends it, because revbridge keeps
the latest registration of an encounter as its context: an A03 without IN1 would leave the
encounter's late charges without a payer. Fields are placed by number (``_segment``) so the
rendering reads like the standard's field tables. Values never contain a delimiter, so nothing
needs escaping.
"""

from __future__ import annotations

from datetime import date, datetime

from revbridge.demo.encounter import Charge, ChargeBatch, Visit
from revbridge.demo.system import SECONDARY

SENDING_APPLICATION = "PAS"
RECEIVING = "REVBRIDGE|MERCY"


def _segment(name: str, fields: dict[int, str]) -> str:
    last = max(fields) if fields else 0
    return "|".join([name, *(fields.get(n, "") for n in range(1, last + 1))])


def _ts(at: datetime) -> str:
    return at.strftime("%Y%m%d%H%M%S")


def _d(day: date) -> str:
    return day.strftime("%Y%m%d")


def _msh(visit: Visit, at: datetime, kind: str, control_id: str) -> str:
    sender = f"{SENDING_APPLICATION}|{visit.facility.msh4}"
    return f"MSH|^~\\&|{sender}|{RECEIVING}|{_ts(at)}||{kind}|{control_id}|P|2.5.1"


def _pid(visit: Visit) -> str:
    p = visit.patient
    return _segment(
        "PID",
        {
            1: "1",
            3: f"{p.mrn}^^^{visit.facility.short}^MR",
            5: f"{p.family}^{p.given}^^^^^L",
            7: _d(p.birth_date),
            8: p.sex,
            11: f"{p.street}^^FAKETOWN^NY^{p.zip_code}^USA",
            13: p.phone,
            18: visit.number,
        },
    )


def _pv1(visit: Visit, *, discharged: bool) -> str:
    line = visit.timeline
    fields = {
        1: "1",
        2: line.patient_class,
        3: f"{visit.location}^^^{visit.facility.msh4}",
        4: {"E": "E", "I": "R"}.get(line.patient_class, "EL"),
        7: "900001^DOCTOR^DEMO^^^DR",
        10: line.service,
        18: line.patient_class,
        19: visit.number,
        44: _ts(line.registered_at),
    }
    if discharged:
        fields[36] = "01"  # discharged to home
        fields[45] = _ts(line.discharged_at)
    return _segment("PV1", fields)


def _in1s(visit: Visit) -> list[str]:
    line = visit.timeline
    if not line.payer_in1:
        return []
    payer = line.payer
    name = (
        payer.name
        if payer is not None
        else ("SELF PAY" if line.payer_in1 == visit.facility.self_pay_in1 else "NEW PLAN")
    )
    found = [
        _segment(
            "IN1",
            {
                1: "1",
                2: f"{line.payer_in1}^{name}",
                3: line.payer_in1,
                4: name,
                17: "01",
                36: visit.patient.member_id,
            },
        )
    ]
    if visit.secondary:
        supplement = f"AARP{visit.patient.member_id}"
        found.append(
            _segment(
                "IN1",
                {1: "2", 2: f"{SECONDARY}^AARP MEDICARE SUPPLEMENT", 3: SECONDARY, 17: "01", 36: supplement},
            )
        )
    return found


def registration(visit: Visit) -> tuple[str, bytes]:
    """A01 for an inpatient admission, A04 for an emergency or outpatient registration."""
    trigger = "A01" if visit.timeline.patient_class == "I" else "A04"
    return trigger, _adt(visit, trigger, visit.timeline.registered_at, "A1", discharged=False)


def update(visit: Visit, at: datetime) -> bytes:
    return _adt(visit, "A08", at, "A8", discharged=False)


def discharge(visit: Visit) -> bytes:
    return _adt(visit, "A03", visit.timeline.discharged_at, "A3", discharged=True)


def _adt(visit: Visit, trigger: str, at: datetime, suffix: str, *, discharged: bool) -> bytes:
    segments = [
        _msh(visit, at, f"ADT^{trigger}^ADT_A01", f"{visit.number}{suffix}"),
        f"EVN|{trigger}|{_ts(at)}",
        _pid(visit),
        _pv1(visit, discharged=discharged),
        *_in1s(visit),
    ]
    return ("\r".join(segments) + "\r").encode("ascii")


def _ft1(n: int, charge: Charge, posted: datetime) -> str:
    sign = "-" if charge.credit else ""
    procedure = charge.procedure
    unit = charge.amount / charge.units
    return _segment(
        "FT1",
        {
            1: str(n),
            2: charge.transaction_id,
            4: _d(charge.service_on),
            5: _ts(posted),
            6: "CD" if charge.credit else "CG",
            7: f"{procedure.cdm}^{procedure.description}",
            10: f"{sign}{charge.units}",
            11: f"{sign}{charge.amount}",
            13: charge.department,
            22: f"{unit:.2f}",
            25: f"{procedure.code}^^C4" if procedure.code else "",
        },
    )


def charges(visit: Visit, batch: ChargeBatch) -> bytes:
    segments = [
        _msh(visit, batch.at, "DFT^P03^DFT_P03", batch.control_id),
        f"EVN|P03|{_ts(batch.at)}",
        _pid(visit),
        _pv1(visit, discharged=batch.at >= visit.timeline.discharged_at),
        *(_ft1(n, c, batch.at) for n, c in enumerate(batch.lines, start=1)),
    ]
    return ("\r".join(segments) + "\r").encode("ascii")
