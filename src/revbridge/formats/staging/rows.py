"""One staged row (already mapped to canonical field names) -> its canonical event.

Fields by kind (``*`` required); ``date`` is the business date (else the day it was received),
``currency`` defaults to the configured default, ``patient_id`` is tokenised at once:

- charge: id*, facility*, encounter*, department*, amount*, date, procedure, revenue_code,
  quantity, patient_id, currency. A negative amount is a charge reversal of its magnitude.
- payment: id*, facility*, amount*, date, encounter, method, patient_id, currency.
- adjustment: id*, facility*, amount*, code*, date, encounter, category, against (patient |
  payer), department, patient_id, currency.

A problem names the row (``table[key]``) and the field, never its value.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from revbridge.canonical.events import (
    AdjustmentPosted,
    CanonicalEvent,
    ChargeCaptured,
    ChargeReversed,
    PatientPaymentReceived,
)
from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.formats.base import ParseContext
from revbridge.formats.portal.payments import ItemReader

KINDS = ("charge", "payment", "adjustment")
AGAINST = frozenset({"patient", "payer"})
_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}")
_QUANTITY = re.compile(r"\d{1,9}(?:\.\d{1,6})?")


def to_events(row: object, path: str, ctx: ParseContext, problems: list[Problem]) -> list[CanonicalEvent]:
    if not isinstance(row, dict) or not isinstance(row.get("fields"), dict):
        problems.append(
            Problem(
                code=ProblemCode.MALFORMED_MESSAGE,
                message="a staged row must be an object with fields",
                where=SourceRef(ctx.message_id, path),
            )
        )
        return []
    r = ItemReader(ctx, row["fields"], path, problems)
    kind = row.get("kind")
    if kind not in KINDS:
        r.problem(
            ProblemCode.UNSUPPORTED_TRANSACTION, "kind", f"the row's kind is not one of {', '.join(KINDS)}"
        )
        return []
    row_id = r.text("id", _IDENT, required=True)
    facility = r.text("facility", _IDENT, required=True)
    if row_id and facility:
        r.key = f"staging:{facility}/{kind}/{row_id}"
    currency = r.currency()
    if kind == "charge":
        return _charge(r, row_id, facility, currency)
    if kind == "payment":
        return _payment(r, row_id, facility, currency)
    return _adjustment(r, row_id, facility, currency)


def _stamp(r: ItemReader, facility: str) -> dict[str, Any]:
    return {
        "key": r.key,
        "source": SourceRef(r.ctx.message_id, r.path),
        "occurred_on": r.business_date("date"),
        "facility": facility,
    }


def _patient(r: ItemReader) -> PatientToken | None:
    raw = r.item.get("patient_id")
    if raw is None or not str(raw).strip():
        return None
    return r.ctx.tokenizer("mrn", str(raw).strip())


def _charge(r: ItemReader, row_id: str, facility: str, currency: str) -> list[CanonicalEvent]:
    stamp = _stamp(r, facility)
    encounter = r.text("encounter", _IDENT, required=True)
    department = r.text("department", _TEXT, required=True)
    procedure = r.text("procedure", _IDENT)
    revenue_code = r.text("revenue_code", _IDENT)
    quantity = _quantity(r)
    raw = r.item.get("amount")
    reversal = isinstance(raw, str) and raw.strip().startswith("-")
    if reversal:
        r.item = {**r.item, "amount": str(raw).strip()[1:]}
    amount = r.amount("amount", currency or r.ctx.default_currency, positive=True)
    patient = _patient(r)
    if amount is None or quantity is None or not (r.key and currency and encounter and department):
        return []
    common = dict(
        stamp,
        charge_id=row_id,
        encounter=encounter,
        patient=patient,
        department=department,
        procedure=procedure,
        revenue_code=revenue_code,
        quantity=quantity,
        amount=amount,
    )
    return [ChargeReversed(**common) if reversal else ChargeCaptured(**common)]


def _payment(r: ItemReader, row_id: str, facility: str, currency: str) -> list[CanonicalEvent]:
    stamp = _stamp(r, facility)
    encounter = r.text("encounter", _IDENT)
    method = r.text("method", _TEXT)
    amount = r.amount("amount", currency or r.ctx.default_currency, positive=True)
    patient = _patient(r)
    if amount is None or not (r.key and currency):
        return []
    return [
        PatientPaymentReceived(
            **stamp, payment_id=row_id, encounter=encounter, patient=patient, method=method, amount=amount
        )
    ]


def _adjustment(r: ItemReader, row_id: str, facility: str, currency: str) -> list[CanonicalEvent]:
    stamp = _stamp(r, facility)
    encounter = r.text("encounter", _IDENT)
    code = r.text("code", _IDENT, required=True)
    category = r.text("category", _TEXT)
    department = r.text("department", _TEXT)
    against = r.choice("against", AGAINST, "patient") if r.item.get("against") else "patient"
    amount = r.amount("amount", currency or r.ctx.default_currency, positive=True)
    patient = _patient(r)
    if amount is None or not (r.key and currency and code and against):
        return []
    return [
        AdjustmentPosted(
            **stamp,
            adjustment_id=row_id,
            encounter=encounter,
            patient=patient,
            code=code,
            category=category,
            against=against,
            department=department,
            amount=amount,
        )
    ]


def _quantity(r: ItemReader) -> Decimal | None:
    raw = r.item.get("quantity")
    if raw is None or raw == "":
        return Decimal(1)
    if isinstance(raw, str) and _QUANTITY.fullmatch(raw.strip()):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            value = Decimal(0)
        if value > 0:
            return value
    r.problem(ProblemCode.INVALID_VALUE, "quantity", "quantity must be a positive decimal number")
    return None
