"""Reconciliation end to end: corpus 835s and hand-written HL7 ADT + DFT through intake, the
workers, the posting stage, the runtime's outbox and the embedded ledger; reconcile ties. Then something is
broken on purpose (an ERP entry deleted, a subledger amount altered, the outbox stopped past its
threshold) and reconcile names it, down to the journal, account and event key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tryton as tryton_support
from fastapi.testclient import TestClient
from runtime import build_runtime
from sqlalchemy import delete, select, update

from revbridge.bootstrap import Runtime
from revbridge.connectors import registry
from revbridge.connectors.tryton import TrytonConnector
from revbridge.core.clock import FixedClock
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.pipeline.reconciliation import report
from revbridge.reconcile import Control, Report
from revbridge.security.roles import Role
from revbridge.service.app import create_app
from revbridge.store import Database, announcements, apikeys
from revbridge.store import journals as journal_store
from revbridge.store.schema import event_lines, gl_documents, gl_entries, journals

CORPUS_835 = (
    "lfh_x12__medicare-part-a.835",  # BPR02 150,000.00, PLB CV -1.27
    "lfh_x12__secondary-payment.835",  # BPR02 1,222.00, OA-23 informational
    "lfh_x12__managed-care.835",  # Rushmore Life: an unmapped payer, held by the work queue
    "pyx12__835_mult_loops.txt",  # BPR01 = H: a notification, no cash
)
DAY = date(2024, 3, 1)


def _segment(name: str, fields: dict[int, str]) -> str:
    return "|".join([name, *(fields.get(n, "") for n in range(1, max(fields) + 1))])


def _msh(kind: str, control: str) -> str:
    return f"MSH|^~\\&|PAS|STJ|RB|RB|20240301120000||{kind}|{control}|P|2.5"


PID = _segment("PID", {1: "1", 3: "MRN-SENTINEL-77^^^H^MR", 5: "ZZTESTPATIENT^SENTINEL", 7: "19610203"})
PV1 = _segment("PV1", {1: "1", 2: "O", 3: "C^1^A", 10: "ED", 19: "V100", 44: "20240301"})
IN1 = _segment("IN1", {1: "1", 2: "PPO", 3: "608", 4: "BCBS", 36: "POL-SENTINEL"})


def _ft1(
    n: int, transaction: str, kind: str, amount: str, department: str = "ED", code: str = "99213"
) -> str:
    return _segment(
        "FT1",
        {
            1: str(n),
            2: transaction,
            4: "20240301",
            6: kind,
            7: f"{code}^^P",
            10: "1",
            11: amount,
            13: department,
        },
    )


def _hl7(*segments: str) -> bytes:
    return ("\r".join(segments) + "\r").encode()


ADT = _hl7(_msh("ADT^A04", "A1"), "EVN|A04|20240301", PID, PV1, IN1)
DFT = _hl7(
    _msh("DFT^P03", "D1"),
    "EVN|P03",
    PID,
    PV1,
    _ft1(1, "T1", "CG", "250.00"),
    _ft1(2, "T2", "CG", "80.00", "LAB"),
    _ft1(3, "T3", "PY", "20.00"),
    _ft1(4, "T4", "AJ", "15.00", code="SMALLBAL"),
)
DFT_UNMAPPED = _hl7(_msh("DFT^P03", "D2"), "EVN|P03", PID, PV1, _ft1(1, "T9", "CG", "44.00", "RAD9"))


def _fill(rt: Runtime, corpus: Path, *, post: bool = True) -> None:
    """Everything through intake, the workers and the posting stage; ``post``: and through the
    runtime's outbox to the ERP its configuration names (the embedded ledger)."""
    for data in (ADT, DFT, DFT_UNMAPPED):
        rt.intake.receive(data, channel="mllp:10.1.1.1", format="auto")
    for name in CORPUS_835:
        path = corpus / "x12_835" / name
        rt.intake.receive(
            path.read_bytes(), channel=f"file:{name}"[:64], format="auto", dedupe_key=f"t:{name}"
        )
    rt.settle(close_windows=True, post=post)


@pytest.fixture
def posted(db_url: str, tmp_path: Path, corpus: Path) -> Iterator[Runtime]:
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        _fill(rt, corpus)
        yield rt
    finally:
        rt.close()


def _report(rt: Runtime, day: date | None = None) -> Report:
    return report(rt.db, day=day, now=rt.clock.now())


