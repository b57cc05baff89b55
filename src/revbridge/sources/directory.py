"""The directory source: files dropped into ``inbox/`` are stored, then moved to ``done/``.

Clearinghouses and batch jobs deliver 835/837 (and sometimes HL7 batch) files by SFTP into a
folder. A file is picked up only once it is complete: either a marker ``<name>.ready`` exists
(the sender's promise that the file is whole), or its size and modification time have not
changed for ``stable_seconds``. Temporary names (``.part``, ``.tmp``, dot-files) are never read.
A file is moved to ``done/`` only after every message in it is committed, so a crash leaves it in
the inbox and the next scan stores it again (as a duplicate, which the store recognises). A file
whose format cannot be told (no HL7 v2 MSH, not even after a sender's marker; no X12 ISA or bare
ST; no JSON) is moved to ``rejected/`` with a ``.reason`` file beside it: nothing is deleted. A
file that can be told but holds problems (a marker before the MSH, a bare 835, a broken segment)
is stored and moved to ``done/``; its problems become work items when it is processed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from revbridge.core.errors import InputError
from revbridge.observability.logging import get_logger

log = get_logger("revbridge.directory")

READY = ".ready"
SKIPPED_SUFFIXES = (".part", ".tmp", ".partial", ".filepart", READY, ".reason")

# bytes, file name -> stores every message in it (raises InputError when it is not a message file)
FileHandler = Callable[[bytes, str], object]


@dataclass
class DirectorySource:
    inbox: Path
    handler: FileHandler
    stable_seconds: float = 1.0
    poll_seconds: float = 1.0
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    @property
    def done(self) -> Path:
        return self.inbox.parent / "done"

    @property
    def rejected(self) -> Path:
        return self.inbox.parent / "rejected"

    def prepare(self) -> None:
        for folder in (self.inbox, self.done, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)

    def scan_once(self) -> int:
        """Store and move every complete file; returns how many files were handled."""
        self.prepare()
        handled = 0
        present = set()
        for path in sorted(self.inbox.iterdir()):
            if not path.is_file() or path.name.startswith(".") or path.name.endswith(SKIPPED_SUFFIXES):
                continue
            present.add(path.name)
            if self._complete(path):
                self._take(path)
                handled += 1
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return handled

    def _complete(self, path: Path) -> bool:
        if path.with_name(path.name + READY).exists():
            return True
        stat = path.stat()
        now = time.monotonic()
        seen = self._seen.get(path.name)
        if seen is None or seen[:2] != (stat.st_size, stat.st_mtime_ns):
            self._seen[path.name] = (stat.st_size, stat.st_mtime_ns, now)
            return False
        return now - seen[2] >= self.stable_seconds

    def _take(self, path: Path) -> None:
        self._seen.pop(path.name, None)
        marker = path.with_name(path.name + READY)
        data = path.read_bytes()
        try:
            self.handler(data, path.name)
        except InputError as exc:
            target = _free_name(self.rejected, path.name)
            # The reason is written first: a crash between the two leaves the file in the inbox
            # (taken again on the next scan), never a rejected file nobody can explain.
            target.with_name(target.name + ".reason").write_text(f"{exc}\n", encoding="utf-8")
            os.replace(path, target)
            log.warning("directory.rejected", file=path.name, reason=str(exc))
        else:
            os.replace(path, _free_name(self.done, path.name))
            log.info("directory.stored", file=path.name, size=len(data))
        if marker.exists():
            marker.unlink()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.scan_once()
            except OSError as exc:
                log.warning("directory.scan_failed", error=type(exc).__name__)
            stop.wait(self.poll_seconds)


def _free_name(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or ``name.1``, ``name.2``... if a file of that name is already there."""
    target = folder / name
    n = 0
    while target.exists():
        n += 1
        target = folder / f"{name}.{n}"
    return target
