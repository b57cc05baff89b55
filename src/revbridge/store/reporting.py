"""The queries behind reconciliation: the store's rows as ``revbridge.reconcile`` facts.

``gather(db, day=..., today=...)`` reads, in one read-only transaction, everything the
controls compare for one business day (or for the whole store when ``day`` is None): the posting
events of the day with their messages' states, the subledger rows of those events and of every
journal they reached, those journals with their lines, what the embedded ledger holds under the
journals' ids (``gl_documents``/``gl_entries``, the ERP's own tables), the messages received that
day or carrying its events, with the codes of their work items, and the AR balances and movements
of the roll-forward.

Other ERPs are read back by ``readers``: connector name -> a function from that connector's
posted journals to the documents the ERP holds for them (``balances_reader``, re-exported from
``reconcile.erp``, makes one from ``TrytonConnector.balances``). Journals of connectors nobody
reads back are trusted on their receipt. Money leaves the database as integer minor units and
becomes ``Money`` here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.sql import ColumnElement, Select

from revbridge.core.errors import RevbridgeError
from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.masterdata.configuration import Configuration
from revbridge.reconcile import (
    ArBalance,
    ErpDocument,
    ErpLine,
    EventFact,
    Inputs,
    JournalFact,
    JournalLineFact,
    LineFact,
    MessageFact,
    RemittanceFact,
    Report,
    Thresholds,
    reconcile,
)
from revbridge.reconcile.erp import Reader, balances_reader, readers_for
from revbridge.store import configs
from revbridge.store.database import Database
from revbridge.store.events import CONTEXT_KINDS
from revbridge.store.schema import (
    event_lines,
    events,
    gl_documents,
    gl_entries,
    journal_lines,
    journals,
    messages,
    work_items,
)

__all__ = ["EMBEDDED", "Reader", "ar_events", "balances_reader", "gather", "report"]

EMBEDDED = frozenset({"embedded"})  # connectors whose ERP is this database's gl_* tables
AR_ROLES = (AccountRole.AR_PAYER.value, AccountRole.AR_PATIENT.value, AccountRole.AR_UNBILLED.value)
REMITTANCE_MEMBERS = ("ClaimAdjudicated", "ProviderAdjustment")
CHUNK = 400

DEFAULT_IN_FLIGHT = timedelta(minutes=30)


def report(
    db: Database,
    *,
    day: date | None,
    now: datetime,
    in_flight: timedelta = DEFAULT_IN_FLIGHT,
    readers: Mapping[str, Reader] | None = None,
    connector_for: Callable[[str], object] | None = None,
) -> Report:
    """Gather and reconcile. Messages waiting for context may wait as long as the configuration
    in effect says (``context_wait``), rows in a batch window as long as the window's maximum
    age, each plus ``in_flight``. ``connector_for`` (the runtime's: legal entity -> connector)
    adds a reader for every configured connector that can read its ERP back."""
    config = _configuration(db, now.date())
    connectors: list[object] = []
    if config is not None and connector_for is not None:
        for entity in config.master.legal_entities:
            try:
                connectors.append(connector_for(entity.code))
            except RevbridgeError:
                continue  # a connector that cannot be built cannot be read back: its receipts stand
    found = readers_for(connectors, skip=EMBEDDED) | dict(readers or {})
    inputs = gather(db, day=day, today=now.date(), readers=found, config=config)
    wait, window = timedelta(0), timedelta(0)
    if config is not None:
        wait, window = config.master.posting.context_wait, config.master.posting.batch_window.max_age
    thresholds = Thresholds(in_flight=in_flight, waiting=wait + in_flight, window=window + in_flight)
    return reconcile(inputs, now=now, thresholds=thresholds)


def _configuration(db: Database, on: date) -> Configuration | None:
    with db.reading() as conn:
        current = configs.ConfigCache(db).current(conn, on)
    return current[1] if current is not None else None


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _signed() -> ColumnElement[Any]:
    return case(
        (event_lines.c.side == "debit", event_lines.c.amount_minor), else_=-event_lines.c.amount_minor
    )


def gather(
    db: Database,
    *,
    day: date | None,
    today: date,
    embedded: frozenset[str] = EMBEDDED,
    readers: Mapping[str, Reader] | None = None,
    config: Configuration | None = None,
) -> Inputs:
    """The facts for ``day`` (None: everything). ``today`` picks the configuration whose facility
    identifiers name the facilities (unless ``config`` is given), and ends the roll-forward when
    ``day`` is None."""
    config = config or _configuration(db, today)
    with db.reading() as conn:
        found_events = _events(conn, day)
        scope_lines = _lines_of_events(conn, day)
        journal_ids: set[str] | None = None  # everything
        if day is not None:
            journal_ids = {ln.journal_id for ln in scope_lines if ln.journal_id is not None}
            journal_ids |= _journals_dated(conn, day)
        found_journals = _journals(conn, journal_ids)
        lines = _merge(scope_lines, _lines_of_journals(conn, journal_ids)) if journal_ids else scope_lines
        documents = _embedded_documents(conn, journal_ids, day)
        found_messages = _messages(conn, day)
        end = day or max(today, _last_posting_date(conn) or today)
        # everything is loaded already when there is no day: the movements are among those rows
        movements = _ar_movements(conn, start=day, end=end) if day is not None else _moved(lines, end)
        inputs = Inputs(
            day=day,
            events=found_events,
            remittances=_remittances(conn, day),
            lines=lines,
            journals=found_journals,
            documents=documents,
            read_back=embedded | frozenset(readers or {}),
            messages=found_messages,
            codes=_codes(conn, day),
            facilities=_facilities(config, {e.facility for e in found_events}),
            ar_start=day,
            ar_end=end,
            ar_opening=_ar_balances(conn, before=day) if day is not None else (),
            ar_movements=movements,
            ar_closing=_ar_balances(conn, through=end),
            ar_journals=_ar_journals(conn, through=end),
            kinds=_kinds(conn, day, {ln.event_key for ln in movements}),
        )
    if readers:
        extra = dict(inputs.documents)
        for name, read in readers.items():
            posted = [j for j in inputs.journals if j.connector == name and j.status == "posted"]
            if posted:
                extra.update(read(posted))
        inputs = replace(inputs, documents=extra)
    return inputs


def _merge(*groups: Sequence[LineFact]) -> list[LineFact]:
    seen: dict[int, LineFact] = {}
    for group in groups:
        for line in group:
            seen[line.id] = line
    return [seen[k] for k in sorted(seen)]


# ---- events -------------------------------------------------------------------------------------


def _posting_kind() -> ColumnElement[bool]:
    return events.c.kind.not_in(sorted(CONTEXT_KINDS))


def _on(day: date | None) -> ColumnElement[bool]:
    return events.c.occurred_on == day if day is not None else events.c.key.is_not(None)


def _events(conn: Connection, day: date | None) -> list[EventFact]:
    query = (
        select(
            events.c.key,
            events.c.kind,
            events.c.message_id,
            events.c.facility,
            events.c.occurred_on,
            events.c.amount_minor,
            events.c.currency,
            events.c.state,
            messages.c.status,
        )
        .select_from(events.join(messages, messages.c.id == events.c.message_id))
        .where(_posting_kind(), _on(day))
        .order_by(events.c.id)
    )
    return [
        EventFact(
            key=r.key,
            kind=r.kind,
            message_id=r.message_id,
            facility=r.facility,
            occurred_on=r.occurred_on,
            amount=Money.from_minor(int(r.amount_minor), r.currency) if r.amount_minor is not None else None,
            state=r.state,
            message_state=r.status,
        )
        for r in conn.execute(query)
    ]


def _remittances(conn: Connection, day: date | None) -> list[RemittanceFact]:
    headers = conn.execute(
        select(events.c.key, events.c.message_id, events.c.body)
        .where(events.c.kind == "RemittanceReceived", _on(day))
        .order_by(events.c.id)
    ).all()
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for chunk in _chunks(h.message_id for h in headers):
        for key, message_id, body in conn.execute(
            select(events.c.key, events.c.message_id, events.c.body).where(
                events.c.message_id.in_(chunk), events.c.kind.in_(REMITTANCE_MEMBERS)
            )
        ):
            members[(message_id, json.loads(body).get("remittance_id", ""))].append(key)
    found = []
    for h in headers:
        body = json.loads(h.body)
        amount = body["amount"]
        found.append(
            RemittanceFact(
                key=h.key,
                message_id=h.message_id,
                remittance_id=body.get("remittance_id", ""),
                payer_id=body.get("payer_id", ""),
                trace=body.get("trace", ""),
                occurred_on=date.fromisoformat(body["occurred_on"]),
                amount=Money.of(amount["amount"], amount["currency"]),
                carries_cash=bool(body.get("carries_cash", True)),
                member_keys=tuple(sorted(members.get((h.message_id, body.get("remittance_id", "")), []))),
            )
        )
    return found


def _kinds(conn: Connection, day: date | None, keys: set[str]) -> dict[str, str]:
    query = select(events.c.key, events.c.kind)
    if day is None:
        return {str(k): str(kind) for k, kind in conn.execute(query)}
    found: dict[str, str] = {}
    for chunk in _chunks(keys):
        found.update((str(k), str(kind)) for k, kind in conn.execute(query.where(events.c.key.in_(chunk))))
    return found


def _facilities(config: Configuration | None, sent: set[str]) -> dict[str, str]:
    if config is None:
        return {}
    found = {}
    for value in sent:
        code = config.facility_code(value)
        if code is not None:
            found[value.strip()] = code
    return found


# ---- the subledger ------------------------------------------------------------------------------


def _line(row: Any) -> LineFact:
    m = row._mapping
    minor = int(m["amount_minor"])
    return LineFact(
        id=int(m["id"]),
        event_key=m["event_key"],
        document_key=m["document_key"],
        revision=m["revision"],
        legal_entity=m["legal_entity"],
        posting_date=m["posting_date"],
        account=m["account"],
        role=AccountRole(m["role"]),
        net=Money.from_minor(minor if m["side"] == "debit" else -minor, m["currency"]),
        facility=m["facility"],
        cost_center=m["cost_center"],
        payer_class=m["payer_class"],
        journal_id=m["journal_id"],
        journal_line_id=int(m["journal_line_id"]) if m["journal_line_id"] is not None else None,
        created_at=m["created_at"],
    )


def _line_query() -> Select[Any]:
    return select(event_lines).order_by(event_lines.c.id)


def _lines_of_events(conn: Connection, day: date | None) -> list[LineFact]:
    if day is None:
        return [_line(r) for r in conn.execute(_line_query())]
    keys = select(events.c.key).where(events.c.occurred_on == day, _posting_kind())
    return [_line(r) for r in conn.execute(_line_query().where(event_lines.c.event_key.in_(keys)))]


def _lines_of_journals(conn: Connection, ids: set[str]) -> list[LineFact]:
    found: list[LineFact] = []
    for chunk in _chunks(ids):
        found.extend(_line(r) for r in conn.execute(_line_query().where(event_lines.c.journal_id.in_(chunk))))
    return found


def _last_posting_date(conn: Connection) -> date | None:
    value = conn.execute(select(func.max(event_lines.c.posting_date))).scalar()
    return value if isinstance(value, date) else None


# ---- journals and the embedded ERP --------------------------------------------------------------


def _journals_dated(conn: Connection, day: date | None) -> set[str]:
    query = select(journals.c.id)
    if day is not None:
        query = query.where(journals.c.posting_date == day)
    return {jid for (jid,) in conn.execute(query)}


def _journals(conn: Connection, ids: set[str] | None) -> list[JournalFact]:
    """The journals with these ids (None: every journal) and their lines."""
    headers: list[Any] = []
    lines: dict[str, list[JournalLineFact]] = defaultdict(list)
    everything: list[ColumnElement[bool]] = [journals.c.id.is_not(None)]
    for condition in everything if ids is None else [journals.c.id.in_(c) for c in _chunks(ids)]:
        headers.extend(conn.execute(select(journals).where(condition)).all())
        line_query = select(journal_lines).order_by(journal_lines.c.id)
        if ids is not None:
            line_query = line_query.where(
                journal_lines.c.journal_id.in_(select(journals.c.id).where(condition))
            )
        for r in conn.execute(line_query):
            lines[r.journal_id].append(
                JournalLineFact(
                    id=int(r.id),
                    account=r.account,
                    role=AccountRole(r.role),
                    debit=Money.from_minor(int(r.debit_minor), r.currency),
                    credit=Money.from_minor(int(r.credit_minor), r.currency),
                    facility=r.facility,
                    cost_center=r.cost_center,
                    payer_class=r.payer_class,
                )
            )
    return [
        JournalFact(
            id=h.id,
            lane=h.lane,
            legal_entity=h.legal_entity,
            posting_date=h.posting_date,
            status=h.status,
            connector=h.connector,
            erp_document=h.erp_document,
            last_error=h.last_error,
            created_at=h.created_at,
            lines=tuple(lines.get(h.id, ())),
        )
        for h in sorted(headers, key=lambda h: (h.posting_date, h.id))
    ]


def _embedded_documents(conn: Connection, ids: set[str] | None, day: date | None) -> dict[str, ErpDocument]:
    """The embedded ledger's documents under our journal ids (None: every document), and those
    under references no journal has (dated ``day``), so that an ERP document we never sent is
    seen too."""
    wanted: list[ColumnElement[bool]]
    if ids is None:
        wanted = [gl_documents.c.id.is_not(None)]
    else:
        orphans = select(gl_documents.c.id).where(gl_documents.c.reference.not_in(select(journals.c.id)))
        if day is not None:
            orphans = orphans.where(gl_documents.c.posting_date == day)
        wanted = [gl_documents.c.id.in_(orphans), *(gl_documents.c.reference.in_(c) for c in _chunks(ids))]
    found: dict[str, ErpDocument] = {}
    for condition in wanted:
        docs = {
            row.id: row.reference
            for row in conn.execute(select(gl_documents.c.id, gl_documents.c.reference).where(condition))
        }
        if not docs:
            continue
        entries: dict[int, list[ErpLine]] = defaultdict(list)
        matching = select(gl_documents.c.id).where(condition)
        for e in conn.execute(
            select(gl_entries).where(gl_entries.c.document_id.in_(matching)).order_by(gl_entries.c.id)
        ):
            entries[int(e.document_id)].append(
                ErpLine(
                    account=e.account,
                    debit=Money.from_minor(int(e.debit_minor), e.currency),
                    credit=Money.from_minor(int(e.credit_minor), e.currency),
                    facility=e.facility,
                    cost_center=e.cost_center,
                    payer_class=e.payer_class,
                )
            )
        for document_id, reference in docs.items():
            found[reference] = ErpDocument(
                reference=reference,
                document=f"GL-{document_id:08d}",
                lines=tuple(entries.get(document_id, ())),
            )
    return found


# ---- messages and work items --------------------------------------------------------------------


def _received(day: date | None) -> ColumnElement[bool]:
    """The messages of a day: received that UTC day, or carrying events of that business day."""
    if day is None:
        return messages.c.id.is_not(None)
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return or_(
        and_(messages.c.received_at >= start, messages.c.received_at < start + timedelta(days=1)),
        messages.c.id.in_(select(events.c.message_id).where(events.c.occurred_on == day)),
    )


def _messages(conn: Connection, day: date | None) -> list[MessageFact]:
    original = messages.alias("original")
    rows = conn.execute(
        select(
            messages.c.id,
            messages.c.channel,
            messages.c.format,
            messages.c.status,
            messages.c.received_at,
            messages.c.duplicate_of,
            messages.c.terminal_reason,
            original.c.id.label("original_id"),
        )
        .select_from(messages.outerjoin(original, original.c.id == messages.c.duplicate_of))
        .where(_received(day))
        .order_by(messages.c.received_at, messages.c.id)
    ).all()
    codes: dict[str, set[str]] = defaultdict(set)
    query = select(work_items.c.message_id, work_items.c.code).where(work_items.c.message_id.is_not(None))
    if day is not None:
        query = query.where(work_items.c.message_id.in_(select(messages.c.id).where(_received(day))))
    for message_id, code in conn.execute(query):
        codes[message_id].add(code)
    return [
        MessageFact(
            id=r.id,
            channel=r.channel,
            format=r.format,
            status=r.status,
            received_at=r.received_at,
            duplicate_of=r.duplicate_of,
            duplicate_found=r.original_id is not None,
            terminal_reason=r.terminal_reason,
            work_items=tuple(sorted(codes.get(r.id, ()))),
        )
        for r in rows
    ]


def _codes(conn: Connection, day: date | None) -> dict[str, tuple[str, ...]]:
    """Codes of open work items by event key and by message id: why held events are held."""
    found: dict[str, set[str]] = defaultdict(set)
    query = select(work_items.c.event_key, work_items.c.message_id, work_items.c.code).where(
        work_items.c.status == "open"
    )
    if day is not None:
        of_day = events.c.occurred_on == day
        query = query.where(
            or_(
                work_items.c.message_id.in_(select(events.c.message_id).where(of_day)),
                work_items.c.event_key.in_(select(events.c.key).where(of_day)),
            )
        )
    for event_key, message_id, code in conn.execute(query):
        if event_key:
            found[event_key].add(code)
        if message_id:
            found[message_id].add(code)
    return {k: tuple(sorted(v)) for k, v in found.items()}


# ---- the AR roll-forward ------------------------------------------------------------------------


def _ar_balances(
    conn: Connection, *, before: date | None = None, through: date | None = None
) -> list[ArBalance]:
    unjournaled = event_lines.c.journal_id.is_(None).label("unjournaled")
    query = (
        select(
            event_lines.c.legal_entity,
            event_lines.c.payer_class,
            event_lines.c.role,
            event_lines.c.currency,
            unjournaled,
            func.sum(_signed()),
        )
        .where(event_lines.c.role.in_(AR_ROLES))
        .group_by(
            event_lines.c.legal_entity,
            event_lines.c.payer_class,
            event_lines.c.role,
            event_lines.c.currency,
            unjournaled,
        )
    )
    if before is not None:
        query = query.where(event_lines.c.posting_date < before)
    if through is not None:
        query = query.where(event_lines.c.posting_date <= through)
    return [
        ArBalance(
            legal_entity=le,
            payer_class=payer_class,
            role=AccountRole(role),
            amount=Money.from_minor(int(total), currency),
            journaled=not bool(is_unjournaled),
        )
        for le, payer_class, role, currency, is_unjournaled, total in conn.execute(query)
    ]


def _ar_journals(conn: Connection, *, through: date) -> list[ArBalance]:
    query = (
        select(
            journals.c.legal_entity,
            journal_lines.c.payer_class,
            journal_lines.c.role,
            journal_lines.c.currency,
            func.sum(journal_lines.c.debit_minor - journal_lines.c.credit_minor),
        )
        .select_from(journal_lines.join(journals, journals.c.id == journal_lines.c.journal_id))
        .where(journal_lines.c.role.in_(AR_ROLES), journals.c.posting_date <= through)
        .group_by(
            journals.c.legal_entity,
            journal_lines.c.payer_class,
            journal_lines.c.role,
            journal_lines.c.currency,
        )
    )
    return [
        ArBalance(
            legal_entity=le,
            payer_class=payer_class,
            role=AccountRole(role),
            amount=Money.from_minor(int(total), currency),
        )
        for le, payer_class, role, currency, total in conn.execute(query)
    ]


def _ar_movements(conn: Connection, *, start: date | None, end: date) -> list[LineFact]:
    """Every row (all roles) of the events whose receivables moved in the range."""
    dated = [event_lines.c.posting_date <= end]
    if start is not None:
        dated.append(event_lines.c.posting_date >= start)
    moved = select(event_lines.c.event_key).where(event_lines.c.role.in_(AR_ROLES), *dated)
    query = _line_query().where(event_lines.c.event_key.in_(moved), *dated)
    return [_line(r) for r in conn.execute(query)]


def _moved(lines: Sequence[LineFact], end: date) -> list[LineFact]:
    """``_ar_movements`` over rows already loaded, for a range from the beginning to ``end``."""
    dated = [ln for ln in lines if ln.posting_date <= end]
    moved = {ln.event_key for ln in dated if ln.role.value in AR_ROLES}
    return [ln for ln in dated if ln.event_key in moved]


def ar_events(
    db: Database,
    *,
    legal_entity: str,
    payer_class: str,
    since: date | None = None,
    through: date | None = None,
) -> list[tuple[str, Money]]:
    """Drill-down of one receivable balance: each event's net on the AR roles (debit positive),
    largest first. ``since`` None is an opening-to-date balance; with both dates, a movement."""
    query = (
        select(event_lines.c.event_key, event_lines.c.currency, func.sum(_signed()))
        .where(
            event_lines.c.role.in_(AR_ROLES),
            event_lines.c.legal_entity == legal_entity,
            event_lines.c.payer_class == payer_class,
        )
        .group_by(event_lines.c.event_key, event_lines.c.currency)
    )
    if since is not None:
        query = query.where(event_lines.c.posting_date >= since)
    if through is not None:
        query = query.where(event_lines.c.posting_date <= through)
    with db.reading() as conn:
        found = [
            (str(key), Money.from_minor(int(total), currency))
            for key, currency, total in conn.execute(query)
            if int(total) != 0
        ]
    return sorted(found, key=lambda item: (-abs(item[1].amount), item[0]))
