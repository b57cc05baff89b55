"""10,000 HL7 v2 messages in 100 SFTP files through a poller SIGKILLed mid-folder AND an sshd that
crashes (listener and sessions) and starts again on the same port with the same host key while
the next poller runs: every message stored exactly once, every file moved to done exactly once,
and no file moved before its messages were committed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from restarted_sources import stored, wait_for
from runtime import build_runtime
from sqlalchemy import func, select
from sshd import Sshd, source_settings, sshd_available, start_sshd

from revbridge.bootstrap import Runtime
from revbridge.store.schema import message_keys, messages

pytestmark = pytest.mark.skipif(not sshd_available(), reason="/usr/sbin/sshd missing: make system-deps")

SUPPORT = Path(__file__).resolve().parents[1] / "support"
REPO = Path(__file__).resolve().parents[2]
FILES = 100
PER_FILE = 100  # messages in each file: FILES x PER_FILE = 10,000


def hl7_message(n: int) -> str:
    """Message ``n`` with its own control id: an ADT^A04 registration or a DFT^P03 charge."""
    msh = f"MSH|^~\\&|PAS|GEN|RB|GEN|20260101120000||{{}}|C{n:06d}|P|2.5\r"
    pid = f"PID|||MRN{n:06d}||SENTINEL-NAME-ZZS^JANE||19800101|F\r"
    pv1 = f"PV1||O|CARD^^^GEN||||||||||||||||V{n:06d}|||||||||||||||||||||||||20260101\r"
    if n % 2:
        ft1 = f"FT1|1|||20260101||CG|LAB{n % 7}^LAB||1||||||||||||||\r"
        return msh.format("DFT^P03^DFT_P03") + "EVN|P03|20260101120000\r" + pid + pv1 + ft1
    return msh.format("ADT^A04") + "EVN|A04|20260101120000\r" + pid + pv1


def hl7_file(f: int) -> bytes:
    return "".join(hl7_message(f * PER_FILE + i) for i in range(PER_FILE)).encode("ascii")


def _name(f: int) -> str:
    return f"batch{f:04d}.hl7"


def _keys_of(f: int) -> set[str]:
    return {f"GEN|C{f * PER_FILE + i:06d}" for i in range(PER_FILE)}  # MSH-4 | MSH-10


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Sshd]:
    sshd = start_sshd(tmp_path / "sshd")
    yield sshd
    sshd.stop()


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'rb.db'}", tmp_path / "home")
    yield runtime
    runtime.close()


def _spawn(db: str, home: Path, settings: dict[str, object], log: Path) -> subprocess.Popen[bytes]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(SUPPORT)])}
    home.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # a file, not a pipe left unread
        return subprocess.Popen(
            [sys.executable, str(SUPPORT / "sftp_procs.py"), db, str(home), json.dumps(settings), "forever"],
            env=environ,
            stdout=out,
            stderr=out,
        )


def _stored_keys(rt: Runtime) -> set[str]:
    with rt.db.reading() as conn:
        return {str(k) for (k,) in conn.execute(select(message_keys.c.dedupe_key))}


def _moved_only_after_commit(rt: Runtime, server: Sshd) -> int:
    """Every file in done/ has all its messages committed: done/ is listed FIRST and the store
    read after, so a poller still running can only widen the stored side. Returns done's count."""
    done = (
        sorted(p.name for p in (server.files / "done").iterdir()) if (server.files / "done").exists() else []
    )
    stored = _stored_keys(rt)
    for name in done:
        assert name.endswith(".hl7"), f"{name}: moved twice (a second copy was renamed)"
        missing = _keys_of(int(name[5:9])) - stored
        assert not missing, f"{name} moved before {len(missing)} of its messages were stored"
    return len(done)


@pytest.mark.slow
def test_10000_messages_with_the_poller_killed_and_sshd_restarted_are_each_stored_once(
    server: Sshd, rt: Runtime, tmp_path: Path
) -> None:
    inbox = server.files / "inbox"
    for f in range(FILES):
        (inbox / _name(f)).write_bytes(hl7_file(f))
    settings = source_settings(server, poll_seconds=0.05)
    db = rt.settings.db_url
    logs = [tmp_path / "poller-1.log", tmp_path / "poller-2.log"]
    first = _spawn(db, tmp_path / "home", settings, logs[0])
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: stored(rt) >= 2500, 120, "2,500 messages stored by the first poller")
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        killed_at = stored(rt)
        assert 2500 <= killed_at < FILES * PER_FILE, killed_at  # really mid-folder
        _moved_only_after_commit(rt, server)
        second = _spawn(db, tmp_path / "home", settings, logs[1])
        wait_for(
            lambda: stored(rt) >= killed_at + 2000, 120, "2,000 more messages stored by the second poller"
        )
        server.crash()
        down_at = stored(rt)
        assert down_at < FILES * PER_FILE, down_at  # the server went away mid-folder
        _moved_only_after_commit(rt, server)
        time.sleep(1)  # the poller's scans fail meanwhile
        assert second.poll() is None, logs[1].read_text(errors="replace")  # still running
        server.start()
        wait_for(lambda: _moved_only_after_commit(rt, server) >= FILES, 180, "every file moved to done")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0, logs[1].read_text(errors="replace")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    with rt.db.reading() as conn:
        firsts = conn.execute(
            select(func.count()).select_from(messages).where(messages.c.status != "duplicate")
        ).scalar_one()
    assert list(inbox.iterdir()) == []
    assert sorted(p.name for p in (server.files / "done").iterdir()) == [_name(f) for f in range(FILES)]
    assert _stored_keys(rt) == set().union(*(_keys_of(f) for f in range(FILES)))
    assert firsts == FILES * PER_FILE  # every message stored once; a repeat only as a duplicate
    text = logs[1].read_text(errors="replace")
    assert text.count("sftp.scan_failed") == 1, text  # one line for the outage, not one a poll
    assert text.count("sftp.scan_recovered") == 1, text
    assert "sftp.file_failed" not in text, text  # a lost connection fails the scan, not each file
