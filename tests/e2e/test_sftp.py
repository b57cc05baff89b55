"""The SFTP source against a real OpenSSH server on loopback: complete files only, stored before
they are moved (or remembered on a read-only server), refused files kept with a reason, the host
key checked, and a kill between the commit and the move repeating nothing. 10,000 messages through
a kill AND an sshd restart: test_sftp_restart.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from runtime import build_runtime
from sshd import Sshd, source_settings, sshd_available, start_sshd

from revbridge.bootstrap import Runtime
from revbridge.core.errors import ConfigurationError
from revbridge.settings import SftpSource
from revbridge.sources.sftp import SftpError, SftpPoller
from revbridge.store import queue, workitems

pytestmark = pytest.mark.skipif(not sshd_available(), reason="/usr/sbin/sshd missing: make system-deps")

ERA = "x12_835/lfh_x12__medicare-part-a.835"
SUPPORT = Path(__file__).resolve().parents[1] / "support"
REPO = Path(__file__).resolve().parents[2]


def era(corpus: Path, n: int) -> bytes:
    """The corpus 835 as interchange ``n``: its own ISA13/IEA02 control number, so its own message."""
    return (corpus / ERA).read_bytes().replace(b"000000907", f"{n:09d}".encode())


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


@pytest.fixture
def poller(rt: Runtime, server: Sshd) -> Callable[..., SftpPoller]:
    def make(**overrides: Any) -> SftpPoller:
        return rt.sftp_poller(SftpSource.model_validate(source_settings(server, **overrides)))

    return make


def _stored(rt: Runtime) -> int:
    return sum(n for state, n in queue.counts(rt.db).items() if state != "duplicate")


def test_files_in_are_stored_then_moved_to_done(
    server: Sshd, rt: Runtime, poller: Callable[..., SftpPoller], corpus: Path
) -> None:
    p = poller()
    inbox = server.files / "inbox"
    for n in (1, 2):
        (inbox / f"era{n}.835").write_bytes(era(corpus, n))
    assert p.scan_once() == 0  # first sight: not yet known to be stable
    assert p.scan_once() == 2
    assert sorted(f.name for f in (server.files / "done").iterdir()) == ["era1.835", "era2.835"]
    assert (server.files / "done" / "era1.835").read_bytes() == era(corpus, 1)
    assert list(inbox.iterdir()) == []
    assert queue.counts(rt.db)["pending"] == 2
    assert rt.metrics.sftp_files.labels("clearinghouse", "stored")._value.get() == 2
    assert rt.metrics.sftp_files.labels("clearinghouse", "listed")._value.get() == 2
    assert rt.sftp_status()["clearinghouse"]["taken"] == {"stored": 2}


def test_remember_mode_takes_a_read_only_servers_files_once(
    tmp_path: Path, rt: Runtime, corpus: Path
) -> None:
    sshd = start_sshd(tmp_path / "ro", read_only=True)
    try:
        p = rt.sftp_poller(SftpSource.model_validate(source_settings(sshd, after="remember")))
        inbox = sshd.files / "inbox"
        (inbox / "era.835").write_bytes(era(corpus, 7))
        assert p.scan_once() == 0
        assert p.scan_once() == 1
        assert (inbox / "era.835").exists()  # nothing moved: the server would not let it
        for _ in range(3):
            assert p.scan_once() == 0  # remembered by name, size and mtime
        again = rt.sftp_poller(SftpSource.model_validate(source_settings(sshd, after="remember")))
        assert again.scan_once() == 0 and again.scan_once() == 0  # a new process remembers it too
        assert queue.counts(rt.db)["pending"] == 1
        assert rt.sftp_status()["clearinghouse"]["taken"] == {"stored": 1}
        # the read-only server refuses a move: the move mode fails the file, and takes it again later
        mover = rt.sftp_poller(SftpSource.model_validate(source_settings(sshd, name="mover")))
        assert mover.scan_once() == 0 and mover.scan_once() == 0
        assert rt.metrics.sftp_files.labels("mover", "failed")._value.get() == 1
        assert rt.metrics.sftp_files.labels("mover", "duplicate")._value.get() == 0
    finally:
        sshd.stop()


def test_a_growing_file_is_not_taken_until_two_listings_agree(
    server: Sshd, rt: Runtime, poller: Callable[..., SftpPoller], corpus: Path
) -> None:
    p = poller()
    data = era(corpus, 3)
    target = server.files / "inbox" / "era.835"
    target.write_bytes(data[:300])
    assert p.scan_once() == 0
    with target.open("ab") as fh:
        fh.write(data[300:600])
    assert p.scan_once() == 0  # grew since the last listing
    with target.open("ab") as fh:
        fh.write(data[600:])
    assert p.scan_once() == 0
    assert queue.counts(rt.db)["pending"] == 0
    assert p.scan_once() == 1
    assert (server.files / "done" / "era.835").read_bytes() == data
    assert queue.counts(rt.db)["pending"] == 1


def test_marker_mode_waits_for_the_marker_and_removes_it(
    server: Sshd, poller: Callable[..., SftpPoller], corpus: Path
) -> None:
    p = poller(ready="marker")
    inbox = server.files / "inbox"
    (inbox / "era.835").write_bytes(era(corpus, 4))
    (inbox / "other.835.part").write_bytes(b"half a file")
    assert p.scan_once() == 0 and p.scan_once() == 0  # stable, but no marker
    (inbox / "era.835.ready").write_text("")
    assert p.scan_once() == 1
    assert sorted(f.name for f in inbox.iterdir()) == ["other.835.part"]


def test_a_wrong_host_key_is_one_line_and_nothing_is_downloaded(
    server: Sshd, rt: Runtime, poller: Callable[..., SftpPoller], corpus: Path, tmp_path: Path
) -> None:
    (server.files / "inbox" / "era.835").write_bytes(era(corpus, 5))
    other = tmp_path / "other_host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{server.port} {(tmp_path / 'other_host.pub').read_text()}")
    p = poller(known_hosts=str(wrong))
    for _ in range(2):
        with pytest.raises(SftpError) as caught:
            p.scan_once()
        assert "\n" not in str(caught.value)
        assert str(caught.value) == (
            f"sftp source clearinghouse: the host key of 127.0.0.1:{server.port} is not in {wrong} "
            "or does not match it; nothing downloaded"
        )
    missing = poller(known_hosts=str(tmp_path / "nowhere"))
    with pytest.raises(
        SftpError, match=r"^sftp source clearinghouse: the known_hosts file .* does not exist$"
    ):
        missing.scan_once()
    nowhere = poller(folder=str(server.files / "no_such_folder"))
    with pytest.raises(
        SftpError, match=r"^sftp source clearinghouse: cannot list /.*/no_such_folder: No such file$"
    ):
        nowhere.scan_once()
    assert (server.files / "inbox" / "era.835").exists()
    assert queue.counts(rt.db)["pending"] == 0
    assert not (rt.settings.home / "sftp" / "clearinghouse" / "tmp").exists()


def test_passwords_and_passphrases_come_from_the_environment(
    server: Sshd, rt: Runtime, tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = start_sshd(tmp_path / "locked", passphrase="open sesame")
    try:
        settings = source_settings(locked, passphrase_env="RB_TEST_PASSPHRASE")
        with pytest.raises(
            ConfigurationError, match=r"^sftp source clearinghouse: RB_TEST_PASSPHRASE is not set$"
        ):
            rt.sftp_poller(SftpSource.model_validate(settings))
        monkeypatch.setenv("RB_TEST_PASSPHRASE", "not it")
        with pytest.raises(
            SftpError, match=r"client_key cannot be read: Unable to decrypt PKCS#8 private key$"
        ):
            rt.sftp_poller(SftpSource.model_validate(settings)).scan_once()
        monkeypatch.setenv("RB_TEST_PASSPHRASE", "open sesame")
        (locked.files / "inbox" / "era.835").write_bytes(era(corpus, 6))
        p = rt.sftp_poller(SftpSource.model_validate(settings))
        assert p.scan_once() == 0 and p.scan_once() == 1
    finally:
        locked.stop()
    monkeypatch.setenv("RB_TEST_PASSWORD", "wrong password")
    by_password = source_settings(server, client_key=None, password_env="RB_TEST_PASSWORD")
    with pytest.raises(SftpError) as caught:
        rt.sftp_poller(SftpSource.model_validate(by_password)).scan_once()
    assert str(caught.value) == (
        f"sftp source clearinghouse: 127.0.0.1:{server.port} refused the login of {server.user} "
        "(key or password not accepted)"
    )
    assert "wrong password" not in str(caught.value)


def test_an_empty_and_a_binary_file_are_stored_excepted_and_set_aside_and_the_next_file_flows(
    server: Sshd, rt: Runtime, poller: Callable[..., SftpPoller], corpus: Path
) -> None:
    p = poller()
    inbox = server.files / "inbox"
    (inbox / "a_empty.835").write_bytes(b"")
    (inbox / "b_binary.835").write_bytes(bytes(range(256)) * 8)
    (inbox / "c_good.835").write_bytes(era(corpus, 8))
    assert p.scan_once() == 0
    assert p.scan_once() == 3
    assert sorted(f.name for f in (server.files / "rejected").iterdir()) == ["a_empty.835", "b_binary.835"]
    assert [f.name for f in (server.files / "done").iterdir()] == ["c_good.835"]
    aside = rt.settings.home / "sftp" / "clearinghouse" / "rejected"
    assert (aside / "b_binary.835").read_bytes() == bytes(range(256)) * 8
    reason = (aside / "a_empty.835.reason").read_text()
    assert reason.startswith("cannot tell the format of the input")
    assert queue.counts(rt.db)["pending"] == 3  # nothing received is lost: both kept whole
    assert rt.metrics.sftp_files.labels("clearinghouse", "refused")._value.get() == 2
    assert rt.sftp_status()["clearinghouse"]["taken"] == {"refused": 2, "stored": 1}
    rt.worker().drain()
    assert queue.counts(rt.db)["excepted"] == 2
    items = workitems.list_items(rt.db)
    assert sorted((i.code, i.locator) for i in items) == [("UNSUPPORTED_FORMAT", "message[1]")] * 2
    p.scan_once()  # an empty file dropped again under the same name is the same message, kept once
    (inbox / "a_empty.835").write_bytes(b"")
    p.scan_once()
    p.scan_once()
    assert queue.counts(rt.db)["excepted"] == 2
    assert queue.counts(rt.db).get("duplicate") == 1


def _spawn(
    db: str, home: Path, settings: dict[str, object], mode: str, **env: str
) -> subprocess.Popen[bytes]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(SUPPORT)]), **env}
    script = SUPPORT / "sftp_procs.py"
    home.mkdir(parents=True, exist_ok=True)
    with (home / f"poller-{mode}.log").open("ab") as log:  # a file, not a pipe left unread
        return subprocess.Popen(
            [sys.executable, str(script), db, str(home), json.dumps(settings), mode],
            env=environ,
            stdout=log,
            stderr=log,
        )


def _log(home: Path) -> str:
    return "".join(f.read_text(errors="replace") for f in sorted(home.glob("poller-*.log")))


def test_a_kill_after_the_commit_and_before_the_move_repeats_nothing(
    server: Sshd, rt: Runtime, tmp_path: Path, corpus: Path
) -> None:
    (server.files / "inbox" / "era.835").write_bytes(era(corpus, 9))
    settings = source_settings(server)
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    proc = _spawn(db, tmp_path / "home", settings, "drain", REVBRIDGE_FAULTS="sftp.before_move=1")
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert (server.files / "inbox" / "era.835").exists()  # died before the move
    assert queue.counts(rt.db)["pending"] == 1
    proc = _spawn(db, tmp_path / "home", settings, "drain")
    assert proc.wait(timeout=60) == 0, _log(tmp_path / "home")
    assert [f.name for f in (server.files / "done").iterdir()] == ["era.835"]
    assert queue.counts(rt.db)["pending"] == 1  # downloaded again, absorbed by dedupe


def test_status_names_each_sftp_source(server: Sshd, tmp_path: Path, corpus: Path) -> None:
    db = f"sqlite:///{tmp_path / 'st.db'}"
    runtime = build_runtime(db, tmp_path / "home")
    settings = source_settings(server)
    p = runtime.sftp_poller(SftpSource.model_validate(settings))
    (server.files / "inbox" / "era.835").write_bytes(era(corpus, 11))
    assert p.scan_once() == 0 and p.scan_once() == 1
    runtime.close()
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(yaml.safe_dump({"home": str(tmp_path / "home"), "sftp_sources": [settings]}))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cli = [sys.executable, "-m", "revbridge", "status", "--db", db, "--settings", str(settings_file)]
    text = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=120)
    assert text.returncode == 0, text.stderr
    assert "sftp clearinghouse: files taken: 1 stored; last at 20" in text.stdout
    data = json.loads(
        subprocess.run([*cli, "--json"], capture_output=True, text=True, env=env, timeout=120).stdout
    )
    assert data["sftp"]["clearinghouse"]["taken"] == {"stored": 1}


def test_serve_polls_each_configured_sftp_source(server: Sshd, tmp_path: Path, corpus: Path) -> None:
    from revbridge.service.runner import Service

    settings = source_settings(server)
    runtime = build_runtime(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path / "home", sftp_sources=[settings])
    service = Service(runtime, http=False, mllp=False, directory=False, staging=False, post=False, workers=0)
    (server.files / "inbox" / "era.835").write_bytes(era(corpus, 12))
    service.start()
    try:
        done = server.files / "done" / "era.835"
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done.read_bytes() == era(corpus, 12)
        assert queue.counts(runtime.db)["pending"] == 1
    finally:
        service.stop()
        runtime.close()


def test_serve_without_the_named_password_variable_does_not_start(server: Sshd, tmp_path: Path) -> None:
    from revbridge.service.runner import Service

    settings = source_settings(server, client_key=None, password_env="RB_TEST_UNSET_PASSWORD")
    runtime = build_runtime(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path / "home", sftp_sources=[settings])
    service = Service(runtime, http=False, mllp=False, directory=False, staging=False, post=False, workers=0)
    try:
        with pytest.raises(
            ConfigurationError, match=r"^sftp source clearinghouse: RB_TEST_UNSET_PASSWORD is not set$"
        ):
            service.start()
    finally:
        service.stop()
        runtime.close()


def test_a_stop_ends_the_scan_after_the_file_in_hand(
    server: Sshd, rt: Runtime, poller: Callable[..., SftpPoller], corpus: Path
) -> None:
    import threading

    total = 80
    for n in range(total):
        (server.files / "inbox" / f"era{n:04d}.835").write_bytes(era(corpus, 2000 + n))
    stop = threading.Event()
    thread = threading.Thread(target=poller(poll_seconds=0.05).run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 30
    while _stored(rt) < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert 1 <= _stored(rt) < total  # not the rest of the folder first
    assert len(list((server.files / "done").iterdir())) == _stored(rt)  # each stored file was moved
    lag = rt.metrics.registry.get_sample_value("revbridge_sftp_lag_files", {"source": "clearinghouse"})
    assert lag == total - _stored(rt)  # the gauge: complete files still waiting on the server
    again = poller()
    again.scan_once()  # a new poller's first listing only notes sizes; the second takes the rest
    again.scan_once()
    assert _stored(rt) == total
    assert rt.metrics.registry.get_sample_value("revbridge_sftp_lag_files", {"source": "clearinghouse"}) == 0


def test_a_refused_login_is_tried_again_less_and_less_often(
    rt: Runtime, poller: Callable[..., SftpPoller]
) -> None:
    """A server that refuses the login (a wrong user) is not hammered: the wait doubles from
    poll_seconds per failed scan. At 0.05 s a poll, 2 s would hold 15 or more tries without it."""
    p = poller(username="no-such-user", poll_seconds=0.05)
    stop = threading.Event()
    runner = threading.Thread(target=p.run, args=(stop,))
    runner.start()
    time.sleep(2.0)
    stop.set()
    runner.join(timeout=30)
    tries = rt.metrics.sftp_scan_failures.labels("clearinghouse")._value.get()
    assert 2 <= tries <= 7, tries  # 0.05 s, then waits of 0.1, 0.2, 0.4, 0.8, 1.6 s
