"""The three 835 balancing equations (TR3 005010X221A1 section 1.10.2.1), as located problems.

A positive CAS or PLB amount reduces the payment and a negative one increases it; reversals
(CLP02 = 22) carry negative amounts and balance by the same equations. AMT (allowed amounts) and
TS3/TS2 totals are informational and take no part (X12 RFI 2601). Each check returns the problem
to record, or None when the amounts balance; ``details`` carries the amounts for whoever works it.
"""

from __future__ import annotations

from decimal import Decimal

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.formats.x12.remittance_parts import ClaimDraft, LineDraft


def service_line(line: LineDraft, message_id: str) -> Problem | None:
    """SVC02 - sum(CAS) = SVC03."""
    if line.charge is None or line.paid is None:
        return None
    charge, paid = line.charge.amount, line.paid.amount
    difference = charge - line.cas_total - paid
    if not difference:
        return None
    return Problem(
        code=ProblemCode.UNBALANCED_SERVICE_LINE,
        message="SVC02 - sum(CAS) does not equal SVC03",
        where=SourceRef(message_id, f"{line.where}/SVC[1]-3"),
        details=(
            ("SVC02", str(charge)),
            ("sum_CAS", str(line.cas_total)),
            ("SVC03", str(paid)),
            ("difference", str(difference)),
        ),
    )


def claim(draft: ClaimDraft, key: str, message_id: str) -> Problem | None:
    """CLP03 - sum(claim-level and line-level CAS) = CLP04."""
    if draft.charge is None or draft.paid is None:
        return None
    charge, paid = draft.charge.amount, draft.paid.amount
    difference = charge - draft.cas_total - paid
    if not difference:
        return None
    return Problem(
        code=ProblemCode.UNBALANCED_CLAIM,
        message="CLP03 - sum(CAS) does not equal CLP04",
        where=SourceRef(message_id, f"{draft.where}/CLP[1]-4"),
        event_key=key,
        details=(
            ("CLP03", str(charge)),
            ("sum_CAS", str(draft.cas_total)),
            ("CLP04", str(paid)),
            ("difference", str(difference)),
        ),
    )


def transaction(
    *,
    bpr02: Decimal,
    paid: Decimal,
    plb: Decimal,
    unbalanced_claims: int,
    unbalanced_lines: int,
    where: SourceRef,
    key: str,
) -> Problem | None:
    """BPR02 = sum(CLP04) - sum(PLB), and no claim or line out of balance."""
    expected = paid - plb
    if expected == bpr02 and not unbalanced_claims and not unbalanced_lines:
        return None
    return Problem(
        code=ProblemCode.UNBALANCED_REMITTANCE,
        message="the 835 does not balance; nothing from this transaction set is posted",
        where=where,
        event_key=key,
        details=(
            ("BPR02", str(bpr02)),
            ("sum_CLP04", str(paid)),
            ("sum_PLB", str(plb)),
            ("sum_CLP04_minus_PLB", str(expected)),
            ("difference", str(bpr02 - expected)),
            ("unbalanced_claims", str(unbalanced_claims)),
            ("unbalanced_service_lines", str(unbalanced_lines)),
        ),
    )
