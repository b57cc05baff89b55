"""Soak: `revbridge serve` as users run it, held at a hospital's peak rate for half an hour.

A fresh home (the embedded SQLite store, or ``--db`` a PostgreSQL database of your own) gets a
``system`` API key from ``revbridge apikey create``; then ``revbridge serve`` runs as a
subprocess on ports picked here (HTTP, MLLP) with its drop folder, and the demo health system's
traffic (src/revbridge/demo) goes in through the real sources in the demo's proportions, paced at
``--rate`` messages a second in the day's order: HL7 ADT/DFT over MLLP (``--senders`` connections
per facility, each patient always on the same one, each message sent after the last one's ACK),
FHIR and portal payments over HTTP (a client per facility, each request after the last one's
answer), X12 837/835 files into the drop folder. The traffic is days
of the demo at ``--scale`` (generated before serve starts, in other processes, and cached): each
day is a new window of the same simulated hospital, so every visit, claim and payment is new and
deduplication keeps them all.

Every ``--interval`` seconds a row: messages sent and acknowledged per second, the backlog
(messages pending or processing, journals waiting for the ERP, read through the store), the
cash-posting latency over the interval (receipt to posted at the embedded ERP, realtime
journals: remittances, patient payments, refunds) p50/p99 and the p99 of patients' portal
payments and refunds alone (``pt p99``: the payers' 835 files' own journals left out), and the
RSS of serve and of every process under it. Written as a plot-ready CSV and a four-panel PNG
(rate, backlog, latency, RSS).

The verdict, after warm-up (the first 5 minutes, or the first 20% of a shorter run): every
process's RSS grew under 10% (median of the last third over median of the first third), the
backlog did not grow (last third's mean within two seconds' traffic of the first third's), the
cash p99 was under 2 s in every interval, and the senders held the rate (95%). ``--strict``
exits 1 on a miss. The floor printed is the offered rate itself: a soak cannot acknowledge more.

    .venv/bin/python bench/soak.py [--rate 300] [--minutes 30] [--interval 10] [--workers 1]
        [--db postgresql+psycopg://...] [--out DIR] [--strict]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from revbridge.demo.feed import Fed, Targets, feed
from revbridge.demo.truth import Channel, Message
from revbridge.store import journals, queue
from revbridge.store.database import Database
from revbridge.store.views import dashboard
from soak_parts.report import Sample, verdict, write_chart, write_csv
from soak_parts.served import Served
from soak_parts.traffic import days_of_traffic, lane_of, load_days

START = date(2026, 11, 2)  # a Monday
GRACE = 5.0  # seconds a lagging sender may run past the end before it is stopped


@dataclass
class Counters:
    """What the senders did since the last sample (the sampler takes and resets them)."""

    sent: int = 0
    total: int = 0  # sent in the whole run
    acked: int = 0
    lag: float = 0.0  # the latest a send started behind its schedule, seconds
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[int, int, float]:
        with self.lock:
            taken = (self.sent, self.acked, self.lag)
            self.sent, self.acked, self.lag = 0, 0, 0.0
        return taken


class Sampler:
    """Every ``interval`` seconds one Sample, read from the counters, the store and /proc."""

    def __init__(self, served: Served, counters: Counters, interval: float) -> None:
        import psutil

        assert served.process is not None
        self.root = psutil.Process(served.process.pid)
        self.db = Database.open(served.db_url, pool_size=2)
        self.counters, self.interval, self.inbox = counters, interval, served.inbox
        self.samples: list[Sample] = []
        self.phase = "run"
        self._stop = threading.Event()
        self._began = time.monotonic()
        self._since = datetime.now(UTC)
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.db.close()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.interval - (time.monotonic() - last) % self.interval):
            now = time.monotonic()
            self.samples.append(self.sample(now - last))
            last = now
            print(self.samples[-1].line(), flush=True)

    def sample(self, seconds: float) -> Sample:
        sent, acked, lag = self.counters.take()
        until = datetime.now(UTC)
        with self.db.reading() as tx:
            by_source = dashboard.posting_latencies_by_source(tx, since=self._since, lane="realtime")
        self._since = until
        states = journals.counts(self.db)
        return Sample(
            t=time.monotonic() - self._began,
            phase=self.phase,
            sent_per_s=sent / seconds,
            acked_per_s=acked / seconds,
            lag=lag,
            backlog=queue.pending_count(self.db),
            files_waiting=sum(1 for p in self.inbox.iterdir() if p.suffix != ".ready"),
            journals_waiting=states.get("staged", 0) + states.get("submitting", 0),
            cash=tuple(sorted(x for values in by_source.values() for x in values)),
            patients=tuple(sorted(by_source.get("portal", ()))),
            rss=self.rss(),
            load=os.getloadavg()[0],
        )

    def rss(self) -> dict[str, float]:
        """MB resident per process: serve, then every process under it (its workers) by pid."""
        import psutil

        found: dict[str, float] = {}
        for n, proc in enumerate([self.root, *self.root.children(recursive=True)]):
            try:
                role = "serve" if n == 0 else "worker" if "worker" in proc.cmdline() else "child"
                found[role if n == 0 else f"{role}-{proc.pid}"] = proc.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                continue
        return found


def paced(
    days: Iterator[list[Message]], rate: float, senders: int
) -> Iterator[tuple[list[Message], dict[int, float]]]:
    """Each day's messages (MLLP ones moved onto their patient's connection) with the monotonic
    time each is due: one every 1/rate seconds in the day's order, days back to back."""
    started = time.monotonic()
    index = 0
    for day in days:
        due: dict[int, float] = {}
        moved: list[Message] = []
        for m in day:
            lane = replace(m, facility=lane_of(m, senders)) if m.channel is Channel.MLLP else m
            due[id(lane)] = started + index / rate
            moved.append(lane)
            index += 1
        yield moved, due


