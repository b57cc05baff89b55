"""The demo's go-live: the receivables open the evening before its first day (docs/golive.md).

The demo's remittances and patient payments settle visits registered up to ``LOOKBACK`` days
before the window, whose charges were never sent. A real go-live loads those balances from the
old patient-accounting system; the demo derives them from its own generator, account by account,
as of the cut-over (the day before ``start``):

- the payer's receivable: the claim's charges less what adjudications before the cut-over
  relieved, and at least what the window's adjudications relieve (a corrected claim can relieve
  more than the original charged);
- the patient's receivable (self-pay class): the patient shares adjudicated before the cut-over
  less the patient's payments before it, and at least what the patient pays in the window.

Nothing here is tuned by hand: the same seed, scale and start give the same file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

from revbridge.core.errors import InputError
from revbridge.demo.billing import Settlement
from revbridge.demo.generator import carried_in
from revbridge.demo.truth import Traffic
from revbridge.pipeline import golive
from revbridge.store import Database, configs

ZERO = Decimal(0)


def opening_csv(traffic: Traffic, *, legal_entity_of: Mapping[str, str], self_pay_class: str) -> str:
    """The opening-balances CSV of a go-live on the eve of ``traffic``'s first day."""
    start, end = traffic.start, traffic.start + timedelta(days=len(traffic.days))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("legal_entity", "facility", "payer_class", "account", "amount"))
    found = carried_in(start=start, days=len(traffic.days), seed=traffic.seed, scale=traffic.scale)
    for lived, settlement in found:
        code = lived.facility.code
        for payer_class, amount in _open(settlement, start, end, self_pay_class):
            if amount > 0:
                writer.writerow((legal_entity_of[code], code, payer_class, lived.number, f"{amount:.2f}"))
    return out.getvalue()


def as_of(traffic: Traffic) -> date:
    return traffic.start - timedelta(days=1)


def _open(settlement: Settlement, start: date, end: date, self_pay_class: str) -> list[tuple[str, Decimal]]:
    adjudications = [
        a for a in (settlement.adjudication, settlement.reversal, settlement.corrected) if a is not None
    ]
    before = [a for a in adjudications if a.paid_on < start]
    inside = [a for a in adjudications if start <= a.paid_on < end]
    found: list[tuple[str, Decimal]] = []
    if settlement.claim is not None:
        payer = settlement.claim.total - sum((a.charge for a in before), ZERO)
        relieved = sum((a.charge for a in inside), ZERO)
        found.append((settlement.claim.payer.payer_class, max(payer, relieved)))
    paid_before = sum(
        (m.amount if m.kind == "payment" else -m.amount)
        for m in settlement.patient
        if m.kind in ("payment", "refund") and m.at.date() < start
    )
    paid_inside = sum(
        (m.amount for m in settlement.patient if m.kind == "payment" and start <= m.at.date() < end), ZERO
    )
    patient = sum((a.patient_share for a in before), ZERO) - paid_before
    found.append((self_pay_class, max(patient, paid_inside)))
    return found


def load_opening(db: Database, traffic: Traffic, *, now: datetime) -> golive.Loaded:
    """Load the demo's opening position through ``revbridge golive load``'s own path."""
    cutover = as_of(traffic)
    with db.reading() as tx:
        found = configs.ConfigCache(db).current(tx, now.date())
    if found is None:
        raise InputError("no approved configuration is in effect: run `revbridge config apply`")
    master = found[1].master
    text = opening_csv(
        traffic,
        legal_entity_of={f.code: f.legal_entity for f in master.facilities},
        self_pay_class=master.self_pay_class,
    )
    return golive.load(db, text, as_of=cutover, actor="demo", now=now)


def describe(loaded: golive.Loaded) -> str:
    """One line for the demo's console: what the go-live opened, per legal entity."""
    parts = [
        f"{item.legal_entity} {item.rows} accounts {item.total.amount:,} {item.total.currency}"
        for item in loaded.loads
    ]
    return f"go-live opening AR as of {loaded.as_of.isoformat()}: " + "; ".join(parts)
