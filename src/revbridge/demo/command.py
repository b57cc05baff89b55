"""revbridge demo: the reference health system's traffic through the real sources, end to end.

It creates a fresh embedded store under ``$REVBRIDGE_HOME/demo`` (or runs on the empty database
``--db`` names, ``database.py``), sends its log lines to ``revbridge.log`` there, applies the reference
configuration, starts the service (MLLP listener, HTTP API, directory source, workers, posting
loop, ERP outbox to the embedded ledger), feeds generated traffic exactly as hospital systems
would, simulates the ERP outage the generator scheduled, waits until everything settled, and
prints what happened beside the generator's ground truth. Then it serves until interrupted.
"""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from revbridge.bootstrap import Runtime, build
from revbridge.cli.common import SettingsOption, console, err_console
from revbridge.cli.reconcile import print_report
from revbridge.cli.tables import Column, Grid, print_grid
from revbridge.connectors.base import Connector, ConnectorUnavailable, Limits, Receipt
from revbridge.demo import database, generate
from revbridge.demo.feed import Fed, Targets, feed
from revbridge.demo.opening import describe, load_opening
from revbridge.demo.progress import Stages
from revbridge.demo.truth import Fault, FaultKind, Message, Traffic
from revbridge.ledger.journal import Journal
from revbridge.observability.logging import to_file
from revbridge.pipeline import reconciliation
from revbridge.security.roles import Role
from revbridge.service.runner import Service
from revbridge.settings import load_settings
from revbridge.store import apikeys, journals, workitems
from revbridge.store.views import dashboard


class Outage:
    """The ERP outage the generator scheduled, applied at the connector boundary: while it is on,
    every call fails as an unreachable ERP would, and the outbox retries with backoff."""

    def __init__(self, faults: tuple[Fault, ...], *, at_least: float = 3.0) -> None:
        self.windows = [
            (f.start, f.end) for f in faults if f.kind is FaultKind.ERP_OUTAGE and f.start and f.end
        ]
        self.active = False
        self.calls_refused = 0
        # Simulated minutes pass in milliseconds of feeding: an outage is held for at least this
        # many real seconds, so the outbox really meets it.
        self._at_least = at_least
        self._began = 0.0
        self._seen: datetime | None = None
        self._lock = threading.Lock()

    def advance(self, message: Message) -> None:
        """Simulated time is the latest send time fed so far (senders run in parallel)."""
        with self._lock:
            if self._seen is None or message.at > self._seen:
                self._seen = message.at
            inside = any(start <= self._seen < end for start, end in self.windows)
            if inside and not self.active:
                self.active, self._began = True, time.monotonic()
            elif not inside and self.active and time.monotonic() - self._began >= self._at_least:
                self.active = False

    def end(self, runtime: Runtime, *, patience: float = 15.0) -> None:
        """Hold the outage until the outbox has met it: at least ``at_least`` seconds, and until an
        ERP call was refused (closing the open batch windows gives it journals to send). When the
        traffic ended before the window (a small run), the outage happens now, at the day's end."""
        with self._lock:
            if not self.windows:
                return
            if not self.active:
                self.active, self._began = True, time.monotonic()
        assert runtime.posting is not None
        runtime.posting.tick(force_windows=True)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline and (
            not self.calls_refused or time.monotonic() - self._began < self._at_least
        ):
            time.sleep(0.1)
        with self._lock:
            self.active = False


class OutageAware:
    """A connector that is unreachable while the demo's outage is on."""

    def __init__(self, inner: Connector, outage: Outage) -> None:
        self._inner = inner
        self._outage = outage

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def limits(self) -> Limits:
        return self._inner.limits

    def _check(self) -> None:
        if self._outage.active:
            self._outage.calls_refused += 1
            raise ConnectorUnavailable("the ERP is down (demo outage window)", retry_after=1.0)

    def submit(self, journal: Journal) -> Receipt:
        self._check()
        return self._inner.submit(journal)

    def lookup(self, reference: str) -> Receipt | None:
        self._check()
        return self._inner.lookup(reference)

    def close(self) -> None:
        self._inner.close()


def _default_start(today: date) -> date:
    """The latest weekday on or before today: payers remit on weekdays."""
    while today.weekday() >= 5:
        today -= timedelta(days=1)
    return today


def _settled(runtime: Runtime, inbox: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.is_file() and not p.name.endswith(".ready") for p in inbox.iterdir()):
            time.sleep(0.5)  # the directory source has files still to store
            continue
        status = runtime.status()
        busy = sum(status["messages"].get(s, 0) for s in ("pending", "processing"))
        if not busy:
            assert runtime.posting is not None
            runtime.posting.tick(force_windows=True)
            journal_states = runtime.status()["journals"]
            if not any(journal_states.get(s, 0) for s in ("staged", "submitting", "accepted")):
                return True
        time.sleep(0.5)
    return False


