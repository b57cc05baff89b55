"""One small simulated day of the demo health system through intake and the posting pipeline,
with the reference configuration, on SQLite and PostgreSQL (issue 8).

Every message goes in through ``Runtime.intake.receive`` with the channel it would arrive by (the
MLLP, HTTP and directory transports have their own tests), then the workers and the posting stage
settle everything. What revbridge made of it must be what the generator says it sent:

- every message ends in the terminal state its expectation names, duplicates pointing at the
  message they repeat, and the deliberate faults open exactly the expected work items where
  they should;
- per facility, cash clearing moves by the remittances' BPR02 plus patient payments less refunds,
  gross revenue is credited with the DFT charges less what the faults held back and debited with
  the charge credits (FT1-6 CD), and the remittances' contractual, denial, interest, recoupment
  and patient-transfer amounts land on their roles to the cent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from runtime import build_runtime
from sqlalchemy import select

from revbridge.bootstrap import Runtime
from revbridge.demo import Kind, Message, Status, Traffic, generate
from revbridge.store import journals, workitems
from revbridge.store.messages import Accepted
from revbridge.store.schema import messages

START = date(2025, 3, 3)  # a Monday: payers remit on weekdays
SCALE = 0.05  # about 290 messages: a few seconds per backend
SEED = 7
TERMINAL = {"processed", "excepted", "ignored", "duplicate"}
ZERO = Decimal(0)


@dataclass
class Outcome:
    accepted: list[Accepted]
    status: dict[str, str]  # message id -> stored status
    errors: dict[str, list[str]]  # message id -> open error work item codes
    nets: dict[tuple[str, str], Decimal]  # (facility, role) -> net (debit positive)
    sides: dict[tuple[str, str, str], Decimal]  # (facility, role, side) -> amount


def _feed(rt: Runtime, sent: list[Message]) -> Outcome:
    accepted = []
    for message in sent:
        received = rt.intake.receive(
            message.payload, channel=f"{message.channel}:demo", format=message.format
        )
        assert len(received) == 1, message.kind
        accepted.append(received[0].accepted)
    rt.settle(close_windows=True)
    with rt.db.reading() as conn:
        status = {row.id: row.status for row in conn.execute(select(messages.c.id, messages.c.status))}
    errors: dict[str, list[str]] = defaultdict(list)
    for item in workitems.list_items(rt.db, limit=100_000):
        if item.severity == "error" and item.message_id is not None:
            errors[item.message_id].append(item.code)
    nets: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    sides: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for stored in journals.list_journals(rt.db, limit=100_000):
        lines = stored.journal.lines
        assert sum((ln.net.amount for ln in lines), ZERO) == 0, stored.journal.id
        for line in lines:
            facility, role = line.dimensions.facility, line.role.value
            nets[(facility, role)] += line.net.amount
            sides[(facility, role, line.side.value)] += line.amount.amount
    return Outcome(accepted, status, errors, nets, sides)


def _credit(message: Message) -> bool:
    return message.kind is Kind.DFT_P03 and b"|CD|" in message.payload


@pytest.fixture
def day() -> Traffic:
    traffic = generate(start=START, seed=SEED, scale=SCALE)
    assert any(_credit(m) for m in traffic.messages), "the day should carry a charge credit"
    return traffic


def test_a_simulated_day_posts_what_the_generator_says_it_sent(
    db_url: str, tmp_path: Path, day: Traffic
) -> None:
    sent = list(day.messages)
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        outcome = _feed(rt, sent)
    finally:
        rt.close()

    assert set(outcome.status.values()) <= TERMINAL, "every message ends in a terminal state"
    assert len(outcome.status) == len(sent)
    for n, (message, accepted) in enumerate(zip(sent, outcome.accepted, strict=True)):
        expect = message.expect
        if expect.status is Status.DUPLICATE:
            original = outcome.accepted[expect.duplicate_of if expect.duplicate_of is not None else -1]
            assert accepted.status == "duplicate", (n, message.kind)
            assert accepted.duplicate_of == original.message_id
            continue
        where = (n, message.kind.value, message.facility)
        assert outcome.status[accepted.message_id] == expect.status.value, where
        assert sorted(outcome.errors.get(accepted.message_id, [])) == list(expect.work_items), where

    duplicates = [m for m in sent if m.expect.status is Status.DUPLICATE]
    assert {m.kind for m in duplicates} == {Kind.DFT_P03, Kind.REMITTANCE_835}
    assert Counter(outcome.status.values()) == day.statuses()
    assert Counter(code for codes in outcome.errors.values() for code in codes) == day.work_items()

    truth = day.by_facility()
    assert set(truth) == {f for f, _ in outcome.nets}
    for facility, t in truth.items():
        nets, sides = outcome.nets, outcome.sides
        assert nets[(facility, "cash_clearing")] == t.remitted + t.patient_payments - t.refunds, facility
        assert sides[(facility, "gross_revenue", "credit")] == t.charges - t.held_back, facility
        assert sides[(facility, "gross_revenue", "debit")] == t.credits, facility
        assert nets[(facility, "contractual_allowance")] == t.contractual, facility
        assert nets[(facility, "denial_writeoff")] == t.denied, facility
        assert nets[(facility, "interest_income")] == -t.interest, facility
        assert nets[(facility, "payer_credit_balance")] == t.recouped, facility
        assert nets[(facility, "ar_patient")] == t.patient_share - t.patient_payments + t.refunds, facility
        relieved = t.claims_paid + t.contractual + t.denied + t.patient_share
        assert nets[(facility, "ar_payer")] == t.charges - t.held_back - t.credits - relieved, facility
    total_cash = sum((outcome.nets[(f, "cash_clearing")] for f in truth), ZERO)
    assert total_cash == sum((t.cash for t in truth.values()), ZERO) > 0
    held = sum((f.held_back for f in day.faults), ZERO)
    assert held > 0 and held == sum((t.held_back for t in truth.values()), ZERO)