class Overtime(ConnectionAbortedError):
    """The run's time is up. Raised in a sender before it sends: feed() closes an MLLP connection
    on an OSError, and its HTTP loop stops on any exception, so a lagging sender stops on time."""


def groups(messages: list[Message]) -> list[list[Message]]:
    """The senders' groups, each fed by its own feed() (its own HTTP client, its MLLP
    connections): one per facility, and one for every file (feed() names a dropped file by its
    place in its call, so files must share one call)."""
    found: dict[str, list[Message]] = {}
    for m in messages:
        key = "files" if m.channel is Channel.FILE else m.facility.split("#")[0]
        found.setdefault(key, []).append(m)
    return list(found.values())


def send_all(
    days: Iterator[list[Message]],
    targets: Targets,
    counters: Counters,
    *,
    rate: float,
    senders: int,
    until: float,
) -> None:
    """Feed the days at ``rate`` until ``until`` (monotonic), however far the senders lag."""
    for messages, due in paced(days, rate, senders):
        cut = [m for m in messages if due[id(m)] < until]

        def before(m: Message, due: dict[int, float] = due) -> None:
            wait = due[id(m)] - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() >= until + GRACE:
                raise Overtime
            with counters.lock:
                counters.sent += 1
                counters.total += 1
                counters.lag = max(counters.lag, -wait)

        def acked(_m: Message) -> None:
            with counters.lock:
                counters.acked += 1

        def group(batch: list[Message]) -> None:
            try:
                fed: Fed = feed(batch, targets, on_sent=acked, before_send=before)
            except Overtime:  # its HTTP sender stopped; each MLLP one stops before its next send
                return
            with counters.lock:
                for outcome, n in fed.acks.items():
                    counters.outcomes[outcome] = counters.outcomes.get(outcome, 0) + n
                counters.failures.extend(f for f in fed.failures if Overtime.__name__ not in f)

        threads = [threading.Thread(target=group, args=(batch,)) for batch in groups(cut)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(cut) < len(messages) or time.monotonic() >= until + GRACE:
            return


def drain(served: Served, patience: float) -> float | None:
    """Seconds until nothing is pending, processing, in the drop folder or waiting for the ERP
    (the batch windows close on their own schedule); None if not within ``patience``."""
    began = time.monotonic()
    db = Database.open(served.db_url, pool_size=1)
    try:
        while time.monotonic() - began < patience:
            states = journals.counts(db)
            waiting = states.get("staged", 0) + states.get("submitting", 0)
            busy = any(p.suffix != ".ready" for p in served.inbox.iterdir())
            if not busy and not queue.pending_count(db) and not waiting:
                return time.monotonic() - began
            time.sleep(1)
    finally:
        db.close()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0, help="messages a second offered")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the rate is held")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--db", default=None, help="an empty database for serve (default: embedded SQLite)")
    parser.add_argument(
        "--scale", type=float, default=None, help="demo scale of a day (default: fits the run)"
    )
    parser.add_argument("--senders", type=int, default=2, help="MLLP connections per facility")
    parser.add_argument("--out", type=Path, default=Path("."), help="where soak.csv and soak.png go")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "revbridge-soak-traffic")
    parser.add_argument("--log-level", default="WARNING", help="serve's log level")
    parser.add_argument("--drain-seconds", type=float, default=300.0)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    needed = int(args.rate * args.minutes * 60) + 1
    scale = args.scale or min(10.0, max(0.05, needed / 4000))
    print(f"soak: {args.rate:g} msg/s for {args.minutes:g} min ({needed:,} messages), demo scale {scale:g}")
    generated = time.monotonic()
    files = days_of_traffic(START, needed=needed, scale=scale, cache=args.cache)
    print(f"traffic: {len(files)} demo days ready in {time.monotonic() - generated:.0f} s ({args.cache})")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="soak-home-") as tmp:
        ok = run(args, files, Path(tmp))
    if args.strict and not ok:
        sys.exit(1)


