"""The SFTP source: a clearinghouse's folder on an SFTP server, polled; each file stored, then moved.

Every ``poll_seconds`` the poller logs in (client key and/or password; the server's host key is
checked against a known_hosts file unless ``check_host_key`` is off), lists the folder and takes
each complete file: one whose size and mtime did not change between two listings, or, with
``ready: marker``, one with a ``<name>.ready`` marker beside it (a marker also completes a file in
``stable`` mode). Temporary names (``.part``, ``.tmp``, dot-files) are never read. A file is
downloaded to a temporary local file, stored through intake, recorded in the store, and only then
moved to the done folder (``after: move``) or, on a read-only server (``after: remember``), left
where it is and skipped from then on by its name, size and mtime. A crash after the commit and
before the move re-downloads the file next time; dedupe (the X12 ISA key) absorbs its messages.
A file intake cannot read (empty, binary, no known format) is refused: a copy is kept aside in the
local spool's ``rejected/`` with a ``.reason`` file, it goes to the remote rejected folder (move
mode) and the poller goes on with the next file.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
import stat
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

with warnings.catch_warnings():
    # asyncssh still names cryptography's DSA classes (DSA keys are never used here)
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh

from revbridge.core.errors import InputError, RevbridgeError, StoreError
from revbridge.core.faults import fault_point
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.settings import SftpSource
from revbridge.sources.backoff import retry_after
from revbridge.sources.directory import SKIPPED_SUFFIXES, _free_name
from revbridge.store.sftp_seen import Taken

log = get_logger("revbridge.sftp")

RETRY_CAP_SECONDS = 600.0  # the longest wait between scans while they fail (10 minutes)

# The SSH connection itself went away (server restarted, network cut): every later request of the
# scan would fail too, so the scan ends with one error instead of one failure per remaining file.
CONNECTION_GONE = (
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    asyncssh.DisconnectError,
    ConnectionError,
)


def whole_file_key(source: str, name: str, data: bytes) -> str:
    """The dedupe key of a file stored whole because no format recognises it (empty, binary):
    its name and bytes, so two different empty files are two messages and a re-download is one."""
    digest = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()
    return f"sftp:{source[:64]}:sha256:{digest}"


# bytes, file name -> the stored messages' statuses (raises InputError when it is not a message file)
FileStore = Callable[[bytes, str], Sequence[str]]


class SftpError(RevbridgeError):
    """The server cannot be reached, verified or logged in to; nothing was downloaded."""


@dataclass(frozen=True, slots=True)
class Listed:
    name: str
    size: int
    mtime: int


@dataclass
class SftpPoller:
    config: SftpSource
    store_file: FileStore
    remember: Callable[[Taken], None]  # records a taken file in the store
    seen: Callable[[], set[tuple[str, int, int]]]  # (name, size, mtime) of the files taken
    metrics: Metrics
    spool: Path  # local: tmp/ for downloads, rejected/ for refused files
    password: str | None = None
    passphrase: str | None = None
    _last: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> size, mtime last listed
    _stop: threading.Event = field(default_factory=threading.Event)  # set: finish the file in hand, stop

    def scan_once(self) -> int:
        """List the folder once and take every complete file; returns how many were taken."""
        return asyncio.run(self._scan())

    def run(self, stop: threading.Event) -> None:
        """Scan every ``poll_seconds`` until ``stop``. A failed scan (the server down or restarting,
        the connection lost mid-folder, a login refused) is counted; it is logged once when scans
        start failing and once when one succeeds again, not once a poll. Each scan connects anew,
        so a server that comes back is used at the next poll; a file stored but not yet moved when
        the connection went is downloaded again and dedupe absorbs it. While scans fail the wait
        doubles from ``poll_seconds`` up to ``RETRY_CAP_SECONDS``: a server that refuses the login
        may lock the account or ban the address after a few tries in a row."""
        self._stop = stop
        failed = 0
        while not stop.is_set():
            try:
                self.scan_once()
            except (SftpError, StoreError) as exc:
                failed += 1
                self.metrics.sftp_scan_failures.labels(self.config.name).inc()
                if failed == 1:
                    log.warning("sftp.scan_failed", source=self.config.name, error=str(exc))
            else:
                if failed:
                    log.info("sftp.scan_recovered", source=self.config.name, failed_scans=failed)
                failed = 0
            stop.wait(retry_after(self.config.poll_seconds, failed, RETRY_CAP_SECONDS))

    async def _scan(self) -> int:
        conn = await self._connect()
        taken = 0
        try:
            async with conn.start_sftp_client() as sftp:
                complete = self._complete(await self._list(sftp))
                lag = self.metrics.sftp_lag.labels(self.config.name)
                lag.set(len(complete))
                for entry in complete:
                    if self._stop.is_set():
                        break
                    if await self._take_one(sftp, entry):
                        taken += 1
                        lag.dec()
        except (asyncssh.Error, OSError) as exc:
            raise SftpError(f"sftp source {self.config.name}: {_reason(exc)}") from None
        finally:
            conn.close()
            await conn.wait_closed()
        return taken

    async def _connect(self) -> asyncssh.SSHClientConnection:
        c = self.config
        known_hosts: str | None = None
        if c.check_host_key:
            path = c.known_hosts or Path.home() / ".ssh" / "known_hosts"
            if not path.is_file():
                raise SftpError(f"sftp source {c.name}: the known_hosts file {path} does not exist")
            known_hosts = str(path)
        where = f"{c.host}:{c.port}"
        try:
            return await asyncssh.connect(
                c.host,
                c.port,
                username=c.username,
                known_hosts=known_hosts,
                client_keys=[str(c.client_key)] if c.client_key else None,
                passphrase=self.passphrase,
                password=self.password,
                agent_path=None,
                config=None,
                connect_timeout=c.connect_timeout,
            )
        except asyncssh.HostKeyNotVerifiable:
            problem = (
                f"the host key of {where} is not in {known_hosts} or does not match it; nothing downloaded"
            )
        except asyncssh.PermissionDenied:
            problem = f"{where} refused the login of {c.username} (key or password not accepted)"
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            problem = f"the client key {c.client_key} cannot be read: {_reason(exc)}"
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            problem = f"cannot connect to {where}: {_reason(exc)}"
        raise SftpError(f"sftp source {c.name}: {problem}")

    async def _list(self, sftp: asyncssh.SFTPClient) -> tuple[list[Listed], set[str]]:
        """The folder's regular files that may be messages, and the names that have a marker."""
        c = self.config
        files: list[Listed] = []
        names: set[str] = set()
        try:
            listing = await sftp.readdir(c.folder)
        except asyncssh.SFTPError as exc:
            raise SftpError(f"sftp source {c.name}: cannot list {c.folder}: {_reason(exc)}") from None
        for item in listing:
            name = str(item.filename)
            perms = item.attrs.permissions
            if perms is None or not stat.S_ISREG(perms):
                continue
            names.add(name)
            if name.startswith(".") or name.endswith((*SKIPPED_SUFFIXES, c.marker_suffix)):
                continue
            files.append(Listed(name, int(item.attrs.size or 0), int(item.attrs.mtime or 0)))
        marked = {f.name for f in files if f.name + c.marker_suffix in names}
        return sorted(files, key=lambda f: f.name), marked

    def _complete(self, listing: tuple[list[Listed], set[str]]) -> list[Listed]:
        """The files to take now; remembers sizes and mtimes for the next listing."""
        files, marked = listing
        taken = self.seen() if self.config.after == "remember" else set()
        ready: list[Listed] = []
        current: dict[str, tuple[int, int]] = {}
        for f in files:
            if (f.name, f.size, f.mtime) in taken:
                continue
            current[f.name] = (f.size, f.mtime)
            if self._last.get(f.name) != (f.size, f.mtime):
                self.metrics.sftp_files.labels(self.config.name, "listed").inc()
            if f.name in marked or (
                self.config.ready == "stable" and self._last.get(f.name) == current[f.name]
            ):
                ready.append(f)
        self._last = current
        return ready

    async def _take_one(self, sftp: asyncssh.SFTPClient, entry: Listed) -> bool:
        """Take one file; a failure of this file alone is logged and counted, and the scan goes on."""
        try:
            return await self._take(sftp, entry)
        except CONNECTION_GONE as exc:  # not this file's fault: the scan ends, the next connects
            where = f"{self.config.host}:{self.config.port}"
            raise SftpError(
                f"sftp source {self.config.name}: the connection to {where} was lost ({_reason(exc)})"
            ) from None
        except (asyncssh.SFTPError, OSError) as exc:
            self.metrics.sftp_files.labels(self.config.name, "failed").inc()
            log.warning("sftp.file_failed", source=self.config.name, file=entry.name, error=_reason(exc))
            return False

    async def _take(self, sftp: asyncssh.SFTPClient, entry: Listed) -> bool:
        c = self.config
        data = b""
        try:
            found = await self._download(sftp, entry)
            if found is None:
                return False
            data = found
            statuses = self.store_file(data, entry.name)
        except InputError as exc:
            outcome, reason = "refused", str(exc)
            self._keep_aside(entry.name, data, reason)
        else:
            outcome, reason = (
                ("duplicate" if statuses and all(s == "duplicate" for s in statuses) else "stored"),
                "",
            )
        digest = hashlib.sha256(data).hexdigest()
        self.remember(Taken(entry.name, entry.size, entry.mtime, digest, outcome))
        fault_point("sftp.before_move")  # torture tests: committed, the remote file not yet moved
        if c.after == "move":
            await self._move(sftp, entry.name, c.rejected if outcome == "refused" else c.done)
        self._last.pop(entry.name, None)
        self.metrics.sftp_files.labels(c.name, outcome).inc()
        log.info(
            "sftp.taken", source=c.name, file=entry.name, size=entry.size, outcome=outcome, reason=reason
        )
        return True

    async def _download(self, sftp: asyncssh.SFTPClient, entry: Listed) -> bytes | None:
        """The file's bytes, or None when it is too large (refused) or changed while downloading."""
        if entry.size > self.config.max_file_bytes:
            raise InputError(f"{entry.name} is larger than max_file_bytes ({self.config.max_file_bytes})")
        tmp = self.spool / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        local = tmp / f"{entry.name}.download"
        try:
            await sftp.get(posixpath.join(self.config.folder, entry.name), str(local))
            data = local.read_bytes()
        finally:
            local.unlink(missing_ok=True)
        if len(data) != entry.size:  # still being written after all: wait for the next listings
            self._last.pop(entry.name, None)
            return None
        return data

    async def _move(self, sftp: asyncssh.SFTPClient, name: str, folder: str) -> None:
        if not await sftp.exists(folder):
            await sftp.makedirs(folder, exist_ok=True)
        target = posixpath.join(folder, name)
        n = 0
        while await sftp.exists(target):
            n += 1
            target = posixpath.join(folder, f"{name}.{n}")
        await sftp.rename(posixpath.join(self.config.folder, name), target)
        marker = posixpath.join(self.config.folder, name + self.config.marker_suffix)
        if await sftp.exists(marker):
            await sftp.remove(marker)

    def _keep_aside(self, name: str, data: bytes, reason: str) -> None:
        rejected = self.spool / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        target = _free_name(rejected, name)
        target.with_name(target.name + ".reason").write_text(f"{reason}\n", encoding="utf-8")
        target.write_bytes(data)
        log.warning("sftp.refused", source=self.config.name, file=name, reason=reason)


def _reason(exc: BaseException) -> str:
    """One line naming what failed: an SSH error's reason, an OS error's text, or the type."""
    text = getattr(exc, "reason", "") or getattr(exc, "strerror", "") or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
