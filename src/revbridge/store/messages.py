"""The message store: ``accept()`` returns only after the raw message is committed.

Concurrent callers share one commit: each caller seals its payload and hands it to a single
committer thread, which drains whatever has queued up and writes it in one transaction (group
commit). SQLite has one writer anyway, so this turns N fsyncs into one; on PostgreSQL it saves
round trips. Same dedupe key and same content hash: the arrival is recorded as ``duplicate`` of
the first and the first's id (and stored ACK) come back. Same key, different content: a
``DUPLICATE_CONFLICT`` work item; the arrival is stored ``excepted``, nothing is overwritten.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert

from revbridge.core.clock import Clock
from revbridge.core.errors import StoreConflict, StoreError
from revbridge.core.ids import content_hash, uuid7
from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.wakeup import Wakeup
from revbridge.security.keys import Keyring
from revbridge.store import announcements, bulk, partitions, staging
from revbridge.store.database import Database
from revbridge.store.schema import message_keys, messages, work_items
from revbridge.store.staging import StagingMark
from revbridge.store.workitems import fingerprint

PENDING = "pending"
DUPLICATE = "duplicate"
EXCEPTED = "excepted"


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    channel: str  # "mllp:2575", "http:fhir", "file:inbox", "cli"
    format: str
    payload: bytes
    dedupe_key: str = ""
    locator: str = ""
    correlation_id: str = ""
    ack: bytes | None = None  # the acknowledgement to replay when this arrives again
    # A staging-table source's high-water mark, written in the transaction that commits this
    # arrival (store/staging.py): the mark never runs ahead of the stored rows.
    mark: StagingMark | None = None
    # The order workers take it in: -1 small cash, 0 large remittances, 1 in arrival order
    # (formats/base.py SMALL_CASH, FIRST and IN_ORDER, from the envelope); store/queue.py claims
    # by (priority, id).
    priority: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    message_id: str
    status: str  # pending | duplicate | excepted (conflict)
    duplicate_of: str | None = None
    ack: bytes | None = None  # for duplicates: the ACK stored with the original
    conflict: bool = False


@dataclass(slots=True)
class _Sealed:
    arrival: Arrival
    message_id: str
    content_hash: str
    key_id: str
    blob: bytes
    dedupe_key: str
    future: Future[Accepted]


class MessageStore:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        clock: Clock,
        *,
        max_group: int = 512,
        wakeup: Wakeup | None = None,
    ) -> None:
        self._db = db
        self._wakeup = wakeup  # notified after each commit: the workers of this process wake
        self._keyring = keyring
        self._clock = clock
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Sealed | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    # -- public --------------------------------------------------------------------------------

    def accept(self, arrival: Arrival) -> Accepted:
        return self.submit(arrival).result()

    def accept_many(self, arrivals: Sequence[Arrival]) -> list[Accepted]:
        futures = [self.submit(a) for a in arrivals]
        return [f.result() for f in futures]

    async def accept_async(self, arrival: Arrival) -> Accepted:
        return await asyncio.wrap_future(self.submit(arrival))

    def submit(self, arrival: Arrival) -> Future[Accepted]:
        if self._closed:
            raise StoreError("message store is closed")
        self._ensure_thread()
        message_id = uuid7()
        digest = content_hash(arrival.payload)
        key_id, blob = self._keyring.seal(arrival.payload, aad=message_id)
        # Without a control id the content itself is the identity: identical bytes are a duplicate.
        dedupe = arrival.dedupe_key or f"{arrival.format}:sha256:{digest}"
        future: Future[Accepted] = Future()
        self._queue.put(_Sealed(arrival, message_id, digest, key_id, blob, dedupe, future))
        return future

    def open_payload(self, message_id: str, key_id: str, blob: bytes) -> bytes:
        return self._keyring.open(key_id, blob, aad=message_id)

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)

    # -- the committer -------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="revbridge-group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._commit_and_resolve(group)
                    return
                group.append(item)
            self._commit_and_resolve(group)

    def _commit_and_resolve(self, group: list[_Sealed]) -> None:
        try:
            results = self._commit(group)
        except StoreConflict:
            # Another node took one of these dedupe keys between our read and our write:
            # commit one at a time so each arrival sees the winner.
            results = []
            for item in group:
                try:
                    results.extend(self._commit([item]))
                except Exception as exc:
                    item.future.set_exception(_store_error(exc))
                    results.append(None)
        except Exception as exc:
            for item in group:
                item.future.set_exception(_store_error(exc))
            return
        if self._wakeup is not None:
            self._wakeup.notify()
        for item, result in zip(group, results, strict=True):
            if result is not None:
                item.future.set_result(result)

    def _commit(self, group: list[_Sealed]) -> list[Accepted | None]:
        now = self._clock.now()
        partitions.ensure(self._db.engine, now)  # PostgreSQL: this month's partitions exist
        with self._db.transaction(priority=True) as conn:
            known = _known_keys(conn, {item.dedupe_key for item in group})
            rows: list[dict[str, object]] = []
            key_rows: list[dict[str, object]] = []
            items_rows: list[dict[str, object]] = []
            results: list[Accepted | None] = []
            for item in group:
                first = known.get(item.dedupe_key)
                row = _row(item, now)
                if first is None:
                    key_rows.append(
                        {
                            "dedupe_key": item.dedupe_key,
                            "message_id": item.message_id,
                            "content_hash": item.content_hash,
                        }
                    )
                    known[item.dedupe_key] = (item.message_id, item.content_hash, item.arrival.ack)
                    results.append(Accepted(message_id=item.message_id, status=PENDING))
                elif first[1] == item.content_hash:
                    row.update(
                        status=DUPLICATE,
                        duplicate_of=first[0],
                        terminal_reason=f"duplicate of {first[0]}",
                        completed_at=now,
                    )
                    results.append(
                        Accepted(message_id=first[0], status=DUPLICATE, duplicate_of=first[0], ack=first[2])
                    )
                else:
                    row.update(
                        status=EXCEPTED,
                        duplicate_of=first[0],
                        completed_at=now,
                        terminal_reason=f"{ProblemCode.DUPLICATE_CONFLICT}: key of {first[0]}, other content",
                    )
                    items_rows.append(_conflict_item(item, first[0], now))
                    results.append(
                        Accepted(
                            message_id=item.message_id, status=EXCEPTED, duplicate_of=first[0], conflict=True
                        )
                    )
                rows.append(row)
            # Plain driver SQL: on the intake hot path SQLAlchemy's per-statement compilation
            # cost as much as the fsync itself.
            bulk.insert_rows(conn, messages, rows)
            bulk.insert_rows(conn, message_keys, key_rows)
            if items_rows:  # a key reused with other content: rare, announced (events out)
                opened = conn.execute(
                    insert(work_items).returning(work_items.c.id, sort_by_parameter_order=True), items_rows
                )
                announcements.workitems_opened(conn, [int(i) for (i,) in opened], now=now)
                for row in rows:
                    if row["status"] == EXCEPTED:
                        announcements.message_excepted(conn, str(row["id"]), now=now)
            marks = [item.arrival.mark for item in group if item.arrival.mark is not None]
            if marks:
                staging.write(conn, marks, now)
        return results


def _known_keys(conn: Connection, keys: set[str]) -> dict[str, tuple[str, str, bytes | None]]:
    found: dict[str, tuple[str, str, bytes | None]] = {}
    mark = bulk.placeholder(conn.dialect)
    ordered = sorted(keys)
    for start in range(0, len(ordered), 400):
        chunk = ordered[start : start + 400]
        marks = ", ".join([mark] * len(chunk))
        # LEFT JOIN: the first message may be gone with a month retention dropped; its key stays
        # and still makes a later arrival a duplicate (without the first ACK to repeat).
        query = (
            "SELECT k.dedupe_key, k.message_id, k.content_hash, m.ack FROM message_keys k "
            f"LEFT JOIN messages m ON m.id = k.message_id WHERE k.dedupe_key IN ({marks})"
        )
        for key, mid, digest, ack in conn.exec_driver_sql(query, tuple(chunk)):
            found[key] = (mid, digest, bytes(ack) if ack is not None else None)
    return found


def _row(item: _Sealed, now: datetime) -> dict[str, object]:
    a = item.arrival
    return {
        "id": item.message_id,
        "channel": a.channel,
        "format": a.format,
        "dedupe_key": item.dedupe_key,
        "content_hash": item.content_hash,
        "key_id": item.key_id,
        "payload": item.blob,
        "size": len(a.payload),
        "locator": a.locator[:128],
        "received_at": now,
        "correlation_id": a.correlation_id or item.message_id,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "terminal_reason": None,
        "duplicate_of": None,
        "ack": a.ack,
        "completed_at": None,
        "purged_at": None,
        "priority": a.priority,
    }


def _conflict_item(item: _Sealed, first_id: str, now: datetime) -> dict[str, object]:
    code = ProblemCode.DUPLICATE_CONFLICT
    return {
        "code": str(code),
        "severity": str(Severity.ERROR),
        "status": "open",
        "locator": item.arrival.locator or "(message)",
        "message": f"dedupe key already used by message {first_id} with other content; nothing overwritten",
        "message_id": item.message_id,
        "event_key": None,
        "facility": None,
        "details": json.dumps({"first_message_id": first_id}),
        "fingerprint": fingerprint(str(code), item.message_id, item.arrival.locator, None),
        "assignee": None,
        "due_at": None,
        "created_at": now,
        "updated_at": now,
        "resolved_by": None,
        "resolution": None,
    }


def _store_error(exc: Exception) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    return StoreError(f"commit failed: {type(exc).__name__}")
