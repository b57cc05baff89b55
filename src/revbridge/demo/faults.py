"""The deliberate faults of each generated day, each one recorded with where it should surface.

- a re-sent DFT: the same bytes again a few minutes later (a sender that missed our ACK), which
  intake must recognise as a duplicate of the first (MSH-4 + MSH-10 and the content hash);
- a duplicate 835 file: the same interchange again within the hour, a duplicate by ISA06 + ISA13;
- an unmapped department: one charge line with FT1-13 ``RAD9``, an UNMAPPED_DEPARTMENT work item
  while the other lines of its DFT post;
- an unknown payer: a registration whose IN1-3 no payer lists, so every charge of that visit is
  an UNMAPPED_PAYER work item (and none of it reaches the ledger until somebody maps the payer);
- an ERP outage window: minutes during which the ERP refuses connections. Nothing in the traffic
  changes; the demo runner makes its ERP connector fail in that window, and the journals due then
  must post after it (an ERP_UNAVAILABLE work item only if the outage outlasts the retry budget).

The choices come from the day's own random stream, so they do not depend on the window generated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from revbridge.demo.draw import Draw
from revbridge.demo.system import UNKNOWN_PAYER_ALIAS, UNMAPPED_DEPARTMENT
from revbridge.demo.truth import Expectation, Fault, FaultKind, Kind, Message, Status


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    unknown_payer: tuple[str, int] | None  # (facility code, visit number in the day)
    unmapped_department: tuple[str, int] | None  # the first visit from here that has a procedure day
    outage: tuple[datetime, datetime]
    seed: str


def plan(seed: int, day: date, counts: dict[str, int]) -> Plan:
    rng = Draw(f"revbridge-demo/{seed}/faults/{day.isoformat()}")
    open_ = [(code, n) for code, n in counts.items() if n > 0]
    unknown = unmapped = None
    if open_:
        code = rng.weighted(open_)
        unknown = (code, rng.between(0, counts[code] - 1))
        others = [(c, n) for c, n in open_ if c != code] or [(code, counts[code])]
        other = rng.weighted(others)
        unmapped = (other, rng.between(0, counts[other] - 1))
        if unmapped == unknown:
            unmapped = (other, (unknown[1] + 1) % counts[other]) if counts[other] > 1 else None
    start = datetime.combine(day, time(10)) + timedelta(minutes=rng.between(0, 300))
    outage = (start, start + timedelta(minutes=rng.between(5, 20)))
    return Plan(unknown_payer=unknown, unmapped_department=unmapped, outage=outage, seed=f"{seed}/{day}")


def outage(plan: Plan) -> Fault:
    start, end = plan.outage
    return Fault(
        kind=FaultKind.ERP_OUTAGE,
        facility="",
        surfaces="ERP connectors: journals due in the window retry with backoff and post after it "
        "(ERP_UNAVAILABLE only if the outage outlasts the retry budget)",
        start=start,
        end=end,
    )


def unknown_payer(facility: str, indexes: tuple[int, ...]) -> Fault:
    return Fault(
        kind=FaultKind.UNKNOWN_PAYER,
        facility=facility,
        messages=indexes,
        surfaces="posting: an UNMAPPED_PAYER work item per charge of the visit (IN1[1]-3)",
        code="UNMAPPED_PAYER",
        value=UNKNOWN_PAYER_ALIAS,
    )


def unmapped_department(facility: str, indexes: tuple[int, ...]) -> Fault:
    return Fault(
        kind=FaultKind.UNMAPPED_DEPARTMENT,
        facility=facility,
        messages=indexes,
        surfaces="posting: an UNMAPPED_DEPARTMENT work item at the FT1 (field 13); its other lines post",
        code="UNMAPPED_DEPARTMENT",
        value=UNMAPPED_DEPARTMENT,
    )


def resend(plan: Plan, messages: list[Message]) -> list[tuple[Fault, Message, Message]]:
    """The day's re-sent DFT and duplicate 835: each fault with the original and its copy (the
    caller adds the copy to the day and fills in where both end up)."""
    rng = Draw(f"revbridge-demo/{plan.seed}/resend")
    found = []
    for kind, fault, minutes, where in (
        (Kind.DFT_P03, FaultKind.RESENT_DFT, (2, 9), "intake: a duplicate by MSH-4 + MSH-10 and content"),
        (
            Kind.REMITTANCE_835,
            FaultKind.DUPLICATE_835,
            (40, 90),
            "intake: a duplicate by ISA06 + ISA13 and content",
        ),
    ):
        candidates = [m for m in messages if m.kind is kind and m.expect.status is Status.PROCESSED]
        if not candidates:
            continue
        original = rng.pick(candidates)
        last = datetime.combine(original.at.date(), time(23, 59, 59))  # the copy stays in its day
        again = replace(
            original,
            at=min(original.at + timedelta(minutes=rng.between(*minutes)), last),
            expect=Expectation(status=Status.DUPLICATE),
        )
        found.append((Fault(kind=fault, facility=original.facility, surfaces=where), original, again))
    return found
