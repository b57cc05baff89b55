"""Posting: ERP calls per 10,000 charges with the default batch window, and journals/s through the
outbox to the embedded ledger and to Tryton.

1. Calls. 10,000 charges (two lines each) arrive over ten minutes across two legal entities;
   windows open and close by the reference configuration's policy (300 s or 5,000 lines, the
   default), each closed with the posting stage's ``close_window``, and the journals go through the
   outbox to the embedded ledger. Target: at most one ERP call per legal entity per window. The
   floor is one call per charge, what a naive integration makes.
2. Embedded. 2,000 five-line journals staged, then posted by the dispatcher (claim, load,
   submit, one outcome transaction per round) on SQLite. Floor: the same documents and entries
   inserted bare, one transaction per journal, at the same durability (WAL, synchronous=FULL).
3. Tryton. 200 journals through the dispatcher into trytond on PostgreSQL (provisioned by
   tests/support/tryton.py), with the connector's default limits (20 calls/s, 2 at once) and
   unthrottled (4 at once). Floor: the two JSON-RPC calls a move needs (create, post), made
   back to back by a bare httpx client.

4. Cloud ERPs (bench/erp_posting.py): per ERP, journals/s through the outbox to its test server
   against the connector driven bare (the floor), and ERP calls for the charges of part 1.

    .venv/bin/python bench/posting.py [--no-tryton] [--no-cloud]
"""

from __future__ import annotations

import argparse
import base64
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from revbridge.bootstrap import reference_config_dir
from revbridge.cli.config import load_dir
from revbridge.connectors.base import Connector, Limits
from revbridge.connectors.embedded import EmbeddedLedger
from revbridge.connectors.tryton import DEFAULT_LIMITS, TrytonConnector, TrytonSettings, encode
from revbridge.core.clock import SystemClock
from revbridge.core.money import Money
from revbridge.ledger.journal import (
    Dimensions,
    Journal,
    JournalDraft,
    JournalLine,
    Lane,
    realtime_journal,
)
from revbridge.ledger.role import AccountRole as R
from revbridge.ledger.window import WindowPolicy, is_due, window_key
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.rules import close_window
from revbridge.store import Database, migrate
from revbridge.store import journals as store
from revbridge.store.general_ledger import period_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

DAY = date(2026, 6, 15)
T0 = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
CENTRES = (("CC-4100", "4100"), ("CC-4110", "4110"), ("CC-4120", "4120"), ("CC-4130", "4130"))
PAYERS = (("MEDICARE", "1211"), ("MEDICAID", "1212"), ("COMMERCIAL", "1214"))


def _line(le: str, account: str, role: R, amount: str, centre: str = "", payer: str = "") -> JournalLine:
    made = JournalLine.signed(
        account=account,
        role=role,
        amount=Money.of(amount),
        dimensions=Dimensions(legal_entity=le, facility="F01", cost_center=centre, payer_class=payer),
    )
    assert made is not None
    return made


def charge(n: int) -> JournalDraft:
    le = ("MHN", "MHS")[n % 2]
    centre, revenue = CENTRES[n % len(CENTRES)]
    payer, ar = PAYERS[n % len(PAYERS)]
    amount = f"{(n * 37) % 900 + 25}.{n % 100:02d}"
    return JournalDraft(
        lane=Lane.BATCH,
        legal_entity=le,
        currency="USD",
        posting_date=DAY,
        source_document_key=f"charge:{n}",
        lines=(
            _line(le, ar, R.AR_PAYER, amount, payer=payer),
            _line(le, revenue, R.GROSS_REVENUE, f"-{amount}", centre, payer),
        ),
    )


def windows(count: int, policy: WindowPolicy) -> list[Journal]:
    """Charges arriving evenly over ten minutes, windowed per legal entity by the policy."""
    journals: list[Journal] = []
    open_windows: dict[str, tuple[datetime, list[JournalDraft]]] = {}
    step = timedelta(minutes=10) / count
    for n in range(count):
        now = T0 + step * n
        for le, (opened, drafts) in list(open_windows.items()):
            if is_due(policy, opened_at=opened, line_count=2 * len(drafts), now=now):
                journals += close_window(drafts, window_key(le, opened))
                del open_windows[le]
        draft = charge(n)
        opened, drafts = open_windows.setdefault(draft.legal_entity, (now, []))
        drafts.append(draft)
    for le, (opened, drafts) in open_windows.items():
        journals += close_window(drafts, window_key(le, opened))
    return journals