def test_the_pipeline_ties_every_control(posted: Runtime) -> None:
    found = _report(posted)
    assert found.breaks == (), [str(b) for b in found.breaks]
    remittances = {r.remittance_id: r for r in found.remittances.rows}
    assert remittances["1512345678:12345"].status == "ties"
    assert remittances["1512345678:12345"].booked == remittances["1512345678:12345"].amount
    assert str(remittances["1512345678:12345"].amount.amount) == "150000.00"
    assert str(remittances["1559123456:0012524965"].acknowledged.amount) == "1222.00"
    rushmore = remittances["1935665544:7170066655"]
    assert rushmore.status == "held" and "UNMAPPED_PAYER" in rushmore.held_codes
    assert remittances["1386000134:000000000"].status == "notification"
    assert found.journals.counts()["acknowledged"] == len(found.journals.checks) >= 4
    # the charges of the day: one held by its unmapped department, the rest acknowledged by the ERP
    charges = next(r for r in found.daily.rows if r.day == DAY and r.kind == "ChargeCaptured")
    assert charges.facility == "MHN-STJ"
    assert (str(charges.source.amount), str(charges.held.amount)) == ("374.00", "44.00")
    assert str(charges.acknowledged.amount) == "330.00"
    assert dict(charges.held_codes) == {"UNMAPPED_DEPARTMENT": 1}
    # every message terminal, counted by source
    totals = found.completeness.totals()
    assert totals["processed"] + totals["excepted"] == 7 and totals["excepted"] == 2
    assert {src for _d, src, _s, _n in found.completeness.counts} == {"mllp", "file"}
    # receivables: BCBS charges less nothing; the patient's AR after payment and write-off
    ar = {(r.legal_entity, r.payer_class): r for r in found.ar.rows}
    assert str(ar[("MHN", "COMMERCIAL")].charges.amount) == "330.00"
    patient = ar[("MHN", "SELF_PAY")]
    assert (str(patient.payments.amount), str(patient.adjustments.amount)) == ("20.00", "15.00")
    assert patient.closing == patient.computed == patient.journaled


def test_one_day_ties_and_keeps_its_scope(posted: Runtime) -> None:
    found = _report(posted, DAY)
    assert found.ties, [str(b) for b in found.breaks]
    assert {r.day for r in found.daily.rows} == {DAY}
    assert found.remittances.rows == ()
    assert found.ar.start == found.ar.end == DAY


def test_a_deleted_erp_entry_is_named_by_journal_account_and_remittance(posted: Runtime) -> None:
    with posted.db.transaction() as conn:
        (journal_id,) = conn.execute(
            select(event_lines.c.journal_id).where(
                event_lines.c.event_key == "x12:835:1512345678:12345", event_lines.c.role == "cash_clearing"
            )
        ).one()
        document = conn.execute(
            select(gl_documents.c.id).where(gl_documents.c.reference == journal_id)
        ).scalar_one()
        conn.execute(
            delete(gl_entries).where(gl_entries.c.document_id == document, gl_entries.c.account == "1015")
        )
    found = _report(posted)
    assert not found.ties
    by_control = {b.control: b for b in found.breaks}
    assert set(by_control) == {Control.REMITTANCE, Control.DAILY, Control.ERP}
    erp = by_control[Control.ERP]
    assert erp.subject == f"journal {journal_id}" and "account 1015" in erp.message
    assert str(erp.expected.amount if erp.expected else None) == "150000.00"
    assert by_control[Control.REMITTANCE].subject == "remittance 1512345678:12345"
    assert by_control[Control.REMITTANCE].message.endswith(
        f"the ERP holds other cash than its journal {journal_id}"
    )
    assert by_control[Control.DAILY].subject == "2002-09-13 MHN-HOPE RemittanceReceived"


def test_an_altered_subledger_amount_is_named_by_event(posted: Runtime) -> None:
    key = "hl7v2:STJ:T2"
    with posted.db.transaction() as conn:
        conn.execute(
            update(event_lines)
            .where(event_lines.c.event_key == key, event_lines.c.role == "gross_revenue")
            .values(amount_minor=8100)
        )
    found = _report(posted)
    controls = sorted(b.control.value for b in found.breaks)
    assert controls == ["daily", "journal"]
    daily = next(b for b in found.breaks if b.control is Control.DAILY)
    assert daily.subject == "2024-03-01 MHN-STJ ChargeCaptured" and daily.event_keys == (key,)
    assert (
        str(daily.expected.amount if daily.expected else ""),
        str(daily.actual.amount if daily.actual else ""),
    ) == (
        "330.00",
        "331.00",
    )
    journal = next(b for b in found.breaks if b.control is Control.JOURNAL)
    assert "line 4120 (gross_revenue)" in journal.message and key in journal.event_keys


