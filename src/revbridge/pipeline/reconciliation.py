"""``report``: reconcile the store against its sources and its ERPs, with the settings in effect.

Reconciliation is three steps, and this module only sequences them: the store gathers the facts
of a day (``store.facts.gather``), the ERPs that can be read back per reference are read back
(connectors with a ``balances`` method, built by the runtime's ``connector_for``; the embedded
ledger is read by the store itself), and the pure controls (``revbridge.reconcile``) compare them.
How long work may legitimately be in flight comes from the configuration in effect: its context
wait and batch window, each plus ``in_flight``. It writes nothing and decides no figure itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta

from revbridge.core.errors import RevbridgeError
from revbridge.masterdata.configuration import Configuration
from revbridge.reconcile import Inputs, Report, Thresholds, reconcile
from revbridge.reconcile.erp import Reader, readers_for
from revbridge.store import Database, facts

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
    found = readers_for(_connectors(config, connector_for), skip=facts.EMBEDDED) | dict(readers or {})
    inputs = facts.gather(
        db, day=day, today=now.date(), read_back=facts.EMBEDDED | frozenset(found), config=config
    )
    return reconcile(_read_back(inputs, found), now=now, thresholds=_thresholds(config, in_flight))


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


def _thresholds(config: Configuration | None, in_flight: timedelta) -> Thresholds:
    """Messages may wait for context as long as the configuration says, rows in a batch window
    as long as the window's maximum age; each plus ``in_flight``."""
    wait, window = timedelta(0), timedelta(0)
    if config is not None:
        wait, window = config.master.posting.context_wait, config.master.posting.batch_window.max_age
    return Thresholds(in_flight=in_flight, waiting=wait + in_flight, window=window + in_flight)
