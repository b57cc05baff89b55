"""``gather``: every fact one reconciliation compares, read in one read-only transaction.

A report is about one business day (or the whole store when the day is None): the posting events
of the day with their messages' states, the subledger rows of those events and of every journal
they reached, those journals, what the embedded ledger holds under them, the day's messages with
their work-item codes, and the receivables of the AR roll-forward. Each kind of fact has its own
reader in this package; this module only scopes and composes them, so the figures come from one
snapshot. It runs no control (``revbridge.reconcile`` does) and calls no ERP (the pipeline reads
other ERPs back and adds their documents).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from revbridge.masterdata.configuration import Configuration
from revbridge.reconcile import Inputs, LineFact
from revbridge.store import configs
from revbridge.store.database import Database, Tx
from revbridge.store.facts.embedded import EMBEDDED, documents_of
from revbridge.store.facts.journals import journal_ids_dated, journals_of
from revbridge.store.facts.messages import codes_of, messages_of
from revbridge.store.facts.receivables import balances, journal_balances, moved, movements
from revbridge.store.facts.source import events_of, kinds_of, remittances_of
from revbridge.store.facts.subledger import last_posting_date, lines_of_events, lines_of_journals


def configuration_on(db: Database, on: date) -> Configuration | None:
    """The configuration in effect on ``on``; None before the first one was applied."""
    with db.reading() as tx:
        current = configs.ConfigCache(db).current(tx, on)
    return current[1] if current is not None else None


def gather(
    db: Database,
    *,
    day: date | None,
    today: date,
    read_back: frozenset[str] = EMBEDDED,
    config: Configuration | None = None,
) -> Inputs:
    """The facts for ``day`` (None: everything). ``today`` picks the configuration whose facility
    identifiers name the facilities (unless ``config`` is given), and ends the roll-forward when
    ``day`` is None. ``read_back`` names the connectors whose ERP is read back: the embedded
    ledger here, others by the caller, who adds their documents to ``Inputs.documents``."""
    if config is None:
        config = configuration_on(db, today)
    with db.reading() as tx:
        return _read(tx, day=day, today=today, read_back=read_back, config=config)


def _read(
    tx: Tx, *, day: date | None, today: date, read_back: frozenset[str], config: Configuration | None
) -> Inputs:
    found_events = events_of(tx, day)
    scope_lines = lines_of_events(tx, day)
    journal_ids = _journals_reached(tx, day, scope_lines)
    lines = _merge(scope_lines, lines_of_journals(tx, journal_ids)) if journal_ids else scope_lines
    end = day or max(today, last_posting_date(tx) or today)
    # everything is read already when there is no day: the movements are among those rows
    ar_moved = movements(tx, start=day, end=end) if day is not None else moved(lines, end)
    return Inputs(
        day=day,
        events=found_events,
        remittances=remittances_of(tx, day),
        lines=lines,
        journals=journals_of(tx, journal_ids),
        documents=documents_of(tx, journal_ids, day),
        read_back=read_back,
        messages=messages_of(tx, day),
        codes=codes_of(tx, day),
        facilities=_facilities(config, {e.facility for e in found_events}),
        ar_start=day,
        ar_end=end,
        ar_opening=balances(tx, before=day) if day is not None else (),
        ar_movements=ar_moved,
        ar_closing=balances(tx, through=end),
        ar_journals=journal_balances(tx, through=end),
        kinds=kinds_of(tx, {ln.event_key for ln in ar_moved} if day is not None else None),
    )


def _journals_reached(tx: Tx, day: date | None, lines: Iterable[LineFact]) -> set[str] | None:
    """The journals a day's rows are in, and those dated that day; None (every journal) for no day."""
    if day is None:
        return None
    return {ln.journal_id for ln in lines if ln.journal_id is not None} | journal_ids_dated(tx, day)


def _merge(*groups: Iterable[LineFact]) -> tuple[LineFact, ...]:
    seen: dict[int, LineFact] = {}
    for group in groups:
        for line in group:
            seen[line.id] = line
    return tuple(seen[k] for k in sorted(seen))


def _facilities(config: Configuration | None, sent: set[str]) -> dict[str, str]:
    """Facility as sent -> the facility code the configuration maps it to (unmapped ones left out)."""
    if config is None:
        return {}
    found = {}
    for value in sent:
        code = config.facility_code(value)
        if code is not None:
            found[value.strip()] = code
    return found
