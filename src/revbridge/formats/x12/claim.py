"""The 837 reader (005010X222A1/A2 professional, 005010X223A2/A3 institutional, and their 004010
predecessors X098/X096): one ``ClaimSubmitted`` per CLM.

The HL hierarchy gives each claim its context: the billing provider (2010AA NM1*85, the facility
as sent), the subscriber's payer (2010BB NM1*PR) and member id (2010BA NM1*IL, tokenised at once).
Other payers' loops after the CLM (2320/2330) are skipped; names, addresses and birth dates
(NM103-07, N3, N4, DMG) are never read, and diagnoses (HI) stay out of the events. A claim whose
CLM02 differs from the sum of its SV1/SV2 charges is a ``TOTAL_MISMATCH`` and yields no event;
the other claims of the transaction set are independent and still do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from revbridge.canonical.events import CanonicalEvent, ClaimLine, ClaimSubmitted
from revbridge.core.ids import PatientToken
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, ProblemCode
from revbridge.formats.base import ParseContext
from revbridge.formats.x12.envelope import Handler, TransactionHeader
from revbridge.formats.x12.reading import WARNING, Reading, element, intern, patient_kind
from revbridge.formats.x12.values import period_start

CLAIM_TYPES = {
    "005010X222": "professional",
    "004010X098": "professional",
    "005010X223": "institutional",
    "004010X096": "institutional",
}
_BILLING, _SUBSCRIBER, _PATIENT = "20", "22", "23"
_HL_LOOPS = {_BILLING: "2000A", _SUBSCRIBER: "2000B", _PATIENT: "2000C"}


class _Claim:
    __slots__ = (
        "charges",
        "charges_known",
        "claim_id",
        "first_problem",
        "frequency",
        "lines",
        "total",
        "where",
    )

    def __init__(
        self, where: str, claim_id: str, total: Money | None, frequency: str, first_problem: int
    ) -> None:
        self.where = where
        self.first_problem = first_problem  # problems from here on are about this claim
        self.claim_id = claim_id
        self.total = total
        self.frequency = frequency
        self.lines: list[ClaimLine] = []
        self.charges = Decimal(0)
        self.charges_known = True  # False once a line's charge could not be read


class _Line:
    __slots__ = (
        "charge",
        "number",
        "procedure",
        "revenue_code",
        "service_date",
        "serviced",
        "units",
        "where",
    )

    def __init__(self, where: str, number: int) -> None:
        self.where = where
        self.number = number
        self.procedure = ""
        self.revenue_code = ""
        self.charge: Money | None = None
        self.units = Decimal(1)
        self.service_date: date | None = None
        self.serviced = False  # its SV1/SV2 has been read


class ClaimReader(Reading):
    def __init__(self, header: TransactionHeader, ctx: ParseContext, claim_type: str) -> None:
        super().__init__(header, ctx)
        self.claim_type = claim_type
        self.created_on = ctx.received_on
        self.level = ""  # HL03 of the current hierarchical level
        self.levels: dict[str, int] = {}  # HL loops seen so far, for locators
        self.billing = ""  # 2010AA NM109
        self.payer = ""  # 2010BB NM109
        self.member: PatientToken | None = None  # 2010BA NM109
        self.patient: PatientToken | None = None  # 2010CA NM109 (004010 only)
        self.claim: _Claim | None = None
        self.line: _Line | None = None
        self.claim_n = 0
        self.events: list[CanonicalEvent] = []
        self.handlers: Mapping[str, Handler] = {
            "BHT": self._bht,
            "HL": self._hl,
            "NM1": self._nm1,
            "CLM": self._clm,
            "LX": self._lx,
            "SV1": self._sv1,
            "SV2": self._sv2,
            "DTP": self._dtp,
        }

    def _bht(self, el: list[str]) -> None:
        found = self.date(el, 4, self.count("BHT"))
        if found is not None:
            self.created_on = found

    def _hl(self, el: list[str]) -> None:
        self._close_claim()
        self.level = element(el, 3)
        loop = _HL_LOOPS.get(self.level, "2000")
        self.levels[loop] = self.levels.get(loop, 0) + 1
        self.enter(f"{self.header.where}/{loop}[{self.levels[loop]}]")
        match self.level:
            case "20":
                self.billing, self.payer, self.member, self.patient = "", "", None, None
            case "22":
                self.payer, self.member, self.patient = "", None, None
            case "23":
                self.patient = None

    def _nm1(self, el: list[str]) -> None:
        if self.claim is not None:
            return  # 2310x providers and 2330x other payers and subscribers: not read
        entity = element(el, 1)
        if entity == "85" and self.level == _BILLING:
            self.billing = element(el, 9)
        elif entity == "PR" and self.level == _SUBSCRIBER:
            self.payer = element(el, 9)
        elif entity in ("IL", "QC") and self.level in (_SUBSCRIBER, _PATIENT):
            identifier = element(el, 9)  # NM103-NM107 (names) are never read
            if identifier:
                token = self.tokenizer(patient_kind(element(el, 8)), identifier)
                if entity == "IL":
                    self.member = token
                else:
                    self.patient = token

    def _clm(self, el: list[str]) -> None:
        self._close_claim()
        self.blocked = False  # claims are independent: a problem blocks only its own claim
        self.claim_n += 1
        path = f"{self.header.where}/2300[{self.claim_n}]"
        self.enter(path)
        first_problem = len(self.problems)
        n = self.count("CLM")
        claim_id = element(el, 1)
        if not claim_id:
            self.problem(ProblemCode.MISSING_FIELD, "CLM01 claim id is empty", self.at("CLM", n, 1))
        total = self.amount(el, 2, n)
        parts = element(el, 5).split(self.delimiters.component)
        frequency = parts[2] if len(parts) > 2 and parts[2] else "1"
        self.claim = _Claim(path, claim_id, total, intern(frequency), first_problem)
        if not self.payer:
            self.problem(ProblemCode.MISSING_FIELD, "no 2010BB payer (NM1*PR NM109) for this claim", path)
        if not self.billing:
            self.problem(ProblemCode.MISSING_FIELD, "no 2010AA billing provider (NM1*85 NM109)", path)

    def _lx(self, el: list[str]) -> None:
        claim = self.claim
        if claim is None:
            return
        self._close_line()
        where = f"{claim.where}/2400[{len(claim.lines) + 1}]"
        self.enter(where)
        number = element(el, 1)
        if not number.isdigit():
            message = "LX01 is not a line number; the line's position is used"
            self.problem(ProblemCode.INVALID_VALUE, message, f"{where}/LX[{self.count('LX')}]-1", WARNING)
        self.line = _Line(where, int(number) if number.isdigit() else len(claim.lines) + 1)

    def _sv1(self, el: list[str]) -> None:
        self._service(el, procedure_at=1, revenue_at=0, charge_at=2, units_at=4)

    def _sv2(self, el: list[str]) -> None:
        self._service(el, procedure_at=2, revenue_at=1, charge_at=3, units_at=5)

    def _service(
        self, el: list[str], *, procedure_at: int, revenue_at: int, charge_at: int, units_at: int
    ) -> None:
        line, sid = self.line, el[0]
        n = self.count(sid)
        if line is None or line.serviced:
            self.problem(ProblemCode.MALFORMED_SEGMENT, f"{sid} without its own LX", self.at(sid, n))
            return
        line.serviced = True
        line.procedure = self.procedure(el, procedure_at, n) if element(el, procedure_at) else ""
        line.revenue_code = intern(element(el, revenue_at)) if revenue_at else ""
        line.charge = self.amount(el, charge_at, n)
        units = self.quantity(el, units_at, n)
        if units is not None:
            line.units = units

    def _dtp(self, el: list[str]) -> None:
        line = self.line
        if line is None or element(el, 1) != "472":
            return
        n = self.count("DTP")
        line.service_date = period_start(element(el, 2), element(el, 3))
        if line.service_date is None:
            message = "DTP03 is not a D8 date or RD8 range"
            self.problem(ProblemCode.INVALID_DATE, message, self.at("DTP", n, 3), WARNING)

    def _close_line(self) -> None:
        line, claim = self.line, self.claim
        self.line = None
        if line is None or claim is None:
            return
        if not line.serviced:
            self.problem(ProblemCode.MISSING_FIELD, "service line has no SV1 or SV2", line.where)
            return
        if line.charge is None:
            claim.charges_known = False  # reported where the charge was read
            return
        claim.charges += line.charge.amount
        claim.lines.append(
            ClaimLine(
                line_number=line.number,
                procedure=line.procedure,
                revenue_code=line.revenue_code,
                charge=line.charge,
                units=line.units,
                service_date=line.service_date,
            )
        )

    def _close_claim(self) -> None:
        self._close_line()
        claim = self.claim
        if claim is None:
            return
        self.claim = None
        key = f"x12:837:{self.header.sender}:{claim.claim_id}:{claim.frequency}"
        if claim.claim_id:
            self.attribute(claim.first_problem, key)
        if claim.total is None:
            return
        if claim.charges_known and claim.total.amount != claim.charges:
            self.problem(
                ProblemCode.TOTAL_MISMATCH,
                "CLM02 does not equal the sum of the service line charges",
                f"{claim.where}/CLM[1]-2",
                event_key=key,
                details=(
                    ("CLM02", str(claim.total.amount)),
                    ("sum_lines", str(claim.charges)),
                    ("difference", str(claim.total.amount - claim.charges)),
                ),
            )
        if self.blocked:
            return
        self.events.append(
            ClaimSubmitted(
                key=key,
                source=self.ref(claim.where),
                occurred_on=self.created_on,
                facility=self.billing,
                claim_id=claim.claim_id,
                payer_id=self.payer,
                patient=self.patient or self.member,
                claim_type=self.claim_type,
                frequency=claim.frequency,
                total=claim.total,
                lines=tuple(claim.lines),
            )
        )

    def finish(self, complete: bool) -> Outcome[CanonicalEvent]:
        self._close_claim()
        return Outcome(tuple(self.events) if complete else (), tuple(self.problems))


def read_claims(header: TransactionHeader, ctx: ParseContext) -> ClaimReader | None:
    """A reader for an 837P or 837I in a version revbridge reads, else None (unsupported)."""
    if header.code != "837":
        return None
    claim_type = CLAIM_TYPES.get(header.version[:10])
    return None if claim_type is None else ClaimReader(header, ctx, claim_type)
