"""Interchange, functional group and transaction set envelopes: one pass over a stored payload.

The walker reads segments from the tokenizer, keeps ISA/GS/ST/SE/GE/IEA for itself and hands
every segment inside a transaction set to the reader the ST chose (835 or 837), without ever
holding a whole transaction in memory. It checks the trailers against their headers:

- SE01 (segment count, ST and SE included) and SE02 = ST02: a mismatch or a missing SE means the
  transaction may be incomplete, so it is an ERROR and the transaction yields no events;
- GE01 (transaction sets in the group), GE02 = GS06, IEA01 (groups), IEA02 = ISA13: every
  transaction set is checked on its own, so these are WARNINGs and the sets still post;
- a payload that is a bare transaction set (no ISA/GS, bare.py) is read with the delimiters its
  ST shows, with one MISSING_ENVELOPE WARNING; its sets post as enveloped ones do.

Locators follow the notation in ``__init__.py``.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.x12.bare import is_bare, read_bare_delimiters
from revbridge.formats.x12.segments import (
    Delimiters,
    ElementTooLong,
    SegmentReader,
    Source,
    read_delimiters,
)

Handler = Callable[[list[str]], None]
_ENVELOPE = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
ERROR = Severity.ERROR
_PAUSE_GC_ABOVE = 1 << 20  # bytes
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_SET_ID = re.compile(r"[0-9]{3}")
_VERSION = re.compile(r"[0-9]{6}(?:X[0-9]{3}[A-Z0-9]{0,2})?")
_COUNT = re.compile(r"[0-9]{1,10}")
_ISA_WINDOW = 512  # an ISA is 106 characters; unpadded or padded too much, it still fits
BARE_835 = "005010X221A1"  # the guide a bare 835 without ST03 is read by
_BARE_WINDOW = 64 * 1024  # a bare ST's delimiters: its terminator and the first composite


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionHeader:
    code: str  # ST01: 835, 837, ...
    control: str  # ST02
    version: str  # ST03, else GS08: "005010X221A1", "004010X091A1", ...
    where: str  # "ST[2]"
    sender: str  # ISA06, trimmed
    delimiters: Delimiters


class TransactionReader(Protocol):
    """What an ST hands its segments to. ``handlers`` maps the segment ids it reads to the
    functions that read them; other ids are skipped by the walker without a call."""

    @property
    def handlers(self) -> Mapping[str, Handler]: ...

    def finish(self, complete: bool) -> Outcome[CanonicalEvent]:
        """The transaction's events and problems; no events unless ``complete`` (its SE matched)."""
        ...


ReaderFactory = Callable[[TransactionHeader, ParseContext], TransactionReader | None]


def element(elements: list[str], n: int) -> str:
    return elements[n] if n < len(elements) else ""


def walk(payload: bytes, ctx: ParseContext, readers: ReaderFactory) -> Outcome[CanonicalEvent]:
    """Every interchange in ``payload``: events of the sound transaction sets, and all problems."""
    limits = ctx.limits
    if len(payload) > limits.max_message_bytes:
        message = f"X12 payload of {len(payload)} bytes exceeds the limit of {limits.max_message_bytes}"
        return _refused(ctx, message, "")
    walker = _Walker(ctx, readers)
    try:
        with _collector_paused(len(payload) > _PAUSE_GC_ABOVE):
            walker.run(Source(payload))
    except ElementTooLong as too_long:
        # A hostile or broken file: nothing from it is trusted, not even finished transactions.
        where = f"{walker.segment_locator(too_long.ordinal)}-{too_long.element}"
        message = f"element {too_long.element} is longer than {limits.max_element_length} characters"
        return _refused(ctx, message, where)
    return Outcome(tuple(walker.events), tuple(walker.problems))


def _refused(ctx: ParseContext, message: str, locator: str) -> Outcome[CanonicalEvent]:
    where = SourceRef(ctx.message_id, locator)
    return Outcome.of(problems=[Problem(code=ProblemCode.LIMIT_EXCEEDED, message=message, where=where)])


@contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Pause the cyclic garbage collector while a large file becomes events.

    A 100,000-claim 835 allocates about two million small objects that all stay alive, so the
    collector keeps scanning a growing heap for cycles that cannot exist (events are trees of
    frozen values): a third of the parse time. Reference counting still frees everything; the
    collector is resumed, if it was running, as soon as the parse ends.
    """
    resume = pause and gc.isenabled()
    if resume:
        gc.disable()
    try:
        yield
    finally:
        if resume:
            gc.enable()


class _Walker:
    def __init__(self, ctx: ParseContext, readers: ReaderFactory) -> None:
        self.ctx = ctx
        self.readers = readers
        self.events: list[CanonicalEvent] = []
        self.problems: list[Problem] = []
        self.isa_n = 0
        self.gs_n = 0
        self.st_n = 0
        self.keys: set[str] = set()  # event keys so far, to notice a transaction set sent twice
        self.ordinal = 0  # segments read so far in the current interchange, ISA = 1
        self.st_start = 0  # ordinal of the open ST in the interchange

    def segment_locator(self, ordinal: int) -> str:
        """A segment by position: inside a transaction set relative to its ST (ST = 1, as SE01
        counts), elsewhere relative to the ISA."""
        if self.st_start:
            return f"ST[{self.st_n}]/SEG[{ordinal - self.st_start + 1}]"
        return f"ISA[{self.isa_n}]/SEG[{ordinal}]"

    def problem(
        self, code: ProblemCode, message: str, locator: str, severity: Severity = Severity.WARNING
    ) -> None:
        where = SourceRef(self.ctx.message_id, locator)
        self.problems.append(Problem(code=code, message=message, where=where, severity=severity))

    def run(self, source: Source) -> None:
        pos = source.skip_between(0)
        if pos >= source.size:
            self.problem(ProblemCode.MALFORMED_MESSAGE, "the payload is empty", "", Severity.ERROR)
            return
        while pos < source.size:
            found = read_delimiters(source.text(pos, pos + _ISA_WINDOW), 0)
            bare = isinstance(found, str) and not self.isa_n and is_bare(source.text(pos, pos + 16))
            if bare:
                found = read_bare_delimiters(source.text(pos, pos + _BARE_WINDOW), 0)
            if isinstance(found, str):
                where = f"ISA[{self.isa_n + 1}]"
                self.problem(ProblemCode.MALFORMED_MESSAGE, found, where, Severity.ERROR)
                return
            if bare:
                message = "a bare transaction set without ISA/GS envelope; delimiters read from its ST"
                self.problem(ProblemCode.MISSING_ENVELOPE, message, "ST[1]")
            reader = SegmentReader(source, pos, found, self.ctx.limits.max_element_length)
            self.isa_n += 1
            self.ordinal = 0
            self._interchange(reader, _Interchange(found, bare=bare))
            pos = source.skip_between(reader.end)

    def _interchange(self, segments: SegmentReader, isa: _Interchange) -> None:
        tx: _Transaction | None = None
        stream = iter(segments)
        while True:
            if tx is not None:
                found = self._body(stream, tx)
                if found is None:
                    break
                if found[0] == "SE":
                    self._close_transaction(tx, found)
                    tx = None
                    continue
                self._abandon_transaction(tx)
            else:
                found = next(stream, None)
                if found is None:
                    break
                self.ordinal += 1
            tx = self._envelope(found, isa)
        if tx is not None:
            self._abandon_transaction(tx)
        if isa.group is not None:
            self._close_group(isa.group, None)
        if not isa.ended and not isa.bare:
            self.problem(ProblemCode.ENVELOPE_MISMATCH, "the interchange has no IEA", f"IEA[{self.isa_n}]")

    def _envelope(self, elements: list[str], isa: _Interchange) -> _Transaction | None:
        """One segment outside a transaction set; an ST returns the transaction it opens."""
        match elements[0]:
            case "ISA":
                if len(elements) < 17:
                    message = "the ISA has fewer than 16 elements"
                    self.problem(ProblemCode.MALFORMED_SEGMENT, message, f"ISA[{self.isa_n}]", ERROR)
                isa.sender, isa.isa13 = element(elements, 6).strip(), element(elements, 13).strip()
            case "GS":
                if isa.group is not None:
                    self._close_group(isa.group, None)
                isa.groups += 1
                self.gs_n += 1
                isa.group = _Group(self.gs_n, element(elements, 6), element(elements, 8))
            case "ST":
                if isa.group is None and not isa.bare:
                    message = "transaction set outside a functional group"
                    self.problem(ProblemCode.ENVELOPE_MISMATCH, message, f"ST[{self.st_n + 1}]")
                if isa.bare and not element(elements, 3):
                    elements = self._bare_version(elements)
                return self._open_transaction(elements, isa.group, isa.sender, isa.delimiters)
            case "GE":
                if isa.group is None:
                    self.problem(ProblemCode.ENVELOPE_MISMATCH, "GE without a GS", f"GE[{self.gs_n}]")
                else:
                    self._close_group(isa.group, elements)
                    isa.group = None
            case "IEA":
                if isa.group is not None:
                    self._close_group(isa.group, None)
                    isa.group = None
                self._close_interchange(elements, isa.groups, isa.isa13)
                isa.ended = True
            case "SE":
                self.problem(ProblemCode.ENVELOPE_MISMATCH, "SE without an ST", f"SE[{self.st_n}]")
            case sid:
                message = f"segment {_shown(sid, _SEGMENT_ID)} outside a transaction set"
                self.problem(ProblemCode.MALFORMED_SEGMENT, message, self.segment_locator(self.ordinal))
        return None

    @staticmethod
    def _body(stream: Iterator[list[str]], tx: _Transaction) -> list[str] | None:
        """Hand the transaction's segments to its reader; return the first envelope segment."""
        get = tx.handlers.get
        count = tx.count
        for elements in stream:
            count += 1
            handler = get(elements[0])
            if handler is not None:
                handler(elements)
            elif elements[0] in _ENVELOPE:
                tx.count = count
                return elements
        tx.count = count
        return None

    def _bare_version(self, st: list[str]) -> list[str]:
        """A bare 835 without ST03 has no GS08 either: it is read by the 5010 guide, and says so."""
        if element(st, 1) != "835":
            return st
        where = f"ST[{self.st_n + 1}]-3"
        self.problem(ProblemCode.MISSING_ENVELOPE, f"no ST03 and no GS08: read as {BARE_835}", where)
        return [*st[:3], *[""] * (3 - len(st)), BARE_835]

    def _open_transaction(
        self, st: list[str], group: _Group | None, sender: str, delimiters: Delimiters
    ) -> _Transaction:
        self.st_n += 1
        self.st_start = self.ordinal
        where = f"ST[{self.st_n}]"
        version = element(st, 3) or (group.version if group is not None else "")
        if group is not None:
            group.transactions += 1
        header = TransactionHeader(
            code=element(st, 1),
            control=element(st, 2),
            version=version,
            where=where,
            sender=sender,
            delimiters=delimiters,
        )
        reader = self.readers(header, self.ctx)
        if reader is None:
            self.problem(
                ProblemCode.UNSUPPORTED_TRANSACTION,
                f"transaction set {_shown(header.code, _SET_ID)} version {_shown(version, _VERSION)} "
                "is not supported",
                f"{where}-1",
                Severity.ERROR,
            )
        return _Transaction(header, reader)

    def _close_transaction(self, tx: _Transaction, se: list[str]) -> None:
        n = self.st_n
        complete = True
        se01 = element(se, 1)
        if se01 != str(tx.count) and (not se01.isdigit() or int(se01) != tx.count):
            message = f"SE01 says {_shown(se01, _COUNT)} segments but the transaction set has {tx.count}"
            self.problem(ProblemCode.ENVELOPE_MISMATCH, message, f"SE[{n}]-1", ERROR)
            complete = False
        if element(se, 2) != tx.header.control:
            self.problem(ProblemCode.ENVELOPE_MISMATCH, "SE02 does not match ST02", f"SE[{n}]-2", ERROR)
            complete = False
        self._finish(tx, complete)

    def _abandon_transaction(self, tx: _Transaction) -> None:
        self.problem(
            ProblemCode.ENVELOPE_MISMATCH, "the transaction set has no SE", f"SE[{self.st_n}]", ERROR
        )
        self._finish(tx, False)

    def _finish(self, tx: _Transaction, complete: bool) -> None:
        self.ordinal = self.st_start + tx.count - 1  # up to the SE, or the segment that ended it
        self.st_start = 0
        if tx.reader is None:
            return
        outcome = tx.reader.finish(complete)
        self.problems.extend(outcome.problems)
        keys, repeated = self.keys, []
        for event in outcome.items:
            if event.key in keys:
                repeated.append(event.key)
            keys.add(event.key)
        if repeated:
            # The same remittance or claim twice in one message (the 004010 corpus file sends one
            # ST twice): the store keeps the first and treats the rest as duplicates, but
            # somebody should know.
            where = SourceRef(self.ctx.message_id, tx.header.where)
            message = f"{len(repeated)} events repeat the keys of earlier events in this message"
            self.problems.append(
                Problem(
                    code=ProblemCode.EVENT_CONFLICT,
                    message=message,
                    where=where,
                    severity=Severity.WARNING,
                    event_key=repeated[0],
                    details=(("repeated_events", str(len(repeated))),),
                )
            )
        self.events.extend(outcome.items)

    def _close_group(self, group: _Group, ge: list[str] | None) -> None:
        where = f"GE[{group.number}]"
        if ge is None:
            self.problem(ProblemCode.ENVELOPE_MISMATCH, "the functional group has no GE", where)
            return
        if element(ge, 1) != str(group.transactions):
            message = f"GE01 does not match the {group.transactions} transaction sets in the group"
            self.problem(ProblemCode.ENVELOPE_MISMATCH, message, f"{where}-1")
        if element(ge, 2) != group.control:
            self.problem(ProblemCode.ENVELOPE_MISMATCH, "GE02 does not match GS06", f"{where}-2")

    def _close_interchange(self, iea: list[str], groups: int, isa13: str) -> None:
        where = f"IEA[{self.isa_n}]"
        if element(iea, 1) != str(groups):
            message = f"IEA01 does not match the {groups} functional groups in the interchange"
            self.problem(ProblemCode.ENVELOPE_MISMATCH, message, f"{where}-1")
        if element(iea, 2).strip() != isa13:
            self.problem(ProblemCode.ENVELOPE_MISMATCH, "IEA02 does not match ISA13", f"{where}-2")


