"""The soak's report: one Sample per interval, a plot-ready CSV, a four-panel PNG and the verdict.

Targets (issue 16 item 4): after warm-up, every process's RSS grows under 10%, the backlog does
not grow, the cash-posting p99 stays under 2 s in every interval, and the offered rate is held.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RSS_GROWTH = 0.10
CASH_P99 = 2.0
RATE_HELD = 0.95
BACKLOG_SECONDS = 2.0  # a backlog may move by this many seconds of traffic and not be "growing"


def pct(values: Sequence[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    t: float  # seconds since sampling began
    phase: str  # "run" while sending, "drain" after
    sent_per_s: float
    acked_per_s: float
    lag: float  # the latest a send started behind its schedule in the interval, seconds
    backlog: int  # messages pending or processing
    files_waiting: int  # files in the drop folder not yet taken in
    journals_waiting: int  # journals staged or being sent to the ERP
    cash: tuple[float, ...]  # receipt-to-posted seconds of the cash journals posted in the interval
    patients: tuple[float, ...]  # those of them from patients' portal payments and refunds
    rss: dict[str, float]  # MB per process
    load: float  # the machine's 1-minute load average (what else shared the cores)

    @property
    def rss_total(self) -> float:
        return sum(self.rss.values())

    @staticmethod
    def header_line() -> str:
        head = "    t  phase   sent/s  acked/s   lag  backlog  journals  cash n   p50    p99"
        return head + "  pt p99   RSS MB  load"

    def line(self) -> str:
        return (
            f"{self.t:5.0f}  {self.phase:5} {self.sent_per_s:8.1f} {self.acked_per_s:8.1f} {self.lag:5.1f} "
            f"{self.backlog:8d} {self.journals_waiting:9d} {len(self.cash):7d} {pct(self.cash, 50):5.2f} "
            f"{pct(self.cash, 99):6.2f} {pct(self.patients, 99):7.2f} {self.rss_total:8.0f} {self.load:5.1f}"
        )


def write_csv(samples: Sequence[Sample], path: Path) -> None:
    procs = sorted({name for s in samples for name in s.rss}, key=lambda n: (n != "serve", n))
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["t_s", "phase", "sent_per_s", "acked_per_s", "send_lag_s", "backlog_messages", "files_waiting"]
            + ["journals_waiting", "cash_journals", "cash_p50_s", "cash_p99_s", "patients_p99_s"]
            + ["load1", "rss_total_mb"]
            + [f"rss_{p}_mb" for p in procs]
        )
        for s in samples:
            out.writerow(
                [
                    f"{s.t:.1f}",
                    s.phase,
                    f"{s.sent_per_s:.1f}",
                    f"{s.acked_per_s:.1f}",
                    f"{s.lag:.2f}",
                    s.backlog,
                ]
                + [s.files_waiting, s.journals_waiting, len(s.cash)]
                + [f"{pct(s.cash, 50):.3f}" if s.cash else "", f"{pct(s.cash, 99):.3f}" if s.cash else ""]
                + [f"{pct(s.patients, 99):.3f}" if s.patients else ""]
                + [f"{s.load:.2f}", f"{s.rss_total:.1f}"]
                + [f"{s.rss[p]:.1f}" if p in s.rss else "" for p in procs]
            )


def write_chart(samples: Sequence[Sample], path: Path, *, rate: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.t / 60 for s in samples]
    fig, (a, b, c, d) = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    a.plot(minutes, [s.sent_per_s for s in samples], label="sent")
    a.plot(minutes, [s.acked_per_s for s in samples], label="acknowledged")
    a.axhline(rate, color="grey", linestyle=":", label=f"offered {rate:g}/s")
    a.set_ylabel("messages/s")
    b.plot(minutes, [s.backlog for s in samples], label="messages pending+processing")
    b.plot(minutes, [s.journals_waiting for s in samples], label="journals waiting for the ERP")
    b.set_ylabel("backlog")
    timed = [(m, s) for m, s in zip(minutes, samples, strict=True) if s.cash]
    c.plot([m for m, _ in timed], [pct(s.cash, 50) for _, s in timed], label="cash p50")
    c.plot([m for m, _ in timed], [pct(s.cash, 99) for _, s in timed], label="cash p99")
    paid = [(m, s) for m, s in timed if s.patients]
    c.plot([m for m, _ in paid], [pct(s.patients, 99) for _, s in paid], label="patients' payments p99")
    c.axhline(CASH_P99, color="red", linestyle=":", label=f"target p99 {CASH_P99:g} s")
    c.set_ylabel("receipt→posted s")
    procs = sorted({n for s in samples for n in s.rss}, key=lambda n: (n != "serve", n))
    for p in procs:
        d.plot(minutes, [s.rss.get(p, float("nan")) for s in samples], label=p)
    d.plot(minutes, [s.rss_total for s in samples], label="total", color="black")
    d.set_ylabel("RSS MB")
    d.set_ylim(bottom=0)
    d.set_xlabel("minutes")
    for ax in (a, b, c, d):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("revbridge serve soak: rate, backlog, cash-posting latency, memory")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _thirds(values: Sequence[float]) -> tuple[Sequence[float], Sequence[float]]:
    n = max(1, len(values) // 3)
    return values[:n], values[-n:]


def _rss(steady: Sequence[Sample]) -> list[tuple[str, bool]]:
    """Per process: the median RSS of the last third after warm-up over the first third's."""
    checks = []
    for proc in sorted({n for s in steady for n in s.rss}, key=lambda n: (n != "serve", n)):
        first, last = (statistics.median(x) for x in _thirds([s.rss[proc] for s in steady if proc in s.rss]))
        growth = last / first - 1
        peak = max(s.rss.get(proc, 0.0) for s in steady)
        text = f"RSS {proc}: {first:.0f} -> {last:.0f} MB ({growth:+.1%}, peak {peak:.0f} MB)"
        checks.append((f"{text}, under {RSS_GROWTH:.0%} growth", growth < RSS_GROWTH))
    return checks


