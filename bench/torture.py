"""Torture: many revbridge processes dying at the worst moments, and a checker of the history.

On a fresh PostgreSQL database: intake nodes (``revbridge serve --workers 0``) in one network
namespace, worker nodes (``revbridge worker``) in another (loopback when namespaces cannot be
made), the ERP (tests/support/faulty_erp.py, no idempotency, so a second send is a second
document) in the root namespace. The demo health system's day is sent on every source by senders
that write down every acknowledgement; one more sender floods, sends malformed frames and frames
over the max frame. Meanwhile a chaos loop SIGKILLs a random node every few seconds and restarts
it, some restarts with fault points armed (``REVBRIDGE_FAULTS``: dying after the commit and
before the ACK, after the ERP accepted and before revbridge recorded it), the ERP drops answers
after committing and goes down for a while. Then chaos stops, the system drains (bounded), and
the checker (tests/support/torture_check.py) prints its table; exit 1 if a must-be-zero row
is not zero.
The table also gives the well-behaved MLLP senders' ACK p99 under all of that.

    .venv/bin/python bench/torture.py                 # the long run: >= 100 kills
    .venv/bin/python bench/torture.py --size ci       # the CI size: >= 10 kills, about 2 minutes
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from pgdb import create_pg_database, drop_pg_database
from torture_bad import BadSender
from torture_check import SOURCES, check, read_records
from torture_erp import ErpProcess
from torture_hosts import Hosts, open_hosts
from torture_nodes import Chaos, Node, contract_available, python
from torture_senders import FileSender, HttpSender, MllpLane, Pacer, Records
from torture_setup import Layout, Sizes, common_env, make_nodes, prepare_store, write_config

from revbridge.demo import Channel, Message, generate
from revbridge.store import Database, journals, queue, windows

START = date(2026, 11, 2)
PRESETS: dict[str, dict[str, Any]] = {
    # scale: the demo day's size; minutes: the day compressed into this much wall time
    "ci": {
        "scale": 0.25,
        "minutes": 0.6,
        "serve": 2,
        "workers": 2,
        "kill_every": 2.5,
        "min_kills": 10,
        "erp_down": 6.0,
        "drain": 90.0,
        # fault point probabilities in armed processes: per acknowledgement, per outbox round
        # that posted (higher here: a node lives seconds between kills)
        # (every restart armed starves intake: an armed node dies within a few of the flood's ACKs)
        "ack_fault": 0.02,
        "erp_fault": 0.5,
        "armed_every": 2,
    },
    "long": {
        "scale": 2.0,
        "minutes": 8.0,
        "serve": 3,
        "workers": 3,
        "kill_every": 4.0,
        "min_kills": 100,
        "erp_down": 120.0,
        "drain": 600.0,
        "ack_fault": 0.02,
        "erp_fault": 0.1,
        "armed_every": 2,
    },
}
# message and outbox leases: a killed node's work waits this long (the outbox's: over twice the
# ERP timeout, see docs/operations.md)
LEASE_SECONDS = 30.0
# armed in every other restart: per acknowledgement, and per outbox round that posted something
OUTAGES: list[float] = []  # the ERP's outages, seconds
FAULTS = {"serve": "ack.after_commit=0.02", "worker": "erp.after_accept=0.1"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(PRESETS), default="long")
    for name in ("scale", "minutes", "kill_every", "erp_down", "drain", "ack_fault", "erp_fault"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float)
    for name in ("serve", "workers", "min_kills", "armed_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int)
    parser.add_argument("--threads", type=int, default=2, help="worker threads per worker node")
    parser.add_argument("--max-frame", type=int, default=256 * 1024, help="the MLLP max frame")
    parser.add_argument("--loopback", action="store_true", help="no network namespaces")
    parser.add_argument("--no-bad-sender", action="store_true", help="no flood, malformed or huge frames")
    parser.add_argument("--keep", help="keep the run's folder (logs, records) here, and its database")
    parser.add_argument("--json", action="store_true", help="print the checker's report as JSON")
    args = parser.parse_args()
    for key, value in PRESETS[args.size].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> int:
    args = parse_args()
    began = time.monotonic()
    traffic = generate(start=START, days=1, seed=11, scale=args.scale)
    say(
        args,
        f"torture ({args.size}): {len(traffic.messages):,} messages of the demo day at scale {args.scale}",
    )
    hosts = open_hosts(want_netns=not args.loopback)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="torture-"))
    db_url, erp = "", None
    try:  # whatever fails, the namespaces, the ERP and (unless kept) the database go
        db_url = create_pg_database("torture")
        erp = ErpProcess(hosts.root)
        report = run(args, traffic.messages, hosts, db_url, Layout.make(folder), erp)
    finally:
        if erp is not None:
            erp.close()
        hosts.close()
        if args.keep:
            say(args, f"kept {folder} and the database {db_url}")
        else:
            if db_url:
                drop_pg_database(db_url)
            shutil.rmtree(folder, ignore_errors=True)
    report.info["wall seconds"] = round(time.monotonic() - began, 1)
    report.info["hosts"] = (
        f"netns: serve {hosts.serve_ip}, workers {hosts.worker_ip}, root {hosts.root}"
        if hosts.mode == "netns"
        else "loopback"
    )
    print(json.dumps(report.as_json(), indent=2, default=str) if args.json else report.table(), flush=True)
    return 0 if report.ok else 1


def say(args: argparse.Namespace, text: str) -> None:
    print(text, file=sys.stderr if args.json else sys.stdout, flush=True)


def run(
    args: argparse.Namespace,
    messages: tuple[Message, ...],
    hosts: Hosts,
    db_url: str,
    layout: Layout,
    erp: ErpProcess,
) -> Any:
    write_config(layout, erp.url)
    api_key = prepare_store(layout, db_url)
    env = common_env(layout, db_url, lease_seconds=LEASE_SECONDS)
    if not contract_available(python(), env):
        raise SystemExit(
            "this revbridge has no `revbridge worker --threads`: the torture needs the process contract"
        )
    sizes = Sizes(args.serve, args.workers, args.threads, args.max_frame, lease_seconds=LEASE_SECONDS)
    nodes = make_nodes(layout, hosts, db_url, sizes, python=python())
    # every n-th restart of a node (--armed-every) runs with its role's fault point armed
    faults = {"serve": f"ack.after_commit={args.ack_fault}", "worker": f"erp.after_accept={args.erp_fault}"}
    chaos = Chaos(nodes, interval=args.kill_every, faults=faults, armed_every=args.armed_every)
    db = Database.open(db_url, pool_size=2)
    try:
        chaos.start_all()
        wait_listening([n for n in nodes if n.role == "serve"], hosts)
        traffic_seconds, bad = torment(args, messages, nodes, hosts, api_key, layout, chaos, erp)
        drained = drain(args, db, chaos, nodes, layout)
        chaos.close()
        sources = [s for s in SOURCES if s != "flood" or not args.no_bad_sender]
        cli = [python(), "-m", "revbridge"]
        report = check(read_records(layout.records), db, cli, erp.documents(), env=env, sources=sources)
    finally:
        chaos.close()
        db.close()
    add_figures(report, layout, chaos, erp, traffic_seconds, drained, bad)
    return report


def wait_listening(serve: list[Node], hosts: Hosts, timeout: float = 120.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    for node in serve:
        while True:
            try:
                socket.create_connection((hosts.serve_ip, node.mllp_port), timeout=1).close()
                socket.create_connection((hosts.serve_ip, node.http_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{node.name} did not start listening: see {node.log}") from None
                time.sleep(0.2)


def torment(
    args: argparse.Namespace,
    messages: tuple[Message, ...],
    nodes: list[Node],
    hosts: Hosts,
    api_key: str,
    layout: Layout,
    chaos: Chaos,
    erp: ErpProcess,
) -> tuple[float, BadSender]:
    """Traffic, the bad sender, chaos and the ERP's faults, until the traffic is sent and acknowledged
    and the chaos loop has killed enough; returns the traffic's seconds and the bad sender."""
    stop, calm = threading.Event(), threading.Event()
    serve = [n for n in nodes if n.role == "serve"]
    senders = well_behaved(args, messages, serve, hosts, api_key, layout, stop)
    mllp = [(hosts.serve_ip, n.mllp_port) for n in serve]
    bad = BadSender(mllp, args.max_frame, Records(layout.records / "flood.jsonl"), calm)
    threads = [threading.Thread(target=s.run, name=type(s).__name__, daemon=True) for s in senders]
    if not args.no_bad_sender:
        threads += bad.threads()
    chaos.unleash()
    started = time.monotonic()
    for t in threads:
        t.start()
    erp_chaos = threading.Thread(target=erp_faults, args=(args, erp, stop), daemon=True)
    erp_chaos.start()
    for t in threads[: len(senders)]:
        t.join()
    traffic_seconds = time.monotonic() - started
    while chaos.total_kills < args.min_kills and time.monotonic() - started < traffic_seconds + 600:
        time.sleep(0.5)
    calm.set()
    stop.set()
    erp_chaos.join()
    chaos.calm()
    erp.come_up()
    say(args, f"traffic sent in {traffic_seconds:.0f} s; {chaos.total_kills} kills; chaos stopped")
    return traffic_seconds, bad


