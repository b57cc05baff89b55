"""Building small X12 files for tests: segments written with '*' and ':' and wrapped in envelopes
whose counts and control numbers are right, unless a test asks for them wrong."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome, ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import Limits, ParseContext
from revbridge.formats.x12 import X12

V835 = "005010X221A1"
V837P = "005010X222A1"
V837I = "005010X223A2"


def context(message_id: str = "msg-1", limits: Limits | None = None) -> ParseContext:
    return ParseContext(
        message_id=message_id,
        tokenizer=fixed_tokenizer(),
        received_on=date(2024, 3, 1),
        limits=limits or Limits(),
    )


def transaction(
    body: Sequence[str], *, code: str = "835", control: str = "0001", se01: int | None = None
) -> list[str]:
    segments = [f"ST*{code}*{control}", *body]
    return [*segments, f"SE*{se01 if se01 is not None else len(segments) + 1}*{control}"]


def group(
    transactions: Sequence[Sequence[str]], *, version: str = V835, control: str = "1", ge01: int | None = None
) -> list[str]:
    functional = "HP" if version.startswith(("005010X221", "004010X091")) else "HC"
    head = f"GS*{functional}*SENDER*RECEIVER*20240105*1200*{control}*X*{version}"
    body = [segment for tx in transactions for segment in tx]
    return [head, *body, f"GE*{ge01 if ge01 is not None else len(transactions)}*{control}"]


def isa(sender: str = "SENDER", control: str = "000000001", *, version: str = "00501", rep: str = "^") -> str:
    return (
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*RECEIVER       *240105*1200*{rep}*{version}"
        f"*{control}*0*P*:"
    )


def interchange(
    groups: Sequence[Sequence[str]],
    *,
    sender: str = "SENDER",
    control: str = "000000001",
    iea: str | None = None,
    separator: str = "~\n",
) -> str:
    segments = [isa(sender, control), *[s for g in groups for s in g]]
    segments.append(iea if iea is not None else f"IEA*{len(groups)}*{control}")
    return separator.join(segments) + separator


def x12(
    *bodies: Sequence[str],
    code: str = "835",
    version: str = V835,
    sender: str = "SENDER",
    separator: str = "~\n",
) -> bytes:
    """One interchange, one group, one transaction set per body."""
    transactions = [
        transaction(body, code=code, control=f"{n:04d}") for n, body in enumerate(bodies, start=1)
    ]
    return interchange([group(transactions, version=version)], sender=sender, separator=separator).encode()


def era(
    *detail: str,
    bpr02: str = "100.00",
    handling: str = "I",
    bpr16: str = "20240105",
    trace: str = "TRACE1",
    originator: str = "1512345678",
    payer_n1: str = "PAYER01",
    payee: str = "1234567893",
) -> list[str]:
    """An 835 body: the header loops, then ``detail`` (LX, CLP loops, PLB) as given."""
    return [
        f"BPR*{handling}*{bpr02}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{bpr16}",
        f"TRN*1*{trace}*{originator}",
        "DTM*405*20240104",
        f"N1*PR*BENCH HEALTH PLAN*XV*{payer_n1}",
        "N3*1 MAIN STREET",
        "N4*ANYTOWN*PA*17111",
        f"N1*PE*GENERAL HOSPITAL*XX*{payee}",
        *detail,
    ]


def parse(data: bytes, ctx: ParseContext | None = None) -> Outcome[CanonicalEvent]:
    return X12.to_events(data, ctx or context())


def codes(
    outcome: Outcome[CanonicalEvent], severity: Severity | None = None
) -> list[tuple[ProblemCode, str]]:
    return [(p.code, p.locator) for p in outcome.problems if severity is None or p.severity is severity]
