"""Portal payment JSON (docs/portal-payments.md) -> PatientPaymentReceived / RefundIssued /
PaymentPlanUpdated.

Patient-engagement platforms post self-pay payments, refunds and payment plans as one item, a
JSON array of items, or a batch ``{"batch_id": ..., "items": [...]}``. Every item is read on its
own: a bad item is a problem located by a JSONPath (``$.items[2].amount``) and the good items
still map. Amounts are JSON numbers (read as Decimal) or decimal strings, never floats.

Privacy: of the ``patient`` object only ``id`` (and its ``kind``, default ``mrn``) is read, and it
is tokenised at once; every other key of an item (names, e-mail, card details a platform might
add) is never read, so it cannot reach an event, a problem or a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict

from revbridge.canonical.events import (
    CanonicalEvent,
    PatientPaymentReceived,
    PaymentPlanUpdated,
    RefundIssued,
)
from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.money import CURRENCY_EXPONENT, Money
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import ParseContext

TYPES = ("payment", "refund", "payment_plan")
PLAN_STATUS = frozenset({"active", "completed", "cancelled", "defaulted"})
RECIPIENTS = frozenset({"patient", "payer"})
TIMESTAMP = {"payment": "received_at", "refund": "issued_at", "payment_plan": "updated_at"}

_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DECIMAL = re.compile(r"-?\d{1,21}(?:\.\d{1,12})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_LIMIT = Decimal(10) ** 21
_ISO4217 = re.compile(r"[A-Z]{3}")


def currency_shown(value: object) -> str:
    """An ISO 4217-shaped code is echoed; anything else may be patient data and is not."""
    return repr(value) if isinstance(value, str) and _ISO4217.fullmatch(value) else "(not an ISO 4217 code)"


class ItemReader:
    """Typed getters over one item that record located problems instead of raising."""

    __slots__ = ("ctx", "item", "key", "path", "problems")

    def __init__(self, ctx: ParseContext, item: dict[str, Any], path: str, problems: list[Problem]) -> None:
        self.ctx, self.item, self.path, self.problems = ctx, item, path, problems
        self.key = ""  # the item's event key once id and facility are known; problems carry it

    def problem(
        self,
        code: ProblemCode,
        name: str,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
    ) -> None:
        where = f"{self.path}.{name}" if name else self.path
        self.problems.append(
            Problem(
                code=code,
                message=message,
                where=SourceRef(self.ctx.message_id, where),
                severity=severity,
                event_key=self.key or None,
            )
        )

    def text(self, name: str, pattern: re.Pattern[str], *, required: bool = False) -> str:
        raw = self.item.get(name)
        if raw is None or raw == "":
            if required:
                self.problem(ProblemCode.MISSING_FIELD, name, f"{name} is required")
            return ""
        if not isinstance(raw, str) or pattern.fullmatch(raw) is None:
            # The value is not echoed: a malformed field may hold anything, patient data included.
            self.problem(ProblemCode.INVALID_VALUE, name, f"{name} must match {pattern.pattern}")
            return ""
        return raw

    def choice(self, name: str, allowed: frozenset[str], default: str) -> str:
        raw = self.item.get(name, default)
        if not isinstance(raw, str) or raw not in allowed:
            self.problem(
                ProblemCode.INVALID_VALUE, name, f"{name} must be one of {', '.join(sorted(allowed))}"
            )
            return ""
        return raw

    def amount(self, name: str, currency: str, *, positive: bool) -> Money | None:
        raw = self.item.get(name)
        if raw is None or raw == "":
            self.problem(ProblemCode.MISSING_AMOUNT, name, f"{name} is required")
            return None
        value: Decimal | None = None
        if isinstance(raw, str) and _DECIMAL.fullmatch(raw.strip()):
            value = Decimal(raw.strip())
        elif isinstance(raw, int | Decimal) and not isinstance(raw, bool):
            try:
                value = Decimal(raw)
            except InvalidOperation:
                value = None
        if value is None or not value.is_finite() or abs(value) >= _LIMIT:
            self.problem(ProblemCode.INVALID_AMOUNT, name, f"{name} must be a decimal number or string")
            return None
        if value < 0 or (positive and value == 0):
            self.problem(
                ProblemCode.INVALID_AMOUNT,
                name,
                f"{name} must be {'above' if positive else 'at least'} zero",
            )
            return None
        money = Money(value, currency)
        if not money.is_exact():
            money = money.rounded()
            self.problem(
                ProblemCode.INEXACT_AMOUNT,
                name,
                f"{value} {currency} has more decimals than {currency} allows; "
                f"rounded half-even to {money.amount}",
                severity=Severity.WARNING,
            )
        return money

    def currency(self) -> str:
        raw = self.item.get("currency", self.ctx.default_currency)
        if not isinstance(raw, str) or raw not in CURRENCY_EXPONENT:
            self.problem(
                ProblemCode.UNSUPPORTED_CURRENCY,
                "currency",
                f"currency {currency_shown(raw)} is not supported",
            )
            return ""
        return raw

    def business_date(self, timestamp: str) -> date:
        for name in ("date", timestamp):
            raw = self.item.get(name)
            if raw is None:
                continue
            if (
                isinstance(raw, str)
                and _DATE.fullmatch(raw[:10])
                and (len(raw) == 10 or _TIME.fullmatch(raw[10:]) is not None)
            ):
                try:
                    return date.fromisoformat(raw[:10])
                except ValueError:
                    pass
            self.problem(ProblemCode.INVALID_DATE, name, f"{name} must be an ISO 8601 date or date-time")
            return self.ctx.received_on
        return self.ctx.received_on

    def patient(self) -> PatientToken | None:
        raw = self.item.get("patient")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problem(ProblemCode.INVALID_VALUE, "patient", 'patient must be an object {"id": ...}')
            return None
        value, kind = raw.get("id"), raw.get("kind", "mrn")
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            self.problem(ProblemCode.MISSING_FIELD, "patient.id", "patient.id is required")
            return None
        if not isinstance(kind, str) or _CODE.fullmatch(kind) is None:
            self.problem(
                ProblemCode.INVALID_VALUE, "patient.kind", f"patient.kind must match {_CODE.pattern}"
            )
            return None
        return self.ctx.tokenizer(kind, str(value))


class Stamp(TypedDict):
    """What every event of an item carries, whichever its type."""

    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    encounter: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Common:
    stamp: Stamp
    id: str
    patient: PatientToken | None
    currency: str
    valid: bool  # id, facility and currency are usable; otherwise fields are checked, nothing posts


def to_events(item: object, path: str, ctx: ParseContext, problems: list[Problem]) -> list[CanonicalEvent]:
    if not isinstance(item, dict):
        problems.append(
            Problem(
                code=ProblemCode.INVALID_VALUE,
                message="a portal item must be a JSON object",
                where=SourceRef(ctx.message_id, path),
            )
        )
        return []
    r = ItemReader(ctx, item, path, problems)
    kind = item.get("type")
    if kind not in TYPES:
        r.problem(ProblemCode.UNSUPPORTED_TRANSACTION, "type", f"type must be one of {', '.join(TYPES)}")
        return []
    item_id = r.text("id", _IDENT, required=True)
    facility = r.text("facility", _IDENT, required=True)
    if item_id and facility:
        r.key = f"portal:{facility}/{kind}/{item_id}"
    currency = r.currency()
    common = Common(
        stamp=Stamp(
            key=r.key,
            source=SourceRef(ctx.message_id, path),
            occurred_on=r.business_date(TIMESTAMP[str(kind)]),
            facility=facility,
            encounter=r.text("encounter", _IDENT),
        ),
        id=item_id,
        patient=r.patient(),
        currency=currency or ctx.default_currency,
        valid=bool(r.key and currency),
    )
    match kind:
        case "payment":
            return _payment(r, common)
        case "refund":
            return _refund(r, common)
        case _:
            return _plan(r, common)


def _payment(r: ItemReader, c: Common) -> list[CanonicalEvent]:
    method = r.text("method", _CODE)
    amount = r.amount("amount", c.currency, positive=True)
    if amount is None or not c.valid:
        return []
    return [
        PatientPaymentReceived(**c.stamp, payment_id=c.id, patient=c.patient, method=method, amount=amount)
    ]


def _refund(r: ItemReader, c: Common) -> list[CanonicalEvent]:
    recipient = r.choice("recipient", RECIPIENTS, "patient")
    payer_id = r.text("payer_id", _IDENT, required=recipient == "payer")
    original = r.text("original_payment_id", _IDENT)
    amount = r.amount("amount", c.currency, positive=True)
    if amount is None or not c.valid or not recipient or (recipient == "payer" and not payer_id):
        return []
    return [
        RefundIssued(
            **c.stamp,
            refund_id=c.id,
            recipient=recipient,
            payer_id=payer_id,
            patient=c.patient,
            original_payment_id=original,
            amount=amount,
        )
    ]


def _plan(r: ItemReader, c: Common) -> list[CanonicalEvent]:
    status = r.choice("status", PLAN_STATUS, "active")
    installments = r.item.get("installments", 0)
    if isinstance(installments, bool) or not isinstance(installments, int) or not 0 <= installments <= 10_000:
        r.problem(
            ProblemCode.INVALID_VALUE, "installments", "installments must be an integer from 0 to 10000"
        )
        installments = None
    total = r.amount("total", c.currency, positive=False)
    if c.patient is None and r.item.get("patient") is None:
        r.problem(ProblemCode.MISSING_FIELD, "patient", "a payment plan needs patient.id")
    if total is None or installments is None or not status or not c.valid or c.patient is None:
        return []
    return [
        PaymentPlanUpdated(
            **c.stamp,
            plan_id=c.id,
            patient=c.patient,
            total=total,
            installments=installments,
            status=status,
        )
    ]
