"""A real OpenSSH server on loopback for the SFTP source's tests.

``/usr/sbin/sshd`` (Debian's openssh-server; ``make system-deps`` installs it) runs as a daemon on
a free unprivileged port from a temporary directory of its own: its own config, a host key and a
client key made with ssh-keygen there, an authorized_keys file with the client key in it, and the
SFTP subsystem in-process (``internal-sftp``; ``-R`` when ``read_only``, so even root cannot move
a file). It logs in the user running the tests.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


@dataclass
class Sshd:
    root: Path  # the temporary directory: config, keys, and the served folders under files/
    port: int
    proc: subprocess.Popen[bytes]
    client_key: Path
    known_hosts: Path
    user: str

    @property
    def files(self) -> Path:
        return self.root / "files"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def crash(self) -> None:
        """Stop the server as a failing host would: the listener AND every session it forked
        (each SFTP connection is served by a child that a plain stop of the listener leaves
        running) are SIGKILLed, so a client loses its connection mid-transfer."""
        sessions = _descendants(self.proc.pid)
        self.proc.kill()
        self.proc.wait(timeout=10)
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):  # ended with its listener
                os.kill(pid, signal.SIGKILL)

    def start(self) -> None:
        """Start the server again from its config: the same port and the same host key."""
        self.proc = _launch(self.root, self.port)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path, passphrase: str = "") -> str:
    # A key with a passphrase is written as PKCS#8 (ECDSA): asyncssh reads an encrypted
    # OpenSSH-format key only with the optional bcrypt package, which revbridge does not need.
    kind = ["-t", "ecdsa", "-m", "PKCS8"] if passphrase else ["-t", "ed25519"]
    subprocess.run(
        ["ssh-keygen", "-q", *kind, "-N", passphrase, "-C", "revbridge-test", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path.with_name(path.name + ".pub").read_text().strip()


def start_sshd(root: Path, *, read_only: bool = False, passphrase: str = "") -> Sshd:
    root = root.resolve()  # sshd wants absolute paths
    root.mkdir(parents=True, exist_ok=True)
    (root / "files" / "inbox").mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege-separation directory
    host_pub = _keygen(root / "host_key")
    client_pub = _keygen(root / "client_key", passphrase)
    (root / "authorized_keys").write_text(client_pub + "\n")
    port = _free_port()
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    config = root / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {root / 'host_key'}",
                f"AuthorizedKeysFile {root / 'authorized_keys'}",
                f"PidFile {root / 'sshd.pid'}",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                f"Subsystem sftp internal-sftp{' -R' if read_only else ''}",
                "",
            ]
        )
    )
    proc = _launch(root, port)
    return Sshd(root, port, proc, root / "client_key", root / "known_hosts", getpass.getuser())


def _launch(root: Path, port: int) -> subprocess.Popen[bytes]:
    """sshd on ``port`` from ``root``'s config, once it accepts connections."""
    with (root / "sshd.log").open("ab") as log:  # never a pipe nobody reads: sshd would block on it
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(root / "sshd_config")], stdout=log, stderr=log
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited at start: {(root / 'sshd.log').read_text().strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("sshd did not listen in time")


def _descendants(pid: int) -> list[int]:
    """The processes forked from ``pid`` (children, their children...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def source_settings(server: Sshd, **overrides: object) -> dict[str, object]:
    """An ``sftp_sources`` entry for this server, its folder files/inbox."""
    inbox = server.files / "inbox"
    inbox.mkdir(exist_ok=True)
    settings: dict[str, object] = {
        "name": "clearinghouse",
        "host": "127.0.0.1",
        "port": server.port,
        "username": server.user,
        "folder": str(inbox),
        "known_hosts": str(server.known_hosts),
        "client_key": str(server.client_key),
        "poll_seconds": 0.2,
    }
    settings.update(overrides)
    return settings


def sshd_available() -> bool:
    return SSHD.exists() and os.access(SSHD, os.X_OK)