def _backlog(steady: Sequence[Sample], rate: float) -> tuple[str, bool]:
    first, last = (
        statistics.mean(x) for x in _thirds([float(s.backlog + s.journals_waiting) for s in steady])
    )
    allowed = BACKLOG_SECONDS * rate
    peak = max(s.backlog + s.journals_waiting for s in steady)
    text = f"backlog (messages + journals) after warm-up: mean {first:.0f} in the first third, {last:.0f} in"
    return f"{text} the last (peak {peak}), not growing (by under {allowed:.0f})", last <= first + allowed


def _cash(running: Sequence[Sample], warmup: float) -> tuple[str, bool]:
    timed = [(pct(s.cash, 99), s.t) for s in running if s.cash]
    if not timed:
        return "cash p99: no cash journal was posted while sending", False
    worst, at = max(timed)
    after = max((p for p, t in timed if t >= warmup), default=float("nan"))
    every = sorted(x for s in running for x in s.cash)
    text = f"cash p99 per interval: worst {worst:.2f} s (at {at / 60:.1f} min; {after:.2f} s after warm-up)"
    text += f"; all {len(every):,} cash journals p50 {pct(every, 50):.2f} s, p99 {pct(every, 99):.2f} s"
    paid = sorted(x for s in running for x in s.patients)
    worst_paid = max((pct(s.patients, 99) for s in running if s.patients), default=float("nan"))
    text += (
        f" (patients' payments: {len(paid):,}, p99 {pct(paid, 99):.2f} s, worst interval {worst_paid:.2f} s)"
    )
    return f"{text}; under {CASH_P99:g} s in every interval", worst < CASH_P99


def verdict(samples: Sequence[Sample], *, warmup: float, rate: float, failures: int, drained: bool) -> bool:
    """Print each target beside its figure; True when all are met."""
    running = [s for s in samples if s.phase == "run"]
    steady = [s for s in running if s.t >= warmup]
    if len(steady) < 3:
        print(f"verdict: only {len(steady)} samples after the {warmup:.0f} s warm-up: too short to judge")
        return False
    held = statistics.mean(s.acked_per_s for s in steady)
    checks = [
        *_rss(steady),
        _backlog(steady, rate),
        _cash(running, warmup),
        (
            f"acknowledged {held:,.1f} msg/s after warm-up, at least {RATE_HELD:.0%} of {rate:g}",
            held >= RATE_HELD * rate,
        ),
        (f"sender failures: {failures}, none", failures == 0),
        ("everything processed and posted after the run", drained),
    ]
    for text, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    met = all(ok for _, ok in checks)
    print(f"verdict: {'all targets met' if met else 'a target was MISSED'} (warm-up {warmup:.0f} s)")
    return met
