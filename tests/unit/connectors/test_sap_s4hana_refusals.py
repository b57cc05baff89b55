"""The SAP test system refuses what S/4HANA refuses, and the connector maps each refusal: an
unknown company code, cost center, profit center or segment (with the lines carrying the value),
an unbalanced entry or one whose debit/credit code disagrees with its sign (which revbridge never
sends: checked with a hand-made request), a wrong SOAPAction; throttling and outages are
unavailable, with SAP's Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from connectors_journals import remittance, small
from erp_chart import reference
from sap_erp import SYNC_PATH, SapErp
from sap_erp_rig import PASSWORD_ENV, segments, settings_for

from revbridge.connectors import registry, xmldoc
from revbridge.connectors.base import ConnectorUnavailable, Rejection
from revbridge.connectors.sap_s4hana import SapS4HanaConnector
from revbridge.connectors.sap_s4hana_soap import SYNC_ACTION, add_journal, bulk_request, confirmations
from revbridge.core.clock import SystemClock
from revbridge.store import Database, migrate


@pytest.fixture
def erp() -> Iterator[SapErp]:
    chart = reference()
    server = SapErp(chart, segments=frozenset(segments(chart).values()))
    yield server
    server.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


def _connector(erp: SapErp, db: Database, **changes: Any) -> SapS4HanaConnector:
    settings = {**settings_for(erp, {}, reference()), "synchronous": True, **changes}
    settings.pop("limits")
    env = registry.Environment(db=db, clock=SystemClock(), secrets={PASSWORD_ENV: erp.password})
    connector = registry.build("sap_s4hana", settings, env)
    assert isinstance(connector, SapS4HanaConnector)
    return connector


@pytest.mark.parametrize(
    ("changes", "words", "lines"),
    [
        ({"company_codes": {"MHN": "9990"}}, "Company code 9990 does not exist", ()),
        (
            {"cost_centers": {"CC-4100": "CC_NOPE"}},
            "Cost center CC_NOPE does not exist",
            ("cost_center", "CC-4100"),
        ),
        ({"facilities": {"F01": "PC_NOPE"}}, "Profit center PC_NOPE does not exist", ("facility", "F01")),
    ],
)
def test_an_unknown_value_is_refused_naming_the_lines_that_carry_it(
    erp: SapErp, db: Database, changes: dict[str, Any], words: str, lines: tuple[str, ...]
) -> None:
    connector = _connector(erp, db, **changes)
    journal = remittance()
    carrying = tuple(
        n
        for n, line in enumerate(journal.lines, start=1)
        if lines and getattr(line.dimensions, lines[0]) == lines[1]
    )
    assert carrying or not lines  # the journal does carry the value SAP refuses
    (answer,) = connector.submit_many([journal]).values()
    assert isinstance(answer, Rejection) and words in answer.message and answer.lines == carrying
    assert erp.books.rows() == []
    connector.close()


def test_an_unknown_segment_is_refused(erp: SapErp, db: Database) -> None:
    connector = _connector(erp, db, service_lines={"EMERGENCY": "SEG_NOPE"})
    line = replace(
        small(1).lines[0], dimensions=replace(small(1).lines[0].dimensions, service_line="EMERGENCY")
    )
    journal = replace(small(1), lines=(line, *small(1).lines[1:]))
    (answer,) = connector.submit_many([journal]).values()
    assert isinstance(answer, Rejection) and "Segment SEG_NOPE does not exist" in answer.message
    assert answer.lines == (1,)
    connector.close()


def _hand_made(erp: SapErp, db: Database, change: Any, action: str = SYNC_ACTION) -> httpx.Response:
    connector = _connector(erp, db)
    now = datetime.now(UTC)
    bulk = bulk_request([remittance()], connector._mapped, now)
    add_journal(bulk, remittance(), connector._mapped, now)
    change(bulk)
    connector.close()
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    return httpx.post(
        erp.url + SYNC_PATH, content=xmldoc.envelope(bulk), headers=headers, auth=(erp.username, erp.password)
    )


def _first_amount(bulk: Any, value: str, code: str | None = None) -> None:
    item = next(bulk.iter("Item"))
    item.find("AmountInTransactionCurrency").text = value
    if code is not None:
        item.find("DebitCreditCode").text = code


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("600.25", None, "Balance in transaction currency: 5.00"),
        ("-595.25", None, "does not agree with amount"),
    ],
)
def test_sap_refuses_an_unbalanced_or_inconsistent_entry(
    erp: SapErp, db: Database, value: str, code: str | None, words: str
) -> None:
    answer = _hand_made(erp, db, lambda bulk: _first_amount(bulk, value, code))
    assert answer.status_code == 200
    (confirmation,) = confirmations(xmldoc.parse(answer.content))
    assert not confirmation.posted and confirmation.accounting_document == "0000000000"
    assert any(words in note for note in confirmation.notes)
    assert erp.books.rows() == []


def test_a_wrong_soap_action_is_a_sender_fault(erp: SapErp, db: Database) -> None:
    answer = _hand_made(erp, db, lambda _bulk: None, action="urn:other")
    fault = xmldoc.fault(xmldoc.parse(answer.content))
    assert answer.status_code == 500 and fault is not None and fault.client


@pytest.mark.parametrize(("kind", "uncertain"), [("429", False), ("503", False), ("500", True)])
def test_throttling_and_outages_are_unavailable(
    erp: SapErp, db: Database, kind: str, uncertain: bool
) -> None:
    connector = _connector(erp, db)
    erp.fail_next(kind, retry_after="7")
    with pytest.raises(ConnectorUnavailable) as refused:
        connector.submit_many([small(1)])
    assert refused.value.uncertain is uncertain
    if kind != "500":
        assert refused.value.retry_after == 7
    connector.close()
