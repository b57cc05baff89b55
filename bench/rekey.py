"""Re-encryption and purge throughput on SQLite: how long `keys reencrypt` and `purge` take per row.

Floors, measured in the same run over the same rows: (1) AES-GCM open + seal of every payload in
memory, no database; (2) a bare UPDATE of every row's payload in batches of the same size, no
crypto. Re-encryption is bounded below by the sum of the two; the ratio printed is our rows/s
over the rows/s that sum allows. Purge is compared with a bare batched UPDATE setting the payload
to NULL.

    .venv/bin/python bench/rekey.py [--messages N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from revbridge.bootstrap import Runtime, build
from revbridge.settings import Settings
from revbridge.store import rekey, retention
from revbridge.store.messages import Arrival

PAYLOAD = (
    "MSH|^~\\&|HIS|F01|ERP|F01|20261102083000||DFT^P03|{n}|P|2.5\r"
    "EVN|P03|20261102083000\rPID|1||MRN{n}^^^F01^MR||DOE^JANE||19700101|F\r"
    "PV1|1|O|ED^01^01^F01||||1234^SMITH^JOHN|||ED||||||||OP|V{n}\r"
    + "".join(f"FT1|{i}|T{{n}}-{i}||20261102||CG|99213^OFFICE VISIT|||1|125.10|||ED\r" for i in range(1, 12))
)


def rows(db: Path) -> list[tuple[str, str, bytes]]:
    conn = sqlite3.connect(db)
    found = [(r[0], r[1], bytes(r[2])) for r in conn.execute("SELECT id, key_id, payload FROM messages")]
    conn.close()
    return found


def crypto_floor(stored: list[tuple[str, str, bytes]], old: bytes, new: bytes) -> float:
    opener, sealer = AESGCM(old), AESGCM(new)
    start = time.perf_counter()
    for message_id, _, blob in stored:
        aad = message_id.encode()
        plain = opener.decrypt(blob[:12], blob[12:], aad)
        nonce = os.urandom(12)
        sealer.encrypt(nonce, plain, aad)
    return len(stored) / (time.perf_counter() - start)


def update_floor(db: Path, stored: list[tuple[str, str, bytes]], batch: int, value: bool) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")
    start = time.perf_counter()
    for i in range(0, len(stored), batch):
        conn.execute("BEGIN IMMEDIATE")
        for message_id, _, blob in stored[i : i + batch]:
            conn.execute(
                "UPDATE messages SET payload = ? WHERE id = ?", (blob if value else None, message_id)
            )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(stored) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    n, batch = args.messages, args.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        rt = stored_runtime(home, home / "bench.db", n)
        reencryption(rt, home / "bench.db", n, batch)
        purge(rt, home, n)


def stored_runtime(home: Path, db: Path, n: int) -> Runtime:
    """A fresh store at ``db`` holding ``n`` sealed HL7 v2 messages."""
    rt = build(Settings(home=home, db=f"sqlite:///{db}"), upgrade=True)
    rt.store.accept_many(
        [Arrival(channel="bench", format="hl7v2", payload=PAYLOAD.format(n=i).encode()) for i in range(n)]
    )
    return rt


def reencryption(rt: Runtime, db: Path, n: int, batch: int) -> None:
    """Rotate the key, measure both floors over the stored rows, then `keys reencrypt`; print all four."""
    stored = rows(db)
    old_key = rt.keyring.keys[rt.keyring.active]
    ring = rekey.rotate(
        rt.db,
        key_file=rt.settings.resolved_key_file,
        key_id=None,
        actor="bench",
        now=rt.clock.now(),
        anchor=None,
    )
    crypto = crypto_floor(stored, old_key, ring.keys[ring.active])
    update = update_floor(db, stored, batch, value=True)  # rewrites the same bytes
    start = time.perf_counter()
    report = rekey.reencrypt(rt.db, rt.keyring, batch_size=batch)
    ours = n / (time.perf_counter() - start)
    assert report.moved == n, report
    assert report.remaining == {}, report
    bound = 1 / (1 / crypto + 1 / update)
    print(f"re-encryption of {n} payloads of {len(PAYLOAD)} bytes, batches of {batch}")
    print(f"  floor: AES-GCM open+seal in memory  {crypto:>10,.0f} rows/s")
    print(f"  floor: bare batched UPDATE          {update:>10,.0f} rows/s")
    print(f"  floor: both in sequence             {bound:>10,.0f} rows/s")
    print(f"  keys reencrypt                      {ours:>10,.0f} rows/s  ratio {ours / bound:.2f}")


def purge(rt: Runtime, home: Path, n: int) -> None:
    """Purge every payload and reclaim the space, against a bare UPDATE to NULL; closes ``rt``."""
    with rt.db.transaction() as conn:
        conn.exec_driver_sql("UPDATE messages SET status = 'processed'")
    cutoff = rt.clock.now() + timedelta(seconds=1)
    start = time.perf_counter()
    purged = retention.purge(
        rt.db, cutoff=cutoff, now=rt.clock.now(), actor="bench", anchor=None, vacuum=False
    )
    purge_rate = n / (time.perf_counter() - start)
    assert purged.purged == n, purged
    start = time.perf_counter()
    how = retention.reclaim(rt.db)
    vacuum_s = time.perf_counter() - start
    after = retention.database_bytes(rt.db)
    rt.close()
    # The floor runs on a fresh copy of the same rows (the purged ones have nothing left to null).
    stored_runtime(home / "floor", home / "floor.db", n).close()
    null_floor = update_floor(home / "floor.db", rows(home / "floor.db"), 1000, value=False)
    print(f"purge of {n} payloads, batches of 1000")
    print(f"  floor: bare batched UPDATE to NULL  {null_floor:>10,.0f} rows/s")
    ratio = purge_rate / null_floor
    print(f"  purge (audited per batch)           {purge_rate:>10,.0f} rows/s  ratio {ratio:.2f}")
    print(f"  reclaim ({how} vacuum) {vacuum_s:.2f} s: {purged.bytes_before:,} -> {after:,} bytes")


if __name__ == "__main__":
    main()