def run(args: argparse.Namespace, files: list[Path], home: Path) -> bool:
    """Serve, send, sample, drain, stop; write the CSV and chart; the verdict."""
    served = Served(home, db=args.db, workers=args.workers, log_level=args.log_level)
    key = served.start()
    counters = Counters()
    sampler = Sampler(served, counters, args.interval)
    where = served.db_url.split(":")[0]
    print(f"serve --workers {args.workers} on {where}: HTTP {served.http_port}, MLLP {served.mllp_port}")
    print(Sample.header_line(), flush=True)
    sampler.start()
    try:
        began = time.monotonic()
        targets = Targets(served.mllp_port, served.http_port, served.inbox, key)
        until = began + args.minutes * 60
        send_all(load_days(files), targets, counters, rate=args.rate, senders=args.senders, until=until)
        sending = time.monotonic() - began
        sampler.phase = "drain"
        drained = drain(served, args.drain_seconds)
    finally:
        sampler.stop()
        code = served.stop()
    total = counters.total
    print(f"sent {total:,} messages in {sending:.0f} s: {total / sending:,.1f} msg/s (floor: {args.rate:g})")
    answers = dict(sorted(counters.outcomes.items()))
    print(f"answers (days sent whole): {answers}; sender failures: {len(counters.failures)}")
    after = f"in {drained:.0f} s" if drained is not None else f"NOT within {args.drain_seconds:g} s"
    print(f"drained {after} after the last send; serve exited {code}")
    csv_path, png_path = args.out / "soak.csv", args.out / "soak.png"
    write_csv(sampler.samples, csv_path)
    write_chart(sampler.samples, png_path, rate=args.rate)
    print(f"wrote {csv_path} and {png_path}")
    warmup = min(300.0, 0.2 * args.minutes * 60)
    return verdict(
        sampler.samples,
        warmup=warmup,
        rate=args.rate,
        failures=len(counters.failures),
        drained=drained is not None,
    )


if __name__ == "__main__":
    main()