class _Interchange:
    """What the walker remembers between the ISA and the IEA of one interchange."""

    __slots__ = ("bare", "delimiters", "ended", "group", "groups", "isa13", "sender")

    def __init__(self, delimiters: Delimiters, *, bare: bool = False) -> None:
        self.delimiters = delimiters
        self.bare = bare  # a transaction set sent without ISA/GS (bare.py)
        self.sender = ""  # ISA06, trimmed
        self.isa13 = ""
        self.groups = 0  # GS segments so far, for IEA01
        self.group: _Group | None = None  # the open functional group
        self.ended = False  # an IEA was read


class _Group:
    __slots__ = ("control", "number", "transactions", "version")

    def __init__(self, number: int, control: str, version: str) -> None:
        self.number = number
        self.control = control
        self.version = version
        self.transactions = 0


class _Transaction:
    __slots__ = ("count", "handlers", "header", "reader")

    def __init__(self, header: TransactionHeader, reader: TransactionReader | None) -> None:
        self.header = header
        self.reader = reader
        self.handlers: Mapping[str, Handler] = reader.handlers if reader is not None else {}
        self.count = 1  # the ST itself


def _shown(value: str, shape: re.Pattern[str]) -> str:
    """An envelope value for a problem message, only when it has the shape of what belongs there:
    a broken file can put a patient's name or member id anywhere."""
    return value if shape.fullmatch(value) else "(unreadable)"
