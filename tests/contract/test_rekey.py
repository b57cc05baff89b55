"""Key rotation and re-encryption on SQLite and PostgreSQL: new payloads use the new key, old rows
stay readable, the re-encryption job moves them (resumably, beside running intake), and a
tampered ciphertext is reported, never silently re-sealed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lineformat import FORMATS
from sqlalchemy import select, update

from revbridge.bootstrap import Runtime, build
from revbridge.core.errors import DecryptionError, InputError
from revbridge.security.keys import Keyring, read_key_file
from revbridge.settings import Settings
from revbridge.store import audit, rekey, workitems
from revbridge.store.messages import Arrival
from revbridge.store.schema import audit_log, messages


def build_runtime(db_url: str, home: Path, **settings: Any) -> Runtime:
    """A runtime without the posting stage: these tests are about stored payloads, and the
    messages' end states must not depend on how the posting rules evolve."""
    return build(
        Settings(home=home, db=db_url, **settings),
        formats=FORMATS,
        upgrade=True,
        posting=False,
        with_reference_config=False,
    )


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(db_url, tmp_path)
    yield runtime
    runtime.close()


def accept(rt: Runtime, n: int, prefix: str = "m") -> dict[str, bytes]:
    sent = {}
    for i in range(n):
        payload = f"CHARGE {prefix}{i} {i}.25\nNAME SENTINEL {prefix}{i}".encode()
        sent[rt.store.accept(Arrival(channel="test", format="lines", payload=payload)).message_id] = payload
    return sent


def stored(rt: Runtime) -> dict[str, tuple[str, bytes]]:
    with rt.db.reading() as conn:
        rows = conn.execute(select(messages.c.id, messages.c.key_id, messages.c.payload))
        return {r.id: (r.key_id, bytes(r.payload)) for r in rows if r.payload is not None}


def readable(rt: Runtime, ring: Keyring) -> dict[str, bytes]:
    return {mid: ring.open(kid, blob, aad=mid) for mid, (kid, blob) in stored(rt).items()}


def rotate(rt: Runtime, key_id: str | None = None) -> Keyring:
    return rekey.rotate(
        rt.db,
        key_file=rt.settings.resolved_key_file,
        key_id=key_id,
        actor="test",
        now=rt.clock.now(),
        anchor=rt.settings.resolved_audit_anchor,
    )


def actions(rt: Runtime) -> list[str]:
    """The key actions in the audit trail (a CLI run may also apply the reference configuration)."""
    with rt.db.reading() as conn:
        query = select(audit_log.c.action).where(audit_log.c.action.like("key.%")).order_by(audit_log.c.seq)
        return list(conn.execute(query).scalars())


def test_rotation_new_payloads_use_the_new_key_and_old_rows_stay_readable(
    rt: Runtime, db_url: str, tmp_path: Path
) -> None:
    before = accept(rt, 5)
    ring = rotate(rt)
    assert ring.active == "k2" and set(ring.keys) == {"k1", "k2"}
    assert actions(rt) == ["key.rotate"]
    restarted = build_runtime(db_url, tmp_path)
    try:
        after = accept(restarted, 3, prefix="n")
        keys = {mid: kid for mid, (kid, _) in stored(restarted).items()}
        assert {keys[m] for m in before} == {"k1"}
        assert {keys[m] for m in after} == {"k2"}
        assert readable(restarted, restarted.keyring) == before | after
        assert rekey.rows_by_key(restarted.db) == {"k1": 5, "k2": 3}
    finally:
        restarted.close()


def test_a_running_service_follows_the_rotation(rt: Runtime) -> None:
    accept(rt, 2)
    rotate(rt)
    assert rt.keyring.follow is not None
    rt.keyring.follow._checked -= 10  # as if a second had passed
    fresh = accept(rt, 2, prefix="n")
    keys = {mid: kid for mid, (kid, _) in stored(rt).items()}
    assert {keys[m] for m in fresh} == {"k2"}


