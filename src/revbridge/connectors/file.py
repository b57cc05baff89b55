"""The file connector: one import file per journal in a directory an ERP's bulk loader picks up.

``submit`` renders the journal (CSV, an FBDI zip or a self-contained beancount ledger; see
exports.py) and publishes it atomically (temporary file, fsync, rename), named by the journal id,
so a file is either whole or absent and a second submit finds it instead of writing it again. A
line per published file is appended to ``manifest.jsonl`` for the loader's bookkeeping; lookup
trusts the file itself, so a crash between rename and manifest loses nothing that matters.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, Limits, Receipt
from revbridge.connectors.exports import FbdiSettings, render_beancount, render_csv, render_fbdi
from revbridge.core.clock import Clock
from revbridge.ledger.journal import Journal

EXTENSIONS = {"csv": ".csv", "fbdi": ".zip", "beancount": ".beancount"}
DEFAULT_LIMITS = Limits(rate_per_second=2000.0, burst=2000, concurrency=2, backoff_base=0.5, backoff_cap=30.0)
_REFERENCE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSettings:
    directory: Path
    format: str = "csv"
    fbdi: FbdiSettings | None = None

    def __post_init__(self) -> None:
        if self.format not in EXTENSIONS:
            raise ValueError(f"file format must be one of {', '.join(EXTENSIONS)}, not {self.format!r}")
        if self.format == "fbdi" and self.fbdi is None:
            raise ValueError("the fbdi format needs fbdi settings (ledger_ids at least)")


def render(journals: list[Journal], settings: FileSettings, *, group_id: int | None = None) -> bytes:
    match settings.format:
        case "csv":
            return render_csv(journals)
        case "fbdi":
            assert settings.fbdi is not None  # checked by FileSettings
            return render_fbdi(journals, settings.fbdi, group_id=group_id)
        case _:
            return render_beancount(journals).encode("utf-8")


def publish(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so that readers see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class FileExport:
    def __init__(
        self, settings: FileSettings, *, clock: Clock, limits: Limits = DEFAULT_LIMITS, name: str = "file"
    ) -> None:
        self._name = name
        self.settings = settings
        self._clock = clock
        self._limits = limits
        self._manifest_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def limits(self) -> Limits:
        return self._limits

    def path_for(self, reference: str) -> Path:
        if not _REFERENCE.match(reference):
            raise ConnectorRejected(f"reference {reference!r} cannot name a file")
        return self.settings.directory / f"{reference}{EXTENSIONS[self.settings.format]}"

    def submit(self, journal: Journal) -> Receipt:
        path = self.path_for(journal.id)
        found = self._existing(path, journal.id)
        if found is not None:
            return found
        content = render([journal], self.settings)
        now = self._clock.now()
        try:
            publish(path, content)
            self._note(journal, path, content, now)
        except OSError as exc:
            raise ConnectorUnavailable(
                f"cannot write {path.name}: {exc.strerror or type(exc).__name__}", uncertain=True
            ) from None
        return Receipt(reference=journal.id, document=path.name, posted_at=now)

    def lookup(self, reference: str) -> Receipt | None:
        try:
            path = self.path_for(reference)
        except ConnectorRejected:
            return None
        return self._existing(path, reference)

    def _existing(self, path: Path, reference: str) -> Receipt | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConnectorUnavailable(f"cannot read {path.name}: {exc.strerror}") from None
        return Receipt(
            reference=reference, document=path.name, posted_at=datetime.fromtimestamp(stat.st_mtime, UTC)
        )

    def _note(self, journal: Journal, path: Path, content: bytes, now: datetime) -> None:
        entry = {
            "reference": journal.id,
            "file": path.name,
            "sha256": hashlib.sha256(content).hexdigest(),
            "legal_entity": journal.legal_entity,
            "posting_date": journal.posting_date.isoformat(),
            "lines": len(journal.lines),
            "exported_at": now.isoformat(),
        }
        with (
            self._manifest_lock,
            open(self.settings.directory / "manifest.jsonl", "a", encoding="utf-8") as fh,
        ):
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def close(self) -> None:
        """Files are closed as they are written."""