def test_a_missing_journal_is_a_remittance_break(posted: Runtime) -> None:
    with posted.db.transaction() as conn:
        conn.execute(
            update(event_lines)
            .where(event_lines.c.event_key.like("x12:835:1559123456:0012524965%"))
            .values(journal_id=None, journal_line_id=None, created_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    found = _report(posted)
    subjects = {(b.control, b.subject) for b in found.breaks}
    assert (Control.REMITTANCE, "remittance 1559123456:0012524965") in subjects
    assert (Control.JOURNAL, "batch window (MHN)") in subjects


def test_an_erp_outage_is_in_flight_until_it_is_stale(db_url: str, tmp_path: Path, corpus: Path) -> None:
    clock = FixedClock(datetime(2026, 6, 16, 8, 0, tzinfo=UTC))
    rt = build_runtime(db_url, tmp_path, posting=True, clock=clock)
    try:
        _fill(rt, corpus, post=False)  # the ERP is down: nothing leaves the outbox
        soon = _report(rt)
        assert soon.ties, [str(b) for b in soon.breaks]
        assert soon.journals.counts()["in_flight"] == len(soon.journals.checks)
        assert {r.status for r in soon.remittances.rows} >= {"in_flight"}
        clock.advance(timedelta(hours=2))
        later = _report(rt)
        stale = [b for b in later.breaks if b.control is Control.JOURNAL]
        assert stale and all("after it was staged" in b.message for b in stale)
        assert {b.control for b in later.breaks} == {Control.JOURNAL, Control.REMITTANCE, Control.DAILY}
    finally:
        rt.close()


def _cli(home: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "220"}
    env.pop("REVBRIDGE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "revbridge", "reconcile", "--db", db, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_command_exits_zero_when_it_ties_and_one_naming_the_breaks(tmp_path: Path, corpus: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    rt = build_runtime(db, tmp_path, posting=True)
    try:
        _fill(rt, corpus)
    finally:
        rt.close()
    result = _cli(tmp_path, db, "--json")
    assert result.returncode == 0, result.stderr
    shown: Any = json.loads(result.stdout)
    assert shown["ties"] is True and shown["breaks"] == []
    text = _cli(tmp_path, db, "--date", "2024-03-01")
    assert text.returncode == 0, text.stderr
    assert "Reconciliation for 2024-03-01" in text.stdout and "ties" in text.stdout
    assert "SENTINEL" not in text.stdout + result.stdout  # no PHI in the report
    rt = build_runtime(db, tmp_path, posting=True)
    try:
        with rt.db.transaction() as conn:
            conn.execute(delete(gl_entries).where(gl_entries.c.account == "4120"))
    finally:
        rt.close()
    broken = _cli(tmp_path, db)
    assert broken.returncode == 1
    assert "reconciliation does not tie: 2 break(s)" in broken.stderr
    assert "account 4120" in broken.stdout
    as_json = _cli(tmp_path, db, "--json", "--events")
    assert as_json.returncode == 1
    breaks = json.loads(as_json.stdout)["breaks"]
    assert {b["control"] for b in breaks} == {"erp", "daily"}
    assert sorted(Decimal(b["difference"]) for b in breaks) == [Decimal("-80.00"), Decimal("80.00")]
    # events out: both runs found the same two breaks; each is announced once, without event keys
    store = Database.open(db, null_pool=True)
    try:
        announced = [p for p in announcements.listed(store) if p.kind == "reconciliation.broken"]
    finally:
        store.close()
    assert sorted(str(p.data["control"]) for p in announced) == ["daily", "erp"]
    assert sorted(Decimal(str(p.data["difference"])) for p in announced) == [
        Decimal("-80.00"),
        Decimal("80.00"),
    ]
    assert all("event_keys" not in p.data and int(str(p.data["event_count"])) > 0 for p in announced)
    bad = _cli(tmp_path, db, "--date", "yesterday")
    assert bad.returncode == 2 and "--date must be an ISO date" in bad.stderr


def test_journals_table_is_what_the_erp_acknowledged(posted: Runtime) -> None:
    with posted.db.reading() as conn:
        statuses = {s for (s,) in conn.execute(select(journals.c.status))}
    assert statuses == {"posted"}


def test_the_api_serves_the_same_report_and_the_ar_drill_down(posted: Runtime) -> None:
    _, token = apikeys.create(
        posted.db, name="viewer", roles=(Role.VIEWER,), now=posted.clock.now(), actor="test", anchor=None
    )
    headers = {"X-API-Key": token}
    with TestClient(create_app(posted)) as client:
        assert client.get("/api/v1/reconcile").status_code == 401
        body = client.get(
            "/api/v1/reconcile", params={"date": "2024-03-01", "events": "true"}, headers=headers
        )
        assert body.status_code == 200, body.text
        shown = body.json()
        assert shown["ties"] is True and shown["date"] == "2024-03-01"
        held = next(r for r in shown["daily"] if r["kind"] == "ChargeCaptured")["held_event_keys"]
        assert held == ["hl7v2:STJ:T9"]
        assert client.get("/api/v1/reconcile", params={"date": "soon"}, headers=headers).status_code == 422
        drill = client.get(
            "/api/v1/reconcile/ar/events",
            params={"legal_entity": "MHN", "payer_class": "COMMERCIAL", "through": "2024-03-01"},
            headers=headers,
        ).json()
        assert drill["total"] == {"USD": "330.00"}
        assert [e["event_key"] for e in drill["events"]] == ["hl7v2:STJ:T1", "hl7v2:STJ:T2"]
        for text in (body.text, json.dumps(drill)):
            assert "SENTINEL" not in text and "19610203" not in text


@pytest.fixture(scope="module")
def tryton_server() -> Iterator[tryton_support.TrytonServer]:
    server = tryton_support.start()
    yield server
    tryton_support.stop(server)


@pytest.mark.tryton
@pytest.mark.postgres
@pytest.mark.slow
def test_journals_posted_to_tryton_are_read_back_from_tryton(
    tryton_server: tryton_support.TrytonServer, tmp_path: Path
) -> None:
    rt = build_runtime(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, posting=True)
    settings = tryton_server.settings  # Tryton holds the reference chart; our 1015 maps onto its cash
    router = registry.routing(
        {"targets": {"erp": settings}, "default": "erp"}, registry.Environment(db=rt.db, clock=rt.clock)
    )
    try:
        for data in (ADT, DFT):
            rt.intake.receive(data, channel="mllp:10.1.1.1", format="auto")
        rt.settle(close_windows=True, post=False)
        dispatcher = Dispatcher(
            rt.db, router, clock=rt.clock, metrics=rt.metrics, config=OutboxConfig(owner="e2e-tryton")
        )
        try:
            dispatcher.drain()
        finally:
            dispatcher.close()
        connector = router("MHN")
        assert isinstance(connector, TrytonConnector)
        found = report(rt.db, day=DAY, now=rt.clock.now(), connector_for=router)
        assert found.ties, [str(b) for b in found.breaks]
        checks = found.journals.checks
        assert len(checks) == 2 and {c.delivery.value for c in checks.values()} == {"acknowledged"}
        # post the payment journal a second time straight into Tryton: the ERP now holds twice
        # its cash under its reference, and reconcile names the journal and the Tryton account
        payment = next(c.journal for c in checks.values() if c.journal.lane == "realtime")
        stored = journal_store.load(rt.db, payment.id)
        (move,) = connector.call("model.account.move.create", [connector.move_values(stored)], writes=True)
        connector.call("model.account.move.post", [move], writes=True)
        broken = report(rt.db, day=DAY, now=rt.clock.now(), connector_for=router)
        erp = [b for b in broken.breaks if b.control is Control.ERP]
        assert erp and all(b.subject == f"journal {payment.id}" for b in erp)
        assert any("account 1.1.1: we sent net 20.00 USD, the ERP holds 40.00" in b.message for b in erp)
        assert {b.control for b in broken.breaks} == {Control.ERP, Control.DAILY}
    finally:
        router.close()
        rt.close()


def test_the_api_sets_the_reconciliation_gauge_the_alert_reads(posted: Runtime) -> None:
    _, token = apikeys.create(
        posted.db, name="viewer", roles=(Role.VIEWER,), now=posted.clock.now(), actor="test", anchor=None
    )
    headers = {"X-API-Key": token}
    gauge = ("revbridge_reconciliation_ties", {"scope": "all"})
    registry = posted.metrics.registry
    with TestClient(create_app(posted)) as client:
        assert registry.get_sample_value(*gauge) is None  # not yet asked: absent, not a false 0
        assert client.get("/api/v1/reconcile", headers=headers).json()["ties"] is True
        assert registry.get_sample_value(*gauge) == 1
        with posted.db.transaction() as conn:
            conn.execute(
                update(event_lines)
                .where(event_lines.c.event_key == "hl7v2:STJ:T2", event_lines.c.role == "gross_revenue")
                .values(amount_minor=8100)
            )
        one_day = client.get("/api/v1/reconcile", params={"date": "2024-03-01"}, headers=headers)
        assert one_day.json()["ties"] is False
        assert registry.get_sample_value(*gauge) == 1  # one day's report is not the whole store's
        assert client.get("/api/v1/reconcile", headers=headers).json()["ties"] is False
        assert registry.get_sample_value(*gauge) == 0
