"""The claim takes cash first and reads its batch off the (status, priority, id) index.

A backlog of ADT/DFT arrived before an 835 and a portal payment: the first claim takes the cash
(it needs no encounter context, and the soak showed it waiting tens of seconds behind the
backlog otherwise); within a priority messages go in arrival order (a reversal never overtakes
its charge); a message whose worker died is still taken over; and on SQLite the claim's plan
uses the index without sorting the backlog. Runs through the real intake (HL7 over the MLLP
path, X12 and portal through ``Intake.receive``), so the priority is the formats' own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from runtime import build_runtime
from sqlalchemy import event, select, update

from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock
from revbridge.formats.base import SMALL_REMITTANCE_BYTES
from revbridge.store import queue
from revbridge.store.schema import messages

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _hl7(kind: str, control: str) -> bytes:
    event = "A04" if kind == "ADT" else "P03"
    return (
        f"MSH|^~\\&|HIS|F01|RB|F01|20260302090000||{kind}^{event}|{control}|P|2.5\r"
        f"EVN|{event}|20260302090000\r"
        f"PID|1||MRN{control}^^^F01^MR\r"
        f"PV1|1|I|||||||||||||||||V{control}\r"
    ).encode()


def _isa(control: str) -> str:
    return (
        "ISA*00*          *00*          *ZZ*PAYER          *ZZ*RECEIVER       *260302*0900*^*00501"
        f"*{control}*0*P*:~"
    )


def _x12(code: str, control: str, *, filler: int = 0) -> bytes:
    """An interchange of one transaction set; ``filler`` REF segments make it as large as a
    payer's ERA of thousands of claims."""
    version = "005010X221A1" if code == "835" else "005010X222A1"
    functional = "HP" if code == "835" else "HC"
    refs = "".join(f"REF*EV*{n:030d}~\n" for n in range(filler))
    return (
        f"{_isa(control)}\nGS*{functional}*PAYER*RECEIVER*20260302*0900*1*X*{version}~\n"
        f"ST*{code}*0001~\n{refs}SE*{2 + filler}*0001~\nGE*1*1~\nIEA*1*{control}~\n"
    ).encode()


def _portal(pid: str) -> bytes:
    item = {"type": "payment", "facility": "F01", "id": pid, "amount": "25.00", "currency": "USD"}
    return json.dumps(item).encode()


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(db_url, tmp_path, clock=FixedClock(T0))
    try:
        yield runtime
    finally:
        runtime.close()


def _hl7_in(rt: Runtime, kind: str, control: str) -> str:
    (answer,) = rt.hl7.receive(_hl7(kind, control), channel="mllp:test")
    assert answer.accepted is not None
    return answer.accepted.message_id


def _file_in(rt: Runtime, data: bytes) -> str:
    (received,) = rt.intake.receive(data, channel="http:test")
    return received.accepted.message_id


def _claim(rt: Runtime, owner: str, limit: int, now: datetime = T0) -> list[str]:
    return [c.id for c in queue.claim(rt.db, owner=owner, now=now, lease=LEASE, limit=limit)]


def test_cash_is_claimed_before_an_older_backlog_and_arrival_order_holds_within_a_priority(
    rt: Runtime,
) -> None:
    backlog = [_hl7_in(rt, kind, f"{kind}{n}") for n in range(3) for kind in ("ADT", "DFT")]
    claims = _file_in(rt, _x12("837", "000000001"))
    remittance = _file_in(rt, _x12("835", "000000002"))
    payment = _file_in(rt, _portal("P-1"))
    later = _hl7_in(rt, "DFT", "C9")
    with rt.db.reading() as tx:
        priority = {str(m): int(p) for m, p in tx.execute(select(messages.c.id, messages.c.priority))}
    assert {m for m, p in priority.items() if p < 1} == {remittance, payment}

    assert _claim(rt, "w1", 2) == [remittance, payment]
    assert _claim(rt, "w1", 3) == backlog[:3]
    assert _claim(rt, "w2", 10) == [*backlog[3:], claims, later]
    assert _claim(rt, "w2", 10) == []


