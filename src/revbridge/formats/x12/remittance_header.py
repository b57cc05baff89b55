"""The 835 header: BPR, TRN, CUR, DTM*405 and the 1000A payer / 1000B payee loops.

The remittance reader (remittance.py) builds on this: the header fixes the keys every event of the
transaction set shares (payer id from TRN03, else N1*PR N104; TRN02 trace; N1*PE N104 as the
facility; BPR16 payment date), and ``_ready()`` checks it once, when the first LX, CLP or PLB (or
the SE) shows it is over. A missing or unreadable BPR16 is a WARNING, not a reason to hold up the
cash: the DTM*405 production date, else the received date, is used instead.
"""

from __future__ import annotations

from revbridge.core.problem import ProblemCode
from revbridge.formats.base import ParseContext
from revbridge.formats.x12.envelope import TransactionHeader
from revbridge.formats.x12.reading import WARNING, Reading, element
from revbridge.formats.x12.remittance_parts import RemittanceHeader
from revbridge.formats.x12.values import ccyymmdd

# Where the reader is, in the order the loops come.
HEADER, PAYER, PAYEE, DETAIL, CLAIM, LINE, SUMMARY = range(7)


class RemittanceHeaderReader(Reading):
    def __init__(self, header: TransactionHeader, ctx: ParseContext) -> None:
        super().__init__(header, ctx)
        self.head = RemittanceHeader(received_on=ctx.received_on)
        self.state = HEADER
        self.ready = False  # the header has been checked and the keys are fixed
        self.sums_known = True  # False once an amount that counts could not be read

    def _bpr(self, el: list[str]) -> None:
        n = self.count("BPR")
        if self.state != HEADER or n > 1:
            self.problem(
                ProblemCode.MALFORMED_SEGMENT, "BPR out of place (one, in the header)", self.at("BPR", n)
            )
            return
        head = self.head
        head.seen_bpr = True
        head.handling = element(el, 1)
        head.amount = self.amount(el, 2, n)
        head.method = element(el, 4)
        head.bpr16 = element(el, 16)
        head.paid_on = ccyymmdd(head.bpr16)  # when unusable, _ready() says so and falls back

    def _trn(self, el: list[str]) -> None:
        if self.count("TRN") == 1 and self.state == HEADER:
            self.head.trace = element(el, 2)
            self.head.originator = element(el, 3)

    def _cur(self, el: list[str]) -> None:
        n = self.count("CUR")
        currency = element(el, 2)
        if currency and currency != self.currency:
            message = f"CUR02 names a currency other than {self.currency}, the one this source is read in"
            self.problem(ProblemCode.UNSUPPORTED_CURRENCY, message, self.at("CUR", n, 2))

    def _n1(self, el: list[str]) -> None:
        if self.state > PAYEE:
            return
        match element(el, 1):
            case "PR":
                self.state = PAYER
                self.enter(f"{self.header.where}/1000A[1]")
                self.count("N1")
                self.head.payer_name = element(el, 2)
                self.head.payer_n1 = element(el, 4)
            case "PE":
                self.state = PAYEE
                self.enter(f"{self.header.where}/1000B[1]")
                self.count("N1")
                self.head.payee = element(el, 4)

    def _ready(self) -> None:
        """The header is over (first LX, CLP or PLB, or SE): check it and fix the keys."""
        if self.ready:
            return
        self.ready = True
        head, st = self.head, self.header.where
        head.settle()
        if not head.seen_bpr:
            self.problem(ProblemCode.MISSING_FIELD, "the 835 has no BPR", f"{st}/BPR[1]")
        elif head.amount is None:
            self.sums_known = False
        elif head.paid_on is None:
            # A typo in the date should not hold up the cash: post on the closest date we have.
            fallback = "the DTM*405 production date" if head.produced_on else "the date it was received"
            problem, why = (
                (ProblemCode.INVALID_DATE, "is not a CCYYMMDD date")
                if head.bpr16
                else (ProblemCode.MISSING_FIELD, "is missing")
            )
            self.problem(
                problem, f"BPR16 payment date {why}; {fallback} is used instead", f"{st}/BPR[1]-16", WARNING
            )
        if not head.trace:
            self.problem(ProblemCode.MISSING_FIELD, "TRN02 trace number is missing", f"{st}/TRN[1]-2")
        if not head.payer_id:
            self.problem(
                ProblemCode.MISSING_FIELD, "no payer id: TRN03 and N1*PR N104 are empty", f"{st}/TRN[1]-3"
            )
        if not head.payee:
            message = "no payee id: N1*PE N104 is empty or missing"
            self.problem(ProblemCode.MISSING_FIELD, message, f"{st}/1000B[1]/N1[1]-4")