def test_reencrypt_moves_every_row_and_is_audited(rt: Runtime) -> None:
    sent = accept(rt, 23)
    ring = rotate(rt)
    report = rekey.reencrypt(rt.db, rt.keyring, batch_size=5)
    assert (report.active, report.moved, report.skipped, report.failed, report.remaining) == (
        "k2",
        23,
        0,
        (),
        {},
    )
    assert {kid for kid, _ in stored(rt).values()} == {"k2"}
    assert readable(rt, ring) == sent
    rekey.record_run(
        rt.db, report, actor="test", now=rt.clock.now(), anchor=rt.settings.resolved_audit_anchor
    )
    assert actions(rt) == ["key.rotate", "key.reencrypt"]
    count, findings = audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)
    assert findings == [] and count == 2
    again = rekey.reencrypt(rt.db, rt.keyring)
    assert again.moved == 0 and again.remaining == {}


def test_reencrypt_resumes_after_an_interruption(rt: Runtime) -> None:
    sent = accept(rt, 12)
    ring = rotate(rt)
    batches = []

    def stop_after_two(n: int) -> None:
        batches.append(n)
        if len(batches) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rekey.reencrypt(rt.db, rt.keyring, batch_size=4, progress=stop_after_two)
    assert rekey.rows_by_key(rt.db) == {"k1": 4, "k2": 8}
    report = rekey.reencrypt(rt.db, rt.keyring, batch_size=4)
    assert report.moved == 4 and report.remaining == {}
    assert readable(rt, ring) == sent


def test_a_tampered_row_is_reported_and_left_alone(rt: Runtime) -> None:
    sent = accept(rt, 6)
    victim = sorted(sent)[2]
    with rt.db.transaction() as conn:
        blob = bytearray(conn.execute(select(messages.c.payload).where(messages.c.id == victim)).scalar_one())
        blob[-3] ^= 0x01
        conn.execute(update(messages).where(messages.c.id == victim).values(payload=bytes(blob)))
    ring = rotate(rt)
    report = rekey.reencrypt(rt.db, rt.keyring)
    assert report.failed == (victim,) and report.moved == 5 and report.remaining == {"k1": 1}
    kid, blob_now = stored(rt)[victim]
    assert kid == "k1" and blob_now == bytes(blob)
    with pytest.raises(DecryptionError, match=f"payload of {victim} failed authentication under key 'k1'"):
        rt.store.open_payload(victim, kid, blob_now)
    assert {m: p for m, p in sent.items() if m != victim} == {
        m: ring.open(k, b, aad=m) for m, (k, b) in stored(rt).items() if m != victim
    }