def remittance(n: int, le: str = "MHN") -> Journal:
    paid = Decimal(400 + n % 500) + Decimal(n % 100) / 100
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=le,
        currency="USD",
        posting_date=DAY,
        source_document_key=f"835:BENCH:{n}",
        lines=(
            _line(le, "1015", R.CASH_CLEARING, str(paid)),
            _line(le, "4510", R.CONTRACTUAL_ALLOWANCE, "210.00", "CC-4100", "MEDICARE"),
            _line(le, "1220", R.AR_PATIENT, "35.00", payer="MEDICARE"),
            _line(le, "2155", R.PAYER_CREDIT_BALANCE, "1.25", payer="MEDICARE"),
            _line(le, "1211", R.AR_PAYER, str(-(paid + Decimal("246.25"))), payer="MEDICARE"),
        ),
    )
    return realtime_journal(draft)


def _engine(tmp: Path, name: str) -> Database:
    engine = Database.open(f"sqlite:///{tmp / name}")
    migrate.upgrade(engine)
    return engine


def post(engine, journals: list[Journal], connector: Connector, *, limit: int = 200) -> tuple[float, Metrics]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with engine.transaction() as conn:
        for journal in journals:
            store.stage_journal(conn, journal, connector=connector.name, first_received_at=now, now=now)
    metrics = Metrics()
    dispatcher = Dispatcher(
        engine,
        lambda _le: connector,
        clock=SystemClock(),
        metrics=metrics,
        config=OutboxConfig(owner="bench", claim_limit=limit),
    )
    start = time.perf_counter()
    while store.counts(engine)["staged"]:  # retries wait for their time: keep going until all are out
        if dispatcher.drain(timeout=3600) == 0:
            time.sleep(0.05)
    elapsed = time.perf_counter() - start
    dispatcher.close()
    counts = store.counts(engine)
    assert counts["posted"] == len(journals), counts
    assert counts["failed"] == 0, counts
    return elapsed, metrics


def bench_calls(tmp: Path, charges: int) -> None:
    policy = load_dir(reference_config_dir()).master.posting.batch_window
    journals = windows(charges, policy)
    engine = _engine(tmp, "calls.db")
    _elapsed, metrics = post(engine, journals, EmbeddedLedger(engine, clock=SystemClock()))
    calls = sum(s.value for s in metrics.erp_calls.collect()[0].samples if s.name.endswith("_total"))
    per_le: dict[str, int] = defaultdict(int)
    for journal in journals:
        per_le[journal.legal_entity] += 1
    windows_opened = len({j.reference for j in journals})
    print(
        f"calls: {charges:,} charges, window {policy.max_age.total_seconds():.0f} s"
        f" / {policy.max_lines:,} lines"
    )
    print(f"  windows closed: {windows_opened} ({dict(per_le)} journals by legal entity)")
    print(
        f"  ERP calls: {calls:.0f}; per legal entity per window: {calls / windows_opened:.2f} (target <= 1)"
    )
    print(f"  floor (one call per charge): {charges:,} calls; ratio {calls / charges:.4f}")
    engine.close()


