"""Throw-away PostgreSQL clusters and MariaDB servers that a test may crash and start again.

The shared servers at 127.0.0.1 (:5432, :3306) serve every helper on the machine: a test must
never stop them. A source-database restart test gets a server of its own instead, in a temporary
directory on a free port: PostgreSQL made with ``initdb`` and run by ``pg_ctl`` (as the postgres
user when the tests run as root: PostgreSQL refuses to run as root), MariaDB made with
``mariadb-install-db`` and run as ``mariadbd`` with ``--skip-grant-tables`` (root logs in without a
password over TCP). ``crash`` stops the server the hard way (``pg_ctl stop -m immediate``, a
SIGKILL of mariadbd): clients lose their connections mid-query, as when the host of a
patient-accounting database fails; ``start`` brings it back on the same port with the same data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
MARIADBD = Path("/usr/sbin/mariadbd")
DATABASE = "stage"  # the database each server holds for the test


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait_listening(port: int, timeout: float, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the private database server exited at start ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the private database server did not listen on {port} in {timeout:.0f}s")


@dataclass
class PrivateServer:
    backend: str  # "postgresql" or "mariadb"
    root: Path  # data directory, socket and log
    port: int = field(default_factory=_free_port)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test's database on this server."""
        if self.backend == "postgresql":
            return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        if self.backend == "postgresql":
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            log = str(self.root / "server.log")
            self._pg_ctl("start", "-w", "-t", "60", "-l", log, "-o", options)
        else:
            user = ["--user=root"] if os.geteuid() == 0 else []
            command = [
                str(MARIADBD),
                "--no-defaults",
                f"--datadir={self.data}",
                f"--port={self.port}",
                f"--socket={self.root / 'mysqld.sock'}",
                f"--pid-file={self.root / 'pid'}",
                "--bind-address=127.0.0.1",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=32M",
                *user,
            ]
            with (self.root / "server.log").open("ab") as out:  # a file, never a pipe left unread
                self._proc = subprocess.Popen(command, stdout=out, stderr=out)
        _wait_listening(self.port, 60, self._proc)

    def _pg_ctl(self, *args: str) -> None:
        command = [*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=90)

    def crash(self) -> None:
        """Stop at once, as a failing host would: no checkpoint, connections cut mid-query."""
        if self.backend == "postgresql":
            self._pg_ctl("stop", "-m", "immediate")
        elif self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=30)
            self._proc = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def running(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def close(self) -> None:
        """Stop the server (if it runs) and delete everything it wrote."""
        try:
            if self.running():
                self.crash()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_private(backend: str) -> PrivateServer:
    """A new server of ``backend`` with an empty database ``stage``; ``close`` it afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"rb-{backend}-"))
    server = PrivateServer(backend, root)
    try:
        if backend == "postgresql":
            _initdb(root)
        else:
            user = ["--user=root"] if os.geteuid() == 0 else []
            command = [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={server.data}",
                "--skip-test-db",
                *user,
            ]
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        server.start()
        _create_database(server)
    except BaseException:
        server.close()
        raise
    return server


def _initdb(root: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")  # the cluster's files, socket and log belong to postgres
    command = [*_as_postgres(), str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "--no-sync"]
    subprocess.run([*command, "-D", str(root / "data")], check=True, capture_output=True, timeout=120)


def _create_database(server: PrivateServer) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_db = "postgres" if server.backend == "postgresql" else "mysql"
    admin = create_engine(make_url(server.url).set(database=admin_db), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    finally:
        admin.dispose()