def well_behaved(
    args: argparse.Namespace,
    messages: tuple[Message, ...],
    serve: list[Node],
    hosts: Hosts,
    api_key: str,
    layout: Layout,
    stop: threading.Event,
) -> list[MllpLane | HttpSender | FileSender]:
    """An MLLP lane per facility, the HTTP sender (FHIR, portal) and the file sender (X12)."""
    pacer = Pacer(datetime.combine(START, datetime.min.time()), args.minutes)
    lanes: dict[str, list[Message]] = defaultdict(list)
    for m in messages:
        if m.channel is Channel.MLLP:
            lanes[m.facility].append(m)
    mllp = [(hosts.serve_ip, n.mllp_port) for n in serve]
    senders: list[MllpLane | HttpSender | FileSender] = [
        MllpLane(f"lane-{f}", batch, mllp, Records(layout.records / f"mllp-{f}.jsonl"), pacer, stop)
        for f, batch in lanes.items()
    ]
    http = [m for m in messages if m.channel in (Channel.HTTP_FHIR, Channel.HTTP_PORTAL)]
    endpoints = [(hosts.serve_ip, n.http_port) for n in serve]
    senders.append(HttpSender(http, endpoints, api_key, Records(layout.records / "http.jsonl"), pacer, stop))
    files = [m for m in messages if m.channel is Channel.FILE]
    inboxes = [n.inbox for n in serve if n.inbox]
    senders.append(FileSender(files, inboxes, Records(layout.records / "files.jsonl"), pacer, stop))
    return senders


