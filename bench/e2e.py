"""End to end: a simulated day of the demo health system through the real sources to the ERP.

The day (default 10x the demo's volume) is fed over MLLP, HTTP and the directory source into a
fresh embedded store served by the real service (workers, posting loop, outbox to the embedded
ledger). Two runs:
- saturated: everything as fast as the senders can go; prints messages/s from the first send
  until the last journal is acknowledged;
- paced: the same day compressed into ``--minutes`` of wall time (the messages keep their order
  and relative spacing), which is how latency is meant: receipt-to-posted for cash events
  (realtime journals: remittances, patient payments, refunds), p50/p99. Target: p99 under 2 s.
The floor is bench/intake.py's bare INSERT+COMMIT rate (a message that is only stored).

    .venv/bin/python bench/e2e.py [--scale 10] [--minutes 10] [--skip-saturated]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from intake import PAYLOAD, floor_sqlite
from revbridge.bootstrap import Runtime, build
from revbridge.demo import generate
from revbridge.demo.feed import Targets, feed
from revbridge.demo.truth import Message, Traffic
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.settings import Settings
from revbridge.store import apikeys
from revbridge.store.schema import event_lines, events, journals, messages

START = date(2026, 11, 2)  # a Monday: payers remit on weekdays


def run(traffic: Traffic, home: Path, *, minutes: float | None) -> tuple[float, list[float], int]:
    """Feed the day into a fresh service in ``home``; wait until every journal is posted.

    Prints each format's cash-journal latency and returns the seconds from the first send to the
    last acknowledgement, every cash journal's receipt-to-posted seconds, and the messages sent.
    """
    settings = Settings(
        home=home,
        db=f"sqlite:///{home / 'e2e.db'}",
        http_port=0,
        mllp_port=0,
        inbox_poll_seconds=0.2,
        log_level="WARNING",
    )
    rt = build(settings, upgrade=True)
    key = apikeys.create(
        rt.db, name="bench", roles=(Role.SYSTEM,), now=rt.clock.now(), actor="bench", anchor=None
    )[1]
    service = Service(rt, workers=2)
    service.start()
    assert service.inbox is not None
    started = time.monotonic()
    sent = send(traffic, Targets(service.mllp_port, service.http_port, service.inbox, key), started, minutes)
    wait_until_posted(rt, service.inbox)
    elapsed = time.monotonic() - started
    latencies = cash_latencies(rt)
    service.stop()
    rt.close()
    return elapsed, latencies, sent


def send(traffic: Traffic, targets: Targets, started: float, minutes: float | None) -> int:
    """Send every message, each at its place in the day compressed into ``minutes`` (None: at once);
    return how many were sent."""
    day_start = datetime.combine(traffic.days[0].day, datetime.min.time())

    def pace(message: Message) -> None:
        if minutes:
            due = (message.at - day_start).total_seconds() / 86400 * minutes * 60
            wait = started + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    lock = threading.Lock()
    sent = [0]

    def count(_m: Message) -> None:
        with lock:
            sent[0] += 1

    feed(traffic.messages, targets, on_sent=count, before_send=pace)
    return sent[0]


def wait_until_posted(rt: Runtime, inbox: Path) -> None:
    """Wait until the inbox and the message queue are empty and no journal is staged or being sent
    (closing the batch windows once the messages are done, as the end of the day would)."""
    while True:
        status = rt.status()
        inbox_busy = any(p.suffix != ".ready" for p in inbox.iterdir())
        if not inbox_busy and not status["messages"]["pending"] and not status["messages"]["processing"]:
            assert rt.posting is not None
            rt.posting.tick(force_windows=True)
            states = rt.status()["journals"]
            if not states["staged"] and not states["submitting"]:
                break
        time.sleep(0.2)


def cash_latencies(rt: Runtime) -> list[float]:
    """Every posted realtime (cash) journal's receipt-to-posted seconds; prints them per format."""
    with rt.db.reading() as conn:
        rows = conn.execute(
            select(journals.c.first_received_at, journals.c.posted_at, journals.c.id).where(
                journals.c.lane == "realtime", journals.c.posted_at.is_not(None)
            )
        ).all()
        formats = dict(
            conn.execute(
                select(event_lines.c.journal_id, messages.c.format)
                .join(events, events.c.key == event_lines.c.event_key)
                .join(messages, messages.c.id == events.c.message_id)
                .where(event_lines.c.lane == "realtime")
                .distinct()
            ).all()
        )
    by_format: dict[str, list[float]] = {}
    for received, posted, jid in rows:
        by_format.setdefault(formats.get(jid, "?"), []).append((posted - received).total_seconds())
    for fmt, values in sorted(by_format.items()):
        print(
            f"  {fmt}: {len(values):,} cash journals p50 {pct(values, 50):.2f} s, p99 {pct(values, 99):.2f} s"
        )
    return [(posted - received).total_seconds() for received, posted, _ in rows]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=10.0, help="wall time the paced day takes")
    parser.add_argument("--skip-saturated", action="store_true")
    args = parser.parse_args()
    traffic = generate(start=START, days=1, seed=11, scale=args.scale)
    n = len(traffic.messages)
    print(
        f"e2e: one simulated day at scale {args.scale}: {n:,} messages "
        f"({sum(m.channel.value == 'mllp' for m in traffic.messages):,} MLLP)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        floor = floor_sqlite(Path(tmp) / "floor.db", 2000)
        print(f"floor (bare INSERT+COMMIT of a {len(PAYLOAD.format(n=0))}-byte message): {floor:,.0f} msg/s")
        if not args.skip_saturated:
            home = Path(tmp) / "saturated"
            home.mkdir()
            elapsed, latencies, sent = run(traffic, home, minutes=None)
            rate = sent / elapsed
            print(
                f"saturated: {sent:,} messages, all posted after {elapsed:.1f} s: "
                f"{rate:,.0f} msg/s end to end "
                f"({rate / floor:.3f}x the floor); cash latency p50 {pct(latencies, 50):.2f} s, "
                f"p99 {pct(latencies, 99):.2f} s (a backlog, not a latency)"
            )
        home = Path(tmp) / "paced"
        home.mkdir()
        elapsed, latencies, sent = run(traffic, home, minutes=args.minutes)
        p50, p99 = pct(latencies, 50), pct(latencies, 99)
        offered = sent / (args.minutes * 60)
        print(
            f"paced: the day in {args.minutes:g} min ({offered:,.1f} msg/s offered): {len(latencies):,} cash "
            f"journals, receipt-to-posted p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(latencies):.2f} s"
        )
        print(f"target p99 under 2 s: {'met' if p99 < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
