"""X12 835 throughput and memory: bytes -> canonical events against the bare tokenizer.

Generates a balanced N-claim 835 (default 100,000 claims, with a 500-claim quick run first and an
all-unique-amounts worst case last) and measures:

- floor: our tokenizer over every segment of the bytes (no envelopes, no loops, no events);
- parse: ``X12.to_events`` on the same bytes, every event built and kept, as a worker does.

Timing rounds interleave floor and parse in one child process, so the machine's drift hits both
alike; the best of each is kept. Peak RSS (VmHWM: the interpreter, the payload and every event)
comes from a separate fresh child per candidate that runs it once. Usage:

    .venv/bin/python bench/x12.py [--claims N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.x12 import X12
from revbridge.formats.x12.segments import SegmentReader, Source, read_delimiters

CARCS = ("45", "42", "253", "1", "2", "3", "97")
COPAYS = (Decimal("10.00"), Decimal("20.00"), Decimal("30.00"), Decimal("50.00"))
DEDUCTIBLES = (Decimal("50.00"), Decimal("100.00"), Decimal("250.00"))


def generate(claims: int, *, unique: bool = False, seed: int = 835) -> bytes:
    """A balanced 005010X221A1 835 of ``claims`` claims.

    Shaped like a professional remittance: 1-3 service lines per claim, a CO-45 contractual and
    often a PR copay or deductible per line, a claim-level CAS on every fifth claim, a reversal
    (CLP02 = 22, negative amounts) on every fiftieth, and two PLB pairs. Line amounts come from a
    150-code chargemaster and a fee schedule, as in real files; ``unique`` instead draws every
    amount at random (a worst case for anything that shares repeated values).
    """
    rng = random.Random(seed)
    schedule = _FeeSchedule.drawn(rng)
    body: list[str] = [
        "BPR*I*{bpr}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20240105",
        "TRN*1*EFT0000001*1512345678",
        "DTM*405*20240104",
        "N1*PR*BENCH HEALTH PLAN*XV*PAYER01",
        "N3*1 MAIN STREET",
        "N4*ANYTOWN*PA*17111",
        "PER*BL*CLAIMS*TE*8005551212",
        "N1*PE*BENCH GENERAL HOSPITAL*XX*1234567893",
        "LX*1",
    ]
    total_paid = Decimal(0)
    for n in range(1, claims + 1):
        segments, paid = _claim(n, rng, schedule, unique=unique)
        body += segments
        total_paid += paid
    body.append("PLB*1234567893*20241231*L6:INTEREST*-12.34*WO:RECOUP1*50.00")
    body[0] = body[0].format(bpr=total_paid - Decimal("37.66"))
    return _enveloped(body)


@dataclass(frozen=True)
class _FeeSchedule:
    """The 150-code chargemaster: each code's price and what the plan allows for it."""

    codes: list[str]
    price: dict[str, Decimal]
    allowed: dict[str, Decimal]

    @classmethod
    def drawn(cls, rng: random.Random) -> _FeeSchedule:
        codes = [f"{99000 + n}" for n in range(150)]
        price = {c: Decimal(rng.randint(4000, 250000)) / 100 for c in codes}
        allowed = {
            c: (price[c] * Decimal(rng.randint(35, 80)) / 100).quantize(Decimal("0.01")) for c in codes
        }
        return cls(codes, price, allowed)


def _claim(n: int, rng: random.Random, schedule: _FeeSchedule, *, unique: bool) -> tuple[list[str], Decimal]:
    """Claim ``n``'s segments (CLP, its CAS, NM1, DTM and service lines) and its signed payment."""
    sign = -1 if n % 50 == 0 else 1
    lines: list[str] = []
    charge_sum = paid_sum = Decimal(0)
    for _ in range(rng.randint(1, 3)):
        segments, charge, paid = _service_line(rng, schedule, sign, unique=unique)
        lines += segments
        charge_sum += charge
        paid_sum += paid
    claim_cas = (paid_sum * Decimal("0.02")).quantize(Decimal("0.01")) if n % 5 == 0 else Decimal(0)
    paid_claim = paid_sum - claim_cas
    status = 22 if sign < 0 else 1
    segments = [f"CLP*PCN{n:07d}*{status}*{sign * charge_sum}*{sign * paid_claim}*0*12*ICN{n:09d}*11*1"]
    if claim_cas:
        segments.append(f"CAS*CO*253*{sign * claim_cas}")
    segments += [f"NM1*QC*1*DOE*JANE****MI*MBR{n:08d}", "DTM*232*20231215", *lines]
    return segments, sign * paid_claim


