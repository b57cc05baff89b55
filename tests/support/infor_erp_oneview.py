"""ION's message store behind the Infor ION test ERP, and its OneView API.

Every message ION handles is kept (``Message``): the BODs revbridge sends, the acknowledgements
CloudSuite answers, ION's ConfirmBODs. ``search`` answers ``GET .../oneviewapi/data`` as the public
OneView clients read it: ``{"numFound": n, "fields": [{message_id, document_name, document_id,
accounting_entity, document_sent_from, document_sent_to, message_date}]}``, paged by ``page`` and
``records``, filtered by ``(field eq 'value')`` conditions joined by ``and``/``or`` with
parentheses; anything else in a filter is a 400, as OneView refuses a filter it cannot parse.

CloudSuite works the delivered Process BODs in the background: each is processed once it has been
``ack_polls`` searches old (so tests need no sleeps), its acknowledgement stored as a new message;
``twice`` stores it twice, ``never`` drops it (ION lost it), ``confirm`` has ION answer a
ConfirmBOD instead (no flow delivered it), ``stall`` holds every BOD until it is released.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FIELDS = (
    "message_id",
    "document_name",
    "document_id",
    "accounting_entity",
    "document_sent_from",
    "document_sent_to",
    "message_date",
)
_TOKEN = re.compile(r"\s*(\(|\)|\band\b|\bor\b|([a-z_]+) eq '([^']*)')")


@dataclass
class Message:
    message_id: str
    document_name: str
    document_id: str
    accounting_entity: str
    document_sent_from: str
    document_sent_to: str
    payload: bytes
    message_date: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    polls: int = 0
    mode: str = "once"  # once | twice | never | confirm (for a Process BOD yet to be answered)
    done: bool = False

    def row(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


class FilterError(ValueError):
    pass


def matcher(text: str) -> Callable[[Message], bool]:
    """The OneView filter as a predicate (a small recursive descent over its grammar)."""
    tokens: list[Any] = []
    pos = 0
    while pos < len(text.rstrip()):
        found = _TOKEN.match(text, pos)
        if found is None:
            raise FilterError(f"cannot parse the filter at {pos}")
        tokens.append((found.group(2), found.group(3)) if found.group(2) else found.group(1))
        pos = found.end()

    def expression(i: int) -> tuple[Callable[[Message], bool], int]:
        left, i = term(i)
        while i < len(tokens) and tokens[i] in ("and", "or"):
            op = tokens[i]
            right, i = term(i + 1)
            left = (
                (lambda a, b: lambda m: a(m) and b(m))(left, right)
                if op == "and"
                else ((lambda a, b: lambda m: a(m) or b(m))(left, right))
            )
        return left, i

    def term(i: int) -> tuple[Callable[[Message], bool], int]:
        if i >= len(tokens):
            raise FilterError("the filter ends too early")
        token = tokens[i]
        if token == "(":
            inner, i = expression(i + 1)
            if i >= len(tokens) or tokens[i] != ")":
                raise FilterError("unbalanced parentheses")
            return inner, i + 1
        if isinstance(token, tuple):
            name, value = token
            if name not in FIELDS:
                raise FilterError(f"unknown field {name}")
            return (lambda n, v: lambda m: getattr(m, n) == v)(name, value), i + 1
        raise FilterError(f"unexpected {token}")

    predicate, end = expression(0)
    if end != len(tokens):
        raise FilterError("trailing text in the filter")
    return predicate


class OneView:
    def __init__(
        self, process: Callable[[bytes], bytes], confirm: Callable[[bytes], bytes], *, ack_polls: int = 1
    ) -> None:
        self._process = process
        self._confirm = confirm
        self.ack_polls = ack_polls
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._stalled = False
        self._next_modes: list[str] = []

    def add(self, **values: Any) -> Message:
        with self._lock:
            values.setdefault("message_id", f"MSG-{len(self.messages) + 1:07d}")
            if values.get("document_name", "").startswith("Process"):
                values["mode"] = self._next_modes.pop(0) if self._next_modes else "once"
            message = Message(**values)
            self.messages.append(message)
            return message

    def next_acks(self, mode: str, count: int) -> None:
        with self._lock:
            self._next_modes += [mode] * count

    def stall(self, stalled: bool = True) -> None:
        with self._lock:
            self._stalled = stalled

    def run(self, *, every: bool = False) -> None:
        """CloudSuite works the due BODs (every one not lost, with ``every``)."""
        with self._lock:
            pending = [m for m in self.messages if m.document_name.startswith("Process") and not m.done]
            due = []
            for message in pending:
                message.polls += 1
                if message.mode == "never" or (self._stalled and not every):
                    continue
                if every or message.polls >= self.ack_polls:
                    message.done = True
                    due.append(message)
        for message in due:
            if message.mode == "confirm":
                self.add(
                    document_name="ConfirmBOD",
                    document_id=message.document_id,
                    accounting_entity=message.accounting_entity,
                    document_sent_from="lid://infor.ion.ion",
                    document_sent_to=message.document_sent_from,
                    payload=self._confirm(message.payload),
                )
                continue
            ack = self._process(message.payload)
            for _ in range(2 if message.mode == "twice" else 1):
                self.add(
                    document_name="AcknowledgeSourceSystemJournalEntry",
                    document_id=message.document_id,
                    accounting_entity=message.accounting_entity,
                    document_sent_from="lid://infor.fsm.fsm",
                    document_sent_to=message.document_sent_from,
                    payload=ack,
                )

    def search(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if query.get("store", "Message") != "Message":
            return 400, {"message": "unknown store"}
        try:
            predicate = matcher(query.get("filter", ""))
            page, records = int(query.get("page", "1")), int(query.get("records", "100"))
        except (FilterError, ValueError) as exc:
            return 400, {"message": f"Invalid filter: {exc}"}
        if page < 1 or not 1 <= records <= 10_000:
            return 400, {"message": "page and records out of range"}
        self.run()
        with self._lock:
            found = [m.row() for m in self.messages if predicate(m)]
        start = (page - 1) * records
        return 200, {"numFound": len(found), "fields": found[start : start + records]}

    def payload(self, message_id: str) -> bytes | None:
        with self._lock:
            return next((m.payload for m in self.messages if m.message_id == message_id), None)
