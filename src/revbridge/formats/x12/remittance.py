"""The 835 reader (005010X221A1 and 004010X091A1): one transaction set in, events or problems out.

It follows the loops as segments arrive (header, 1000A payer, 1000B payee, 2000 LX/TS3/TS2,
2100 CLP, 2110 SVC, summary PLB) and keeps only the claim it is reading: each finished claim is
balanced (balance.py) and becomes its ``ClaimAdjudicated`` at once, so memory grows with the
events, not with the segments. Any imbalance or other ERROR problem and the transaction set yields
no events at all, only problems: ``UNBALANCED_REMITTANCE`` with the amounts, plus a located
``UNBALANCED_CLAIM`` / ``UNBALANCED_SERVICE_LINE`` for each culprit.

Patient names in NM1 are never read; NM1*QC and NM1*IL identifiers become tokens the moment they
are read. REF, MIA, MOA, LQ, PER, N3 and N4 carry nothing the canonical events hold and are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from revbridge.canonical.events import CanonicalEvent, CasAdjustment, ProviderAdjustment, RemittanceReceived
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode
from revbridge.formats.base import ParseContext
from revbridge.formats.x12 import balance
from revbridge.formats.x12.envelope import Handler, TransactionHeader
from revbridge.formats.x12.reading import WARNING, element, intern, patient_kind
from revbridge.formats.x12.remittance_header import (
    CLAIM,
    DETAIL,
    HEADER,
    LINE,
    SUMMARY,
    RemittanceHeaderReader,
)
from revbridge.formats.x12.remittance_parts import ClaimDraft, LineDraft

VERSIONS = ("005010X221", "004010X091")
_CAS_GROUPS = {group: group for group in ("CO", "PR", "OA", "PI", "CR")}  # CR: 004010 only, read as sent
_ZERO = Decimal(0)


class RemittanceReader(RemittanceHeaderReader):
    def __init__(self, header: TransactionHeader, ctx: ParseContext) -> None:
        super().__init__(header, ctx)
        self.lx_n = self.claim_n = self.plb_n = 0
        self.claim: ClaimDraft | None = None
        self.line: LineDraft | None = None
        self.events: list[CanonicalEvent] = []
        self.sum_paid = self.sum_plb = _ZERO
        self.unbalanced_claims = self.unbalanced_lines = 0
        self.occurrences: dict[str, int] = {}
        self.handlers: Mapping[str, Handler] = {
            "BPR": self._bpr,
            "TRN": self._trn,
            "CUR": self._cur,
            "DTM": self._dtm,
            "N1": self._n1,
            "LX": self._lx,
            "TS3": self._ts3,
            "TS2": self._ts2,
            "CLP": self._clp,
            "CAS": self._cas,
            "NM1": self._nm1,
            "SVC": self._svc,
            "AMT": self._amt,
            "QTY": self._qty,
            "PLB": self._plb,
        }

    def add(self, problem: Problem | None) -> bool:
        if problem is None:
            return False
        self.problems.append(problem)
        self.blocked = True
        return True

    def _dtm(self, el: list[str]) -> None:
        seen = self.seen
        seen["DTM"] = n = seen.get("DTM", 0) + 1
        found = self.date(el, 2, n)
        qualifier = el[1] if len(el) > 1 else ""
        line = self.line
        if line is not None and qualifier in ("472", "150"):
            if line.service_date is None or qualifier == "472":
                line.service_date = found
        elif self.state == HEADER and qualifier == "405":
            self.head.produced_on = found

    # ---- claims -------------------------------------------------------------------------------

    def _lx(self, el: list[str]) -> None:
        if self._after_summary("LX"):
            return
        self._close_claim()
        self._ready()
        self.state = DETAIL
        self.lx_n += 1
        self.enter(f"{self.header.where}/2000[{self.lx_n}]")
        self.count("LX")

    def _ts3(self, el: list[str]) -> None:
        if self.state == DETAIL:
            n = self.count("TS3")
            self.date(el, 3, n)  # fiscal period end
            self.amount(el, 5, n, required=False, severity=WARNING)  # total claim charge

    def _ts2(self, el: list[str]) -> None:
        if self.state == DETAIL:
            n = self.count("TS2")
            for m in range(1, len(el)):
                self.quantity(el, m, n)

    def _clp(self, el: list[str]) -> None:
        if self.state == SUMMARY:
            self._after_summary("CLP")
            return
        if self.claim is not None:
            self._close_claim()
        if not self.ready:
            self._ready()
        self.state = CLAIM
        self.claim_n += 1
        path = f"{self.header.where}/2100[{self.claim_n}]"
        self.path, self.seen = path, {"CLP": 1}
        size = len(el)
        clp01 = el[1] if size > 1 else ""
        status = el[2] if size > 2 else ""
        if not clp01:
            self.problem(ProblemCode.MISSING_FIELD, "CLP01 claim id is empty", f"{path}/CLP[1]-1")
        if not status:
            self.problem(ProblemCode.MISSING_FIELD, "CLP02 claim status is empty", f"{path}/CLP[1]-2")
        charge, paid = self.amount(el, 3, 1), self.amount(el, 4, 1)
        if charge is None or paid is None:
            self.sums_known = False
        responsibility = self.amount(el, 5, 1, required=False) if size > 5 and el[5] else self.zero_money
        self.claim = ClaimDraft(
            path,
            clp01,
            intern(status),
            el[7] if size > 7 else "",
            charge,
            paid,
            self.zero_money if responsibility is None else responsibility,
        )

    def _nm1(self, el: list[str]) -> None:
        claim = self.claim
        if claim is None or self.state != CLAIM or len(el) < 10:
            return
        entity, identifier = el[1], el[9]  # NM103-NM107 (names) are never read
        if not identifier or entity not in ("QC", "IL"):
            return
        token = self.tokenizer(patient_kind(el[8]), identifier)
        if entity == "QC":
            claim.patient = token
        elif claim.insured is None:
            claim.insured = token

    def _cas(self, el: list[str]) -> None:
        seen = self.seen
        seen["CAS"] = n = seen.get("CAS", 0) + 1
        claim, line, state = self.claim, self.line, self.state
        if claim is None or state not in (CLAIM, LINE):
            self.problem(
                ProblemCode.MALFORMED_SEGMENT, "CAS outside a claim or service line", self.at("CAS", n)
            )
            return
        group = el[1] if len(el) > 1 else ""
        if group not in _CAS_GROUPS:
            self.problem(
                ProblemCode.INVALID_VALUE, "CAS01 is not a claim adjustment group code", self.at("CAS", n, 1)
            )
            return
        group = _CAS_GROUPS[group]
        on_line = line if state == LINE else None
        path, amounts = self.path, self.amounts
        total = _ZERO
        size = len(el)
        for m in range(2, min(size, 20), 3):
            reason = el[m]
            if not reason and (m + 1 >= size or not el[m + 1]):
                continue
            if not reason:
                self.problem(
                    ProblemCode.MISSING_FIELD, f"CAS{m:02d} reason code is empty", self.at("CAS", n, m)
                )
            amount = amounts.get(el[m + 1]) if m + 1 < size else None
            if amount is None:
                amount = self.amount(el, m + 1, n)
                if amount is None:
                    self.sums_known = False
                    continue
            total += amount.amount
            quantity = self.quantity(el, m + 2, n) if m + 2 < size and el[m + 2] else None
            if self.blocked:
                continue
            adjustment = CasAdjustment(
                group=group,
                reason=intern(reason),
                amount=amount,
                quantity=quantity,
                locator=f"{path}/CAS[{n}]-{m + 1}",
            )
            claim.adjustments.append(adjustment)
            if on_line is not None:
                on_line.adjustments.append(adjustment)
        claim.cas_total += total
        if on_line is not None:
            on_line.cas_total += total

    def _svc(self, el: list[str]) -> None:
        claim = self.claim
        if claim is None or self.state < CLAIM or self.state > LINE:
            n = self.count("SVC")
            self.problem(ProblemCode.MALFORMED_SEGMENT, "SVC outside a claim", self.at("SVC", n))
            return
        if self.line is not None:
            self._close_line()
        self.state = LINE
        claim.lines_n += 1
        path = f"{claim.where}/2110[{claim.lines_n}]"
        self.path, self.seen = path, {"SVC": 1}
        procedure_code = self.procedure(el, 1, 1)
        amounts = self.amounts
        charge = amounts.get(el[2]) if len(el) > 3 else None
        paid = amounts.get(el[3]) if charge is not None else None
        if charge is None or paid is None:
            charge, paid = self.amount(el, 2, 1), self.amount(el, 3, 1)
            if charge is None or paid is None:
                self.sums_known = False
        revenue_code = intern(el[4]) if len(el) > 4 and el[4] else ""
        units = self.quantity(el, 5, 1) if len(el) > 5 else None
        self.line = LineDraft(path, procedure_code, charge, paid, revenue_code, units)

    def _amt(self, el: list[str]) -> None:
        seen = self.seen
        seen["AMT"] = n = seen.get("AMT", 0) + 1
        if (len(el) < 3 or el[2] not in self.amounts) and self.state in (CLAIM, LINE):
            self.amount(el, 2, n, severity=WARNING)

    def _qty(self, el: list[str]) -> None:
        if self.state in (CLAIM, LINE):
            self.quantity(el, 2, self.count("QTY"))

    def _after_summary(self, sid: str) -> bool:
        """True (with a problem) when ``sid`` arrives after the summary PLB has begun."""
        if self.state != SUMMARY:
            return False
        self.problem(ProblemCode.MALFORMED_SEGMENT, f"{sid} after PLB", self.at(sid, self.count(sid)))
        return True

    def _close_line(self) -> None:
        line, claim = self.line, self.claim
        if line is None or claim is None:
            return
        self.line = None
        charge, paid = line.charge, line.paid
        if charge is None or paid is None or not self.sums_known:
            return
        if charge.amount - line.cas_total != paid.amount:
            self.add(balance.service_line(line, self.message_id))
            self.unbalanced_lines += 1
        if not self.blocked:
            claim.lines.append(line.to_payment())

    def _close_claim(self) -> None:
        if self.line is not None:
            self._close_line()
        claim = self.claim
        if claim is None:
            return
        self.claim = None
        charge, paid = claim.charge, claim.paid
        if charge is None or paid is None:
            return
        self.sum_paid += paid.amount
        key_base = f"{self.head.key}:{claim.clp01}:{claim.payer_claim_id}:{claim.status}"
        occurrences = self.occurrences
        occurrences[key_base] = occurrence = occurrences.get(key_base, 0) + 1
        key = f"{key_base}:{occurrence}"
        if not self.sums_known:
            return
        if charge.amount - claim.cas_total != paid.amount:
            self.add(balance.claim(claim, key, self.message_id))
            self.unbalanced_claims += 1
        if not self.blocked:
            self.events.append(
                claim.to_event(self.head, SourceRef(self.message_id, claim.where), key, occurrence)
            )

    # ---- summary ------------------------------------------------------------------------------

    def _plb(self, el: list[str]) -> None:
        self._close_claim()
        self._ready()
        if self.state != SUMMARY:
            self.state = SUMMARY
            self.enter(self.header.where)
        self.plb_n = n = self.count("PLB")
        if not element(el, 1):
            self.problem(
                ProblemCode.MISSING_FIELD, "PLB01 provider identifier is empty", self.at("PLB", n, 1), WARNING
            )
        self.date(el, 2, n)
        head, comp = self.head, self.delimiters.component
        for pair, m in enumerate(range(3, min(len(el), 15), 2), start=1):
            if not el[m] and not element(el, m + 1):
                continue
            reason, _, reference = el[m].partition(comp)
            if not reason:
                self.problem(
                    ProblemCode.MISSING_FIELD, f"PLB{m:02d} adjustment reason is empty", self.at("PLB", n, m)
                )
            amount = self.amount(el, m + 1, n)
            if amount is None:
                self.sums_known = False
                continue
            self.sum_plb += amount.amount
            if not self.blocked:
                adjustment = ProviderAdjustment(
                    key=f"{head.key}:PLB:{n}:{pair}",
                    source=self.ref(self.at("PLB", n, m + 1)),
                    occurred_on=head.occurred_on,
                    facility=head.payee,
                    remittance_id=head.remittance_id,
                    payer_id=head.payer_id,
                    reason=intern(reason),
                    reference=reference.partition(comp)[0],
                    amount=amount,
                )
                self.events.append(adjustment)

    def finish(self, complete: bool) -> Outcome[CanonicalEvent]:
        self._close_claim()
        self._ready()
        head, where = self.head, self.ref(f"{self.header.where}/BPR[1]")
        if head.amount is not None and self.sums_known:
            self.add(
                balance.transaction(
                    bpr02=head.amount.amount,
                    paid=self.sum_paid,
                    plb=self.sum_plb,
                    unbalanced_claims=self.unbalanced_claims,
                    unbalanced_lines=self.unbalanced_lines,
                    where=where.at("2", sep="-"),
                    key=head.key,
                )
            )
        if head.payer_id and head.trace:
            self.attribute(0, head.key)
        if not complete or self.blocked or head.amount is None:
            return Outcome((), tuple(self.problems))
        remittance = RemittanceReceived(
            key=head.key,
            source=where,
            occurred_on=head.occurred_on,
            facility=head.payee,
            remittance_id=head.remittance_id,
            payer_id=head.payer_id,
            payer_name=head.payer_name,
            trace=head.trace,
            handling=head.handling,
            method=head.method,
            amount=head.amount,
            carries_cash=head.handling != "H",
            claim_count=self.claim_n,
        )
        return Outcome((remittance, *self.events), tuple(self.problems))


def read_remittance(header: TransactionHeader, ctx: ParseContext) -> RemittanceReader | None:
    """A reader for an 835 in a version revbridge reads, else None (unsupported)."""
    if header.code == "835" and header.version.startswith(VERSIONS):
        return RemittanceReader(header, ctx)
    return None