def _service_line(
    rng: random.Random, schedule: _FeeSchedule, sign: int, *, unique: bool
) -> tuple[list[str], Decimal, Decimal]:
    """One SVC loop (SVC, DTM, CAS, AMT) with its unsigned charge and payment."""
    code = rng.choice(schedule.codes)
    if unique:
        charge = Decimal(rng.randint(5000, 250000)) / 100
        allow = (charge * Decimal(rng.randint(35, 80)) / 100).quantize(Decimal("0.01"))
    else:
        charge, allow = schedule.price[code], schedule.allowed[code]
    roll = rng.random()
    patient = rng.choice(COPAYS) if roll < 0.3 else rng.choice(DEDUCTIBLES) if roll < 0.4 else Decimal(0)
    patient = min(patient, allow)
    paid = allow - patient
    cas = f"CAS*CO*45*{sign * (charge - allow)}"
    if patient:
        cas += f"**{'3' if roll < 0.3 else '1'}*{sign * patient}"  # CAS04 quantity left empty
    segments = [
        f"SVC*HC:{code}*{sign * charge}*{sign * paid}**1",
        "DTM*472*20231215",
        cas,
        f"AMT*B6*{sign * allow}",
    ]
    return segments, charge, paid


def _enveloped(body: list[str]) -> bytes:
    """The transaction's segments inside ST/SE, GS/GE and ISA/IEA, one segment a line."""
    segments = ["ST*835*0001", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    isa = (
        "ISA*00*          *00*          *ZZ*BENCHPAYER     *ZZ*BENCHHOSP      "
        "*240105*1200*^*00501*000000001*0*P*:"
    )
    envelope = [isa, "GS*HP*BENCHPAYER*BENCHHOSP*20240105*1200*1*X*005010X221A1", *segments, "GE*1*1"]
    return ("~\n".join([*envelope, "IEA*1*000000001"]) + "~\n").encode("ascii")


def run_floor(payload: bytes) -> int:
    source = Source(payload)
    delimiters = read_delimiters(source.text(0, 512), 0)
    assert not isinstance(delimiters, str)
    count = 0
    for _ in SegmentReader(source, 0, delimiters, 1 << 20):
        count += 1
    return count


def run_parse(payload: bytes) -> int:
    ctx = ParseContext(message_id="bench", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 5))
    outcome = X12.to_events(payload, ctx)
    if not outcome.ok:
        raise SystemExit(f"bench file did not parse cleanly: {outcome.problems[:3]}")
    return len(outcome.items)


def child_times(path: str, rounds: int) -> None:
    """Floor and parse interleaved, so the machine's drift hits both alike; best of each."""
    payload = Path(path).read_bytes()
    best = {"floor": float("inf"), "parse": float("inf")}
    produced = {"floor": 0, "parse": 0}
    for _ in range(rounds):
        for mode, work in (("floor", run_floor), ("parse", run_parse)):
            started = time.perf_counter()
            produced[mode] = work(payload)
            best[mode] = min(best[mode], time.perf_counter() - started)
    print(json.dumps({"seconds": best, "produced": produced}))


def child_peak(mode: str, path: str) -> None:
    """One run in a fresh process: its peak RSS is that run's alone."""
    payload = Path(path).read_bytes()
    (run_floor if mode == "floor" else run_parse)(payload)
    print(json.dumps({"peak_mib": peak_rss_kib() / 1024}))


def peak_rss_kib() -> int:
    """This process's peak resident set. Linux's ru_maxrss would do, except that it survives
    fork+exec and so reports the parent's peak when that was higher; VmHWM does not."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(*args: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def report(claims: int, rounds: int, *, unique: bool = False) -> None:
    payload = generate(claims, unique=unique)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench-{claims}.835"
        path.write_bytes(payload)
        times = measure("times", str(path), str(rounds))
        floor_peak = measure("peak", "floor", str(path))["peak_mib"]
        parse_peak = measure("peak", "parse", str(path))["peak_mib"]
    floor_rate = claims / times["seconds"]["floor"]
    parse_rate = claims / times["seconds"]["parse"]
    shape = "every amount unique" if unique else "chargemaster amounts"
    print(f"{claims:,} claims ({shape}), {len(payload) / 1e6:.1f} MB, best of {rounds} interleaved rounds:")
    print(
        f"  floor (tokenizer only):  {floor_rate:>9,.0f} claims/s  "
        f"({times['produced']['floor']:,} segments; peak RSS {floor_peak:.0f} MiB)"
    )
    print(
        f"  bytes -> events:         {parse_rate:>9,.0f} claims/s  "
        f"({times['produced']['parse']:,} events; peak RSS {parse_peak:.0f} MiB)"
    )
    print(f"  ratio events/floor:      {parse_rate / floor_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=0, help="interleaved timing rounds (best is kept)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child[0] == "times":
            child_times(args.child[1], int(args.child[2]))
        else:
            child_peak(args.child[1], args.child[2])
        return
    report(500, args.rounds or 30)
    report(args.claims, args.rounds or 3)
    report(args.claims, args.rounds or 3, unique=True)


if __name__ == "__main__":
    main()
