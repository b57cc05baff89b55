"""The soak's traffic: consecutive days of the demo health system, generated ahead and cached.

Each day is ``generate(start=day, days=1, seed=SEED, scale=...)``: a window of the same simulated
hospital, so a day's visits, claims and payments are its own (no message is in two days and
deduplication keeps every one), and a day's remittances pay claims sent on earlier days. Days are
generated in other processes before serve starts (the generator is pure Python and slow, and must
not share the CPU with what is measured), pickled into the cache and read back one at a time.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from revbridge.demo import generate
from revbridge.demo.truth import Message

SEED = 16
PER_DAY_AT_SCALE_1 = 4000  # a weekend day of the demo at scale 1 sends a little over this


def _day_file(cache: Path, day: date, scale: float) -> Path:
    return cache / f"s{SEED}-x{scale:g}-{day.isoformat()}.pickle"


def _generate_day(day: date, scale: float, target: Path) -> int:
    messages = list(generate(start=day, days=1, seed=SEED, scale=scale).messages)
    partial = target.with_suffix(".partial")
    partial.write_bytes(pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL))
    partial.replace(target)
    target.with_suffix(".count").write_text(str(len(messages)))
    return len(messages)


def days_of_traffic(start: date, *, needed: int, scale: float, cache: Path, processes: int = 2) -> list[Path]:
    """The files of consecutive days from ``start`` holding at least ``needed`` messages,
    generating those not in the cache yet."""
    cache.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    have = 0
    day = start
    with ProcessPoolExecutor(max_workers=processes) as pool:
        while have < needed:
            count = max(1, -(-(needed - have) // int(PER_DAY_AT_SCALE_1 * scale)))
            batch = [day + timedelta(days=n) for n in range(count)]
            day += timedelta(days=count)
            jobs = {}
            for d in batch:
                target = _day_file(cache, d, scale)
                files.append(target)
                if target.exists() and target.with_suffix(".count").exists():
                    have += int(target.with_suffix(".count").read_text())
                else:
                    jobs[d] = pool.submit(_generate_day, d, scale, target)
            have += sum(job.result() for job in jobs.values())
    return files


def load_days(files: list[Path]) -> Iterator[list[Message]]:
    for path in files:
        messages = pickle.loads(path.read_bytes())
        assert isinstance(messages, list)
        yield messages


def lane_of(message: Message, senders: int) -> str:
    """The MLLP connection an HL7 message goes on: its facility's, one of ``senders`` chosen by
    the patient (PID-3), so one patient's ADT and DFT messages keep their order."""
    pid = next((s for s in message.payload.split(b"\r") if s.startswith(b"PID|")), b"")
    fields = pid.split(b"|")
    patient = fields[3] if len(fields) > 3 else b""
    return f"{message.facility}#{zlib.crc32(patient) % senders}"
