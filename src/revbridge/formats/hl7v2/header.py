"""What every HL7 v2 translation needs from MSH (and EVN): who sent it, what it is, when.

Problems found here are located in the message (``MSH[1]-4``) and carry no values except the
short structural codes of MSH-9.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2.message import Message
from revbridge.formats.hl7v2.values import read_date

# The rule that names why an ADT or BAR message posts and registers nothing (A31 demographics,
# A02 transfers, merges, ...): DESIGN.md section 1, terminal state ``ignored``.
NON_FINANCIAL_TRIGGER = "hl7v2.non_financial_trigger"


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    message_type: str  # MSH-9.1, upper case
    trigger: str  # MSH-9.2 (EVN-1 for v2.1-style messages that leave it out), upper case
    facility: str  # MSH-4.1 as sent
    control_id: str  # MSH-10
    version: str  # MSH-12.1


def read_header(message: Message) -> Header:
    msh = message.header
    trigger = msh.get(9, 2).strip().upper()
    if not trigger:
        evn = message.first("EVN")
        trigger = evn.get(1).strip().upper() if evn is not None else ""
    return Header(
        message_type=msh.get(9, 1).strip().upper(),
        trigger=trigger,
        facility=msh.get(4, 1).strip(),
        control_id=msh.get(10).strip(),
        version=msh.get(12, 1).strip(),
    )


def problem(
    ctx: ParseContext,
    code: ProblemCode,
    text: str,
    locator: str,
    *,
    severity: Severity = Severity.ERROR,
    event_key: str | None = None,
    details: tuple[tuple[str, str], ...] = (),
) -> Problem:
    return Problem(
        code=code,
        message=text,
        where=SourceRef(ctx.message_id, locator),
        severity=severity,
        event_key=event_key,
        details=details,
    )


def require_sender(header: Header, ctx: ParseContext) -> list[Problem]:
    """Facility and control id make every event key; without them nothing can be keyed."""
    found: list[Problem] = []
    if not header.facility:
        found.append(problem(ctx, ProblemCode.MISSING_FIELD, "no sending facility (MSH-4)", "MSH[1]-4"))
    if not header.control_id:
        found.append(problem(ctx, ProblemCode.MISSING_FIELD, "no message control id (MSH-10)", "MSH[1]-10"))
    return found


def message_date(message: Message, ctx: ParseContext) -> date | Problem:
    """MSH-7, the fallback business date; the day the message was received when MSH-7 is empty."""
    text = message.header.get(7, 1)
    if not text.strip():
        return ctx.received_on
    found = read_date(text)
    if isinstance(found, str):
        return problem(ctx, ProblemCode.INVALID_DATE, f"MSH-7 is {found}", "MSH[1]-7")
    return found


def event_date(message: Message, ctx: ParseContext) -> date | Problem:
    """When an ADT event happened: EVN-6 (event occurred), else EVN-2 (recorded), else MSH-7."""
    evn = message.first("EVN")
    if evn is not None:
        for field in (6, 2):
            text = evn.get(field, 1)
            if text.strip():
                found = read_date(text)
                if isinstance(found, str):
                    return problem(
                        ctx, ProblemCode.INVALID_DATE, f"EVN-{field} is {found}", evn.locator(field)
                    )
                return found
    return message_date(message, ctx)
