"""``report``: reconcile the store against its sources and its ERPs, with the settings in effect.

Reconciliation is three steps, and this module only sequences them: the store gathers the facts
of a day (``store.facts.gather``), the ERPs that can be read back are read back (connectors with a
``read_back`` or ``balances`` method, built by the runtime's ``connector_for``; the embedded
ledger is read by the store itself), and the pure controls (``revbridge.reconcile``) compare them.
Both sides are read: what the ERP holds under each posted journal's reference, and (connectors
with a ``held`` method) every document the ERP holds from revbridge in the report's dates, so a
document no journal of ours has (posted twice by hand, sent by another installation) is a break.
How long work may legitimately be in flight comes from the configuration in effect: its context
wait and batch window, each plus ``in_flight``. It writes nothing and decides no figure itself;
``announce`` (what `revbridge reconcile` and the API call after it) puts the report's breaks in
the event outbox as ``reconciliation.broken`` events, each once however often it is found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta

from revbridge.core.errors import RevbridgeError
from revbridge.masterdata.configuration import Configuration
from revbridge.reconcile import Inputs, Report, Thresholds, reconcile
from revbridge.reconcile.breaks import Break
from revbridge.reconcile.erp import Reader, erp_document, readers_for
from revbridge.reconcile.facts import ErpDocument
from revbridge.store import Database, announcements, facts

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
    """The report for ``day`` (None: everything). ``readers`` (connector name -> reader) read
    ERPs back besides those of the connectors ``connector_for`` (legal entity -> connector)
    builds for the configured legal entities."""
    config = facts.configuration_on(db, now.date())
    connectors = _connectors(config, connector_for)
    found = readers_for(connectors, skip=facts.EMBEDDED) | dict(readers or {})
    inputs = facts.gather(
        db, day=day, today=now.date(), read_back=facts.EMBEDDED | frozenset(found), config=config
    )
    inputs = _read_back(inputs, found)
    inputs = replace(inputs, documents={**_held(inputs, connectors, day), **inputs.documents})
    return reconcile(inputs, now=now, thresholds=_thresholds(config, in_flight))


def announce(db: Database, found: Report, *, now: datetime) -> int:
    """Announce the report's breaks (events out); returns how many had not been announced yet."""
    return announcements.breaks_found(db, [_notice(b) for b in found.breaks], now=now)


def _notice(found: Break) -> announcements.BreakNotice:
    """A break's PHI-free fields: never its event keys (an 835's holds the patient control number)."""
    shown = found.as_json()
    return announcements.BreakNotice(
        control=found.control.value,
        subject=found.subject,
        message=found.message,
        expected=_text(shown["expected"]),
        actual=_text(shown["actual"]),
        difference=_text(shown["difference"]),
        currency=_text(shown["currency"]),
        event_count=len(found.event_keys),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _connectors(config: Configuration | None, connector_for: Callable[[str], object] | None) -> list[object]:
    if config is None or connector_for is None:
        return []
    found: list[object] = []
    for entity in config.master.legal_entities:
        try:
            found.append(connector_for(entity.code))
        except RevbridgeError:
            continue  # a connector that cannot be built cannot be read back: its receipts stand
    return found


def _read_back(inputs: Inputs, readers: Mapping[str, Reader]) -> Inputs:
    """``inputs`` with the documents each reader's ERP holds for that connector's posted journals."""
    if not readers:
        return inputs
    documents = dict(inputs.documents)
    for name, read in readers.items():
        posted = [j for j in inputs.journals if j.connector == name and j.status == "posted"]
        if posted:
            documents.update(read(posted))
    return replace(inputs, documents=documents)


def _held(inputs: Inputs, connectors: list[object], day: date | None) -> dict[str, ErpDocument]:
    """The documents ERPs hold from revbridge, dated in the report's scope (the day, else the
    span of that connector's journals), under references no journal of ours has. A connector
    whose ERP keeps a shortened reference says how (``key_of``)."""
    strays: dict[str, ErpDocument] = {}
    seen: set[str] = set()
    for connector in connectors:
        name, held = getattr(connector, "name", None), getattr(connector, "held", None)
        if not isinstance(name, str) or name in seen or not callable(held):
            continue
        seen.add(name)
        mine = [j for j in inputs.journals if j.connector == name]
        if day is None and not mine:
            continue
        span = (
            (day, day)
            if day is not None
            else (min(j.posting_date for j in mine), max(j.posting_date for j in mine))
        )
        key_of = getattr(connector, "key_of", None)
        known = {key_of(j.id) if callable(key_of) else j.id for j in inputs.journals}
        for key, document in held(*span).items():
            if key not in known:
                strays[key] = erp_document(document, key)
    return strays


def _thresholds(config: Configuration | None, in_flight: timedelta) -> Thresholds:
    """Messages may wait for context as long as the configuration says, rows in a batch window
    as long as the window's maximum age; each plus ``in_flight``."""
    wait, window = timedelta(0), timedelta(0)
    if config is not None:
        wait, window = config.master.posting.context_wait, config.master.posting.batch_window.max_age
    return Thresholds(in_flight=in_flight, waiting=wait + in_flight, window=window + in_flight)