def demo(
    days: Annotated[int, typer.Option("--days", min=1, help="Simulated days of traffic.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same traffic.")] = 7,
    scale: Annotated[
        float, typer.Option("--scale", min=0.01, help="Volume factor (1.0: ~5,000 msgs/day).")
    ] = 1.0,
    start: Annotated[str | None, typer.Option("--start", help="First simulated day (YYYY-MM-DD).")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Print the summary and exit.")] = False,
    port: Annotated[int | None, typer.Option("--port", help="HTTP port (default from settings).")] = None,
    mllp_port: Annotated[
        int | None, typer.Option("--mllp-port", help="MLLP port (default from settings).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="An empty database to run on, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/demo "
            "(default: a fresh SQLite file under $REVBRIDGE_HOME/demo). Its schema is upgraded.",
            show_default=False,
        ),
    ] = None,
    settings: SettingsOption = None,
) -> None:
    """Run the demo health system end to end on a fresh store, then serve it."""
    base = load_settings(settings)
    home = (base.home / "demo").resolve()
    if db is not None:
        database.check_empty(db)  # before the home (with the keys of what it holds) goes
    if home.exists():
        shutil.rmtree(home)
    cfg = load_settings(
        settings, home=home, db=database.url_for(home, db), http_port=port, mllp_port=mllp_port
    )
    log = home / "revbridge.log"
    with to_file(log):
        console.print(f"logs: {log}", highlight=False, soft_wrap=True)  # a path stays copyable
        first_day = date.fromisoformat(start) if start else _default_start(date.today())
        console.print(
            f"generating {days} day(s) of traffic from {first_day} (seed {seed}, scale {scale}) ..."
        )
        traffic = generate(start=first_day, days=days, seed=seed, scale=scale)
        runtime = build(cfg, upgrade=True)
        try:
            console.print(f"store: {runtime.db.url}", highlight=False, soft_wrap=True)
            _run(runtime, traffic, serve=not no_serve)
        finally:
            runtime.close()


def _run(runtime: Runtime, traffic: Traffic, *, serve: bool) -> None:
    now = runtime.clock.now()
    anchor = runtime.settings.resolved_audit_anchor
    _key, system_key = apikeys.create(
        runtime.db, name="demo feeds", roles=(Role.SYSTEM,), now=now, actor="demo", anchor=anchor
    )
    logins = {
        role: apikeys.create(
            runtime.db, name=f"demo {role.value}", roles=(role,), now=now, actor="demo", anchor=anchor
        )[1]
        for role in (Role.ADMIN, Role.STEWARD, Role.APPROVER, Role.OPERATOR, Role.VIEWER)
    }
    console.print(describe(load_opening(runtime.db, traffic, now=now)), highlight=False)
    outage = Outage(traffic.faults)
    service = Service(
        runtime, workers=2, connector_for=lambda le: OutageAware(runtime.connector_for(le), outage)
    )
    service.start()
    try:
        assert service.inbox is not None
        targets = Targets(
            mllp_port=service.mllp_port, http_port=service.http_port, inbox=service.inbox, api_key=system_key
        )
        started = time.monotonic()
        with Stages(console, len(traffic.messages), runtime.status) as stages:
            fed = _feed(traffic, targets, outage, stages)
            outage.end(runtime)
            fed_in = time.monotonic() - started
            settled = _settled(runtime, service.inbox, timeout=300)
        elapsed = time.monotonic() - started
        _summary(runtime, traffic, fed, outage, elapsed, settled)
        console.print(
            f"fed in {fed_in:.1f} s; all processed, posted and acknowledged by the ERP after {elapsed:.1f} s"
        )
        _print_later(runtime)
        if not serve:
            return
        console.print(
            f"\nworkbench: http://{runtime.settings.http_host}:{service.http_port}/  "
            f"(MLLP on {runtime.settings.mllp_host}:{service.mllp_port})"
        )
        console.print("demo logins (paste one at the sign-in page):")
        for role, key in logins.items():
            console.print(f"  {role.value:<9} {key}", highlight=False)
        (runtime.settings.home / "demo-logins.txt").write_text(
            "".join(f"{role.value} {key}\n" for role, key in logins.items()), encoding="utf-8"
        )
        console.print(
            f"serving until Ctrl-C (logs: {runtime.settings.home / 'revbridge.log'})",
            highlight=False,
            soft_wrap=True,
        )
        service.wait()
    finally:
        service.stop()


def _print_later(runtime: Runtime) -> None:
    """How to look at this store again with the other commands (its key file is the demo's)."""
    home = runtime.settings.home
    own = runtime.settings.db_url == database.url_for(home, None)  # the home finds its own file
    db = "" if own else f" --db {runtime.db.url}"
    console.print(f"later: REVBRIDGE_HOME={home} revbridge reconcile{db}", highlight=False, soft_wrap=True)


def _feed(traffic: Traffic, targets: Targets, outage: Outage, stages: Stages) -> Fed:
    return feed(traffic.messages, targets, on_sent=stages.sent, before_send=outage.advance)


def _table(title: str, *columns: str, figures: int = 1) -> Grid:
    """The last ``figures`` columns hold numbers (right-justified); the first names the row."""
    first = len(columns) - figures
    return Grid(title, tuple(Column(c, numeric=n >= first) for n, c in enumerate(columns)))


def _summary(
    runtime: Runtime, traffic: Traffic, fed: Fed, outage: Outage, elapsed: float, settled: bool
) -> None:
    sent = len(traffic.messages)
    console.rule(
        f"revbridge demo: {sent:,} messages in {elapsed:.1f} s ({sent / elapsed:,.0f} msg/s end to end)"
    )
    if fed.failures:
        err_console.print(f"feeding failures: {fed.failures}")
    if not settled:
        err_console.print("[bold red]not everything settled within the time limit[/bold red]")
    with runtime.db.reading() as tx:
        by_source = _by_source(dashboard.messages_by_channel(tx))
        latencies = dashboard.posting_latencies(tx, lane="realtime")
    _print_messages(by_source, traffic)
    _print_journals(runtime)
    codes = workitems.counts_by_code(runtime.db)
    _print_items(codes)
    faults = _table("deliberate faults", "fault", "where it should surface", "caught")
    for fault in traffic.faults:
        faults.add_row(fault.kind.value, fault.surfaces, _caught(runtime, fault, codes, by_source, outage))
    print_grid(console, faults)
    _print_latency(latencies)
    _print_reconciliation(runtime)


def _by_source(tallies: tuple[dashboard.Tally, ...]) -> Counter[tuple[str, str]]:
    """Messages by source (the channel's kind: ``mllp``, ``file``, ``http``) and state."""
    by_source: Counter[tuple[str, str]] = Counter()
    for tally in tallies:
        by_source[(tally.group.split(":", 1)[0], tally.state)] += tally.count
    return by_source


def _print_messages(by_source: Counter[tuple[str, str]], traffic: Traffic) -> None:
    states = sorted({s for _, s in by_source})
    table = _table("messages by source and terminal state", "source", *states, figures=len(states))
    for source in sorted({src for src, _ in by_source}):
        table.add_row(source, *(f"{by_source.get((source, s), 0):,}" for s in states))
    print_grid(console, table)
    expected = traffic.statuses()
    console.print(f"ground truth: {', '.join(f'{n:,} {s}' for s, n in sorted(expected.items()))}")


def _print_journals(runtime: Runtime) -> None:
    journal_table = _table("journals by lane and state", "lane", "state", "count")
    for stored in Counter(
        (j.journal.lane.value, j.status) for j in journals.list_journals(runtime.db, limit=100000)
    ).items():
        (lane, status), n = stored
        journal_table.add_row(lane, status, f"{n:,}")
    print_grid(console, journal_table)


def _print_items(codes: dict[str, int]) -> None:
    items = _table("open work items by code", "code", "count")
    for code, n in sorted(codes.items()):
        items.add_row(code, f"{n:,}")
    print_grid(console, items)


def _print_latency(latencies: tuple[float, ...]) -> None:
    if not latencies:
        return
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    console.print(
        f"receipt-to-posted latency for realtime (cash) journals: p50 {cuts[49]:.2f} s, "
        f"p90 {cuts[89]:.2f} s, p99 {cuts[98]:.2f} s over {len(latencies):,} journals "
        "(the outage window included)"
    )


def _print_reconciliation(runtime: Runtime) -> None:
    report = reconciliation.report(
        runtime.db, day=None, now=runtime.clock.now(), in_flight=timedelta(minutes=30)
    )
    print_report(report)
    verdict = (
        "[green]reconciliation ties[/green]"
        if report.ties
        else f"[bold red]{len(report.breaks)} break(s)[/bold red]"
    )
    console.print(verdict)


def _caught(
    runtime: Runtime, fault: Fault, codes: dict[str, int], by_source: Counter[tuple[str, str]], outage: Outage
) -> str:
    match fault.kind:
        case FaultKind.ERP_OUTAGE:
            return (
                f"yes: {outage.calls_refused} ERP calls refused, retried after recovery"
                if outage.calls_refused
                else "no calls fell in the window"
            )
        case FaultKind.RESENT_DFT:
            n = by_source.get(("mllp", "duplicate"), 0)
            return f"yes: {n} duplicate(s) on MLLP, original ACK resent" if n else "NO"
        case FaultKind.DUPLICATE_835:
            n = by_source.get(("file", "duplicate"), 0)
            return f"yes: {n} duplicate file(s)" if n else "NO"
        case _:
            n = codes.get(fault.code, 0)
            return f"yes: {fault.code} work item(s): {n}" if n else "NO"