class PurgingRing:
    """A keyring whose first open() purges that very row underneath the job."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ring = rt.keyring
        self.purged: str | None = None

    def latest(self) -> Keyring:
        return self.ring.latest()

    def open(self, key_id: str, blob: bytes, aad: str) -> bytes:
        if self.purged is None:
            self.purged = aad
            with self.rt.db.transaction() as conn:
                conn.execute(update(messages).where(messages.c.id == aad).values(payload=None))
        return self.ring.open(key_id, blob, aad=aad)


def test_a_row_changed_meanwhile_is_skipped_not_overwritten(rt: Runtime) -> None:
    accept(rt, 4)
    rotate(rt)
    ring: Any = PurgingRing(rt)
    report = rekey.reencrypt(rt.db, ring)
    assert report.moved == 3 and report.skipped == 1
    with rt.db.reading() as conn:
        assert (
            conn.execute(select(messages.c.payload).where(messages.c.id == ring.purged)).scalar_one() is None
        )


def test_reencrypt_beside_running_intake_and_workers(rt: Runtime) -> None:
    sent = accept(rt, 40)
    stop = threading.Event()
    arrived: dict[str, bytes] = {}
    failures: list[BaseException] = []

    def intake() -> None:
        n = 0
        try:
            while not stop.is_set():
                arrived.update(accept(rt, 1, prefix=f"live{n}-"))
                n += 1
        except BaseException as exc:
            failures.append(exc)

    def work() -> None:
        worker = rt.worker(owner="rekey-test")
        try:
            while not stop.is_set():
                if not worker.run_once():
                    stop.wait(0.01)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=intake), threading.Thread(target=work)]
    for t in threads:
        t.start()
    try:
        rotate(rt)
        first = rekey.reencrypt(rt.db, read_key_file(rt.settings.resolved_key_file), batch_size=7)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == []
    assert first.failed == ()
    second = rekey.reencrypt(rt.db, read_key_file(rt.settings.resolved_key_file), batch_size=7)
    assert second.failed == () and second.remaining == {}
    assert readable(rt, read_key_file(rt.settings.resolved_key_file)) == sent | arrived
    rt.worker().drain()
    assert workitems.counts_by_code(rt.db).get("PAYLOAD_UNREADABLE", 0) == 0
    assert rt.status()["messages"]["processed"] == len(sent) + len(arrived)


def test_retire_needs_a_complete_reencryption(rt: Runtime) -> None:
    accept(rt, 3)
    rotate(rt)
    kwargs: dict[str, Any] = {
        "key_file": rt.settings.resolved_key_file,
        "key_id": "k1",
        "actor": "test",
        "now": rt.clock.now(),
        "anchor": None,
    }
    with pytest.raises(InputError, match="3 stored payloads are still sealed under 'k1'"):
        rekey.retire(rt.db, **kwargs)
    rekey.reencrypt(rt.db, rt.keyring)
    assert set(rekey.retire(rt.db, **kwargs).keys) == {"k2"}
    assert set(read_key_file(rt.settings.resolved_key_file).keys) == {"k2"}


def cli(
    home: Path, db_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args, "--db", db_url],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_the_keys_commands(rt: Runtime, db_url: str, tmp_path: Path) -> None:
    sent = accept(rt, 9)
    rotated = cli(tmp_path, db_url, "keys", "rotate", "--json")
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout) == {
        "mode": "file",
        "active": "k2",
        "key_file": str(rt.settings.resolved_key_file),
    }
    status = json.loads(cli(tmp_path, db_url, "keys", "status", "--json").stdout)
    assert status["active"] == "k2"
    assert status["keys"] == [
        {"id": "k1", "active": False, "payloads": 9},
        {"id": "k2", "active": True, "payloads": 0},
    ]
    moved = cli(tmp_path, db_url, "keys", "reencrypt", "--json", "--batch-size", "4")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout) == {
        "active": "k2",
        "moved": 9,
        "skipped": 0,
        "failed": [],
        "remaining": {},
    }
    assert readable(rt, read_key_file(rt.settings.resolved_key_file)) == sent
    assert cli(tmp_path, db_url, "keys", "retire", "k1").returncode == 0
    verify = cli(tmp_path, db_url, "audit", "verify", "--json")
    assert json.loads(verify.stdout)["intact"] is True
    assert actions(rt) == ["key.rotate", "key.reencrypt", "key.retire"]


def test_rotation_with_keys_from_the_environment(db_url: str, tmp_path: Path) -> None:
    k1 = base64.b64encode(os.urandom(32)).decode()
    token = base64.b64encode(os.urandom(32)).decode()
    env = {"REVBRIDGE_KEYS": f"k1:{k1}", "REVBRIDGE_TOKEN_KEY": token}
    first = build_runtime(db_url, tmp_path, keys=env["REVBRIDGE_KEYS"], token_key=token)
    try:
        sent = accept(first, 4)
    finally:
        first.close()
    result = cli(tmp_path, db_url, "keys", "rotate", "--json", env=env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["mode"] == "environment" and answer["active"] == "k2"
    assert answer["entry"].startswith("k2:") and "REVBRIDGE_ACTIVE_KEY=k2" in answer["next"]
    assert not (tmp_path / "keys.json").exists()
    keys = f"k1:{k1},{answer['entry']}"
    second = build_runtime(db_url, tmp_path, keys=keys, token_key=token)
    try:
        assert second.keyring.active == "k2"
        sent |= accept(second, 2, prefix="n")
        report = rekey.reencrypt(second.db, second.keyring)
        assert report.moved == 4 and report.remaining == {}
        assert readable(second, second.keyring) == sent
        assert actions(second) == ["key.rotate"]
    finally:
        second.close()