def floor_embedded(path: Path, journals: list[Journal]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE doc (id INTEGER PRIMARY KEY, reference TEXT UNIQUE, le TEXT, day TEXT, period TEXT)"
    )
    conn.execute(
        "CREATE TABLE entry (doc INTEGER, account TEXT, debit INTEGER, credit INTEGER, currency TEXT)"
    )
    start = time.perf_counter()
    for j in journals:
        conn.execute("BEGIN")
        cur = conn.execute(
            "INSERT INTO doc (reference, le, day, period) VALUES (?, ?, ?, ?)",
            (j.id, j.legal_entity, j.posting_date.isoformat(), period_of(j.posting_date)),
        )
        conn.executemany(
            "INSERT INTO entry VALUES (?, ?, ?, ?, ?)",
            [(cur.lastrowid, ln.account, ln.debit.to_minor(), ln.credit.to_minor(), "USD") for ln in j.lines],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(journals) / elapsed


def bench_embedded(tmp: Path, count: int) -> None:
    journals = [remittance(n) for n in range(count)]
    floor = floor_embedded(tmp / "floor.db", journals)
    engine = _engine(tmp, "embedded.db")
    elapsed, _metrics = post(engine, journals, EmbeddedLedger(engine, clock=SystemClock()))
    rate = len(journals) / elapsed
    print(f"embedded: {len(journals):,} five-line journals through the outbox on SQLite")
    print(
        f"  outbox -> embedded: {rate:,.0f} journals/s;"
        f" floor (bare insert per journal): {floor:,.0f}/s; ratio {rate / floor:.2f}"
    )
    engine.close()


def floor_tryton(connector: TrytonConnector, journals: list[Journal]) -> float:
    """Create + post per journal with a bare client: the two calls a move cannot do without."""
    values = [connector.move_values(j) for j in journals]  # master data looked up beforehand
    s = connector.settings
    client = httpx.Client(base_url=s.url, timeout=60)
    login = client.post(
        f"/{s.database}/rpc/",
        json={"id": 0, "method": "common.db.login", "params": [s.user, {"password": s.password}, "en"]},
    ).json()["result"]
    auth = {
        "Authorization": "Session " + base64.b64encode(f"{s.user}:{login[0]}:{login[1]}".encode()).decode()
    }
    context = connector.context()
    start = time.perf_counter()
    for n, value in enumerate(values):
        body = {"id": n, "method": "model.account.move.create", "params": encode([[value], context])}
        (move_id,) = client.post(f"/{s.database}/rpc/", json=body, headers=auth).json()["result"]
        body = {"id": n, "method": "model.account.move.post", "params": [[move_id], context]}
        assert "error" not in client.post(f"/{s.database}/rpc/", json=body, headers=auth).json()
    elapsed = time.perf_counter() - start
    client.close()
    return len(values) / elapsed


def bench_tryton(tmp: Path) -> None:
    import tryton as tryton_support

    server = tryton_support.start(tmp / "trytond")
    try:
        settings = TrytonSettings(
            url=server.url, database=server.database, password=tryton_support.ADMIN_PASSWORD,
            accounts=dict(tryton_support.ACCOUNT_MAP),
        )  # fmt: skip
        count = 100
        probe = TrytonConnector(settings)
        floor = floor_tryton(probe, [remittance(n, "MHS") for n in range(100_000, 100_000 + count)])
        probe.close()
        print(f"tryton: {count} five-line journals through the outbox into trytond 8 on PostgreSQL")
        print(f"  floor (bare create + post, one after the other): {floor:.1f} journals/s")
        runs = (
            ("default limits (20/s, 2 at once)", DEFAULT_LIMITS),
            ("unthrottled (4 at once)", Limits(rate_per_second=10_000, burst=10_000, concurrency=4)),
        )
        for n, (label, limits) in enumerate(runs):
            connector = TrytonConnector(settings, limits=limits)
            engine = _engine(tmp, f"tryton{n}.db")
            journals = [remittance(m, "MHS") for m in range(n * 10_000, n * 10_000 + count)]
            elapsed, metrics = post(engine, journals, connector)
            rate = count / elapsed
            retried = metrics.journals.labels("realtime", "retry")._value.get()
            print(
                f"  outbox -> tryton, {label}: {rate:.1f} journals/s; ratio to floor {rate / floor:.2f};"
                f" retried {retried:.0f}"
            )
            connector.close()
            engine.close()
    finally:
        tryton_support.stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tryton", action="store_true", help="skip the Tryton part")
    parser.add_argument("--no-cloud", action="store_true", help="skip the cloud ERPs")
    parser.add_argument("--cloud-journals", type=int, default=500, help="journals per cloud ERP")
    parser.add_argument("--charges", type=int, default=10_000, help="charges for the ERP-call count")
    parser.add_argument("--journals", type=int, default=2_000, help="journals for the embedded ledger")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rb-bench-posting-") as tmp:
        bench_calls(Path(tmp), args.charges)
        bench_embedded(Path(tmp), args.journals)
        if not args.no_tryton:
            bench_tryton(Path(tmp))
        if not args.no_cloud:
            import erp_posting

            policy = load_dir(reference_config_dir()).master.posting.batch_window
            erp_posting.bench_calls(Path(tmp), windows(args.charges, policy), args.charges)
            erp_posting.bench_rates(Path(tmp), remittance, args.cloud_journals)


if __name__ == "__main__":
    main()