def erp_faults(args: argparse.Namespace, erp: ErpProcess, stop: threading.Event) -> None:
    """Answers dropped after commit now and then; one outage of ``args.erp_down`` seconds a little
    into the run."""
    rng = random.Random(5)
    outage_at = time.monotonic() + max(2.0, args.minutes * 60 * 0.3)
    outage_done = False
    while not stop.wait(rng.uniform(0.5, 2.0)):
        erp.drop_after_commit(rng.randint(1, 3))
        if not outage_done and time.monotonic() >= outage_at:
            down = time.monotonic()
            erp.go_down()
            stop.wait(args.erp_down)
            erp.come_up()
            outage_done = True
            OUTAGES.append(time.monotonic() - down)


def drain(args: argparse.Namespace, db: Database, chaos: Chaos, nodes: list[Node], layout: Layout) -> float:
    """Wait (bounded) until nothing is left to do: every node up, no message pending or being
    processed, no subledger line waiting in a batch window, no journal staged, being sent or
    accepted, every dropped file picked up."""
    started = time.monotonic()
    deadline = started + args.drain
    while time.monotonic() < deadline:
        inboxes_empty = all(not any(p.is_file() for p in n.inbox.iterdir()) for n in nodes if n.inbox)
        messages, states = queue.counts(db), journals.counts(db)
        with db.reading() as tx:  # a window closes up to max_age after its last line: wait for it
            in_windows = windows.lines_waiting(tx)
        busy = (
            messages["pending"]
            + messages["processing"]
            + messages["waiting"]
            + states["staged"]
            + states["submitting"]
            + states["accepted"]
            + in_windows
        )
        if inboxes_empty and not busy and all(n.alive() for n in nodes):
            break
        time.sleep(0.5)
    seconds = time.monotonic() - started
    say(
        args,
        f"drained in {seconds:.0f} s"
        if time.monotonic() < deadline
        else f"NOT drained after {seconds:.0f} s",
    )
    return seconds


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def add_figures(
    report: Any, layout: Layout, chaos: Chaos, erp: ErpProcess, traffic: float, drained: float, bad: BadSender
) -> None:
    records = read_records(layout.records)
    latencies = [float(r["s"]) for r in records if r["source"] == "mllp" and r["s"] is not None]
    if latencies:
        report.info["well-behaved MLLP ACK p50 / p99 / max (ms)"] = (
            f"{pct(latencies, 50) * 1000:.0f} / {pct(latencies, 99) * 1000:.0f} / {max(latencies) * 1000:.0f}"
            f" over {len(latencies):,} ACKs"
        )
    report.info["kills (chaos SIGKILL, by role)"] = dict(chaos.kills)
    report.info["kills (fault points fired, by role)"] = dict(chaos.fault_deaths)
    report.info["kills in all"] = chaos.total_kills
    report.info["unexpected exits"] = chaos.crashes or "none"
    report.info["ERP"] = erp.stats() | {"down (s)": [round(s) for s in OUTAGES]}
    report.info["bad sender"] = dict(bad.counts)
    report.info["traffic seconds / drain seconds"] = f"{traffic:.0f} / {drained:.0f}"


if __name__ == "__main__":
    sys.exit(main())