def test_a_patients_payment_is_not_held_behind_payers_large_remittances(rt: Runtime) -> None:
    """A large ERA is seconds of a worker's time: small cash arriving after two of them (a
    payment, a one-claim 835) is claimed first; the large ones still go before the backlog."""
    backlog = _hl7_in(rt, "DFT", "B1")
    large = [_file_in(rt, _x12("835", f"00000001{n}", filler=2_000)) for n in range(2)]
    payment = _file_in(rt, _portal("P-2"))
    small = _file_in(rt, _x12("835", "000000020"))
    assert len(_x12("835", "000000010", filler=2_000)) > SMALL_REMITTANCE_BYTES

    assert _claim(rt, "w1", 2) == [payment, small]
    assert _claim(rt, "w1", 2) == large
    assert _claim(rt, "w1", 2) == [backlog]


def test_fhirs_remittance_is_cash_and_its_visits_keep_their_order(rt: Runtime) -> None:
    """A PaymentReconciliation posted to the FHIR route is a payer's remittance, as an 835 is;
    an Encounter beside it keeps its place behind the older backlog."""
    backlog = _hl7_in(rt, "DFT", "B1")
    encounter = _file_in(
        rt, json.dumps({"resourceType": "Encounter", "id": "e1", "status": "finished"}).encode()
    )
    remittance = _file_in(rt, json.dumps({"resourceType": "PaymentReconciliation", "id": "pr1"}).encode())
    assert _claim(rt, "w1", 1) == [remittance]
    assert _claim(rt, "w1", 2) == [backlog, encounter]


def test_a_retry_waits_for_its_time_and_an_expired_lease_is_taken_over_first(rt: Runtime) -> None:
    first = _hl7_in(rt, "ADT", "A1")
    second = _hl7_in(rt, "DFT", "A2")
    remittance = _file_in(rt, _x12("835", "000000003"))
    assert _claim(rt, "dead", 1) == [remittance]  # its worker dies holding the lease
    assert _claim(rt, "w1", 1) == [first]
    assert queue.retry_later(rt.db, first, owner="w1", at=T0 + timedelta(seconds=20), reason="later")

    assert _claim(rt, "w2", 5, now=T0 + timedelta(seconds=10)) == [second]  # lease live, retry not due
    # The dead worker's lease has expired and the retry is due: the takeover first, then the retry.
    assert _claim(rt, "w3", 5, now=T0 + LEASE + timedelta(seconds=1)) == [remittance, first]
    with rt.db.reading() as tx:
        owner, attempts = tx.execute(
            select(messages.c.lease_owner, messages.c.attempts).where(messages.c.id == remittance)
        ).one()
    assert (owner, attempts) == ("w3", 2)
    assert _claim(rt, "w4", 5, now=T0 + LEASE + timedelta(seconds=2)) == []


def test_existing_rows_default_to_arrival_order(rt: Runtime) -> None:
    """Rows stored before migration 0012 (no priority written) are taken in arrival order."""
    payment = _file_in(rt, _portal("P-2"))
    adt = _hl7_in(rt, "ADT", "B1")
    with rt.db.transaction() as tx:
        tx.execute(update(messages).where(messages.c.id == payment).values(priority=1))
    assert _claim(rt, "w", 5) == [payment, adt]


def test_the_sqlite_claim_reads_the_index_without_sorting_the_backlog(tmp_path: Path) -> None:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, clock=FixedClock(T0))
    try:
        statements: list[tuple[str, object]] = []

        def seen(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "FROM messages" in statement:
                statements.append((statement, parameters))

        event.listen(runtime.db.engine, "before_cursor_execute", seen)
        try:
            queue.claim(runtime.db, owner="w", now=T0, lease=LEASE, limit=5)
        finally:
            event.remove(runtime.db.engine, "before_cursor_execute", seen)
        assert len(statements) == 2  # expired leases, then due pending messages
        with runtime.db.reading() as tx:
            for statement, parameters in statements:
                rows = tx.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
                plan = " | ".join(str(row[3]) for row in rows)
                assert "ix_messages_status_priority_id" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
    finally:
        runtime.close()
