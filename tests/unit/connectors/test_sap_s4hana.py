"""The SAP S/4HANA connector against the protocol-faithful test system (tests/support/sap_erp.py),
with revbridge's confirmation endpoint served for real over a migrated store.

Asynchronous: journals are accepted, SAP's confirmation arrives later on the endpoint and
``check`` turns it into a posted receipt naming SAP's document, or a rejection in SAP's words with
the lines it named; a confirmation delivered twice is kept once; one never delivered leaves the
journal accepted, and ``lookup_many`` finds what SAP posted through the read API. Synchronous: the
answer is the confirmation. Hostile answers are refused without harm.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from connectors_journals import charge_batch, remittance, small
from erp_chart import reference
from sap_erp import SapErp
from sap_erp_rig import PASSWORD_ENV, Endpoint, segments, settings_for

from revbridge.connectors import registry
from revbridge.connectors.base import ConnectorUnavailable, Receipt, Rejection
from revbridge.connectors.sap_s4hana import SapS4HanaConnector
from revbridge.connectors.sap_s4hana_soap import journal_key, key_of, message_id, references
from revbridge.core.clock import SystemClock
from revbridge.ledger.journal import Journal
from revbridge.store import Database, migrate, sap_confirmations
from revbridge.store import journals as journal_store


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


@pytest.fixture
def erp(db: Database) -> Iterator[SapErp]:
    chart = reference()
    server = SapErp(chart, segments=frozenset(segments(chart).values()))
    endpoint = Endpoint(server)
    endpoint.attach(db)
    yield server
    endpoint.stop()
    server.close()


def _connector(erp: SapErp, db: Database, **changes: Any) -> SapS4HanaConnector:
    settings = {**settings_for(erp, {}, reference()), **changes}
    settings.pop("limits")
    env = registry.Environment(db=db, clock=SystemClock(), secrets={PASSWORD_ENV: erp.password})
    connector = registry.build("sap_s4hana", settings, env)
    assert isinstance(connector, SapS4HanaConnector)
    return connector


def _checked(connector: SapS4HanaConnector, accepted: list[Receipt], timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    done: dict[str, Any] = {}
    while len(done) < len(accepted):
        assert time.monotonic() < deadline, done
        done |= connector.check([a for a in accepted if a.reference not in done])
        time.sleep(0.02)
    return done


def _bad(trn: str = "BAD") -> Journal:
    journal = remittance(trn=trn)
    return replace(
        journal, lines=(*journal.lines[:2], replace(journal.lines[2], account="9999"), *journal.lines[3:])
    )


def test_async_journals_are_accepted_then_posted_when_the_confirmation_arrives(
    erp: SapErp, db: Database
) -> None:
    connector = _connector(erp, db)
    journals = [remittance(), charge_batch()]
    answers = connector.submit_many(journals)
    assert all(isinstance(a, Receipt) and a.accepted for a in answers.values())
    assert all(
        a.document.endswith(":" + message_id(j.id)) for j, a in zip(journals, answers.values(), strict=True)
    )
    done = _checked(connector, list(answers.values()))  # type: ignore[arg-type]
    for journal in journals:
        receipt = done[journal.id]
        assert isinstance(receipt, Receipt) and not receipt.accepted
        company, number, year = receipt.document.split("/")
        assert (
            company == erp.books.company_codes[journal.legal_entity] and number.isdigit() and year == "2026"
        )
        assert erp.documents(*references(journal.id, "RB")) == 1
    assert [r.status for r in erp.requests] == [202]  # one bulk message, nothing read
    connector.close()


def test_a_confirmation_delivered_twice_is_kept_once(erp: SapErp, db: Database) -> None:
    connector = _connector(erp, db)
    erp.fail_next("twice")
    journal = small(1)
    (accepted,) = connector.submit_many([journal]).values()
    assert isinstance(accepted, Receipt)
    first = _checked(connector, [accepted])[journal.id]
    deadline = time.monotonic() + 5
    while len(erp.deliveries.delivered) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (kept,) = sap_confirmations.find(db, [message_id(journal.id)])[message_id(journal.id)]
    assert kept.deliveries == 2 and kept.outcome == "posted"
    again = connector.check([accepted])[journal.id]
    assert isinstance(first, Receipt) and isinstance(again, Receipt) and again.document == first.document
    assert erp.documents(*references(journal.id, "RB")) == 1
    connector.close()


def test_a_confirmation_that_never_comes_leaves_the_journal_accepted_and_lookup_finds_the_document(
    erp: SapErp, db: Database
) -> None:
    connector = _connector(erp, db)
    erp.fail_next("never")
    journal = small(2)
    (accepted,) = connector.submit_many([journal]).values()
    assert isinstance(accepted, Receipt)
    erp.run_jobs()
    time.sleep(0.1)
    assert connector.check([accepted]) == {}
    found = connector.lookup_many([journal.id, small(3).id])
    assert list(found) == [journal.id]
    receipt = found[journal.id]
    assert isinstance(receipt, Receipt) and receipt.document.count("/") == 2
    (held,) = connector.read_back([journal.id]).values()
    assert held.document == receipt.document and held.legal_entity == journal.legal_entity
    assert sorted((x.account, x.debit, x.credit) for x in held.lines) == sorted(
        (x.account, x.debit.amount, x.credit.amount) for x in journal.lines
    )
    connector.close()


def test_a_rejection_names_sap_words_and_our_lines(erp: SapErp, db: Database) -> None:
    connector = _connector(erp, db)
    good, bad = remittance(trn="GOOD"), _bad()
    now = datetime.now(UTC)
    with db.transaction() as tx:  # as the outbox has them: check reads the lines SAP's notes name
        for journal in (good, bad):
            journal_store.stage_journal(tx, journal, connector="erp", first_received_at=now, now=now)
    answers = connector.submit_many([good, bad])
    done = _checked(connector, list(answers.values()))  # type: ignore[arg-type]
    rejection = done[bad.id]
    assert isinstance(rejection, Rejection)
    assert "Account 9999 does not exist" in rejection.message and rejection.lines == (3,)
    assert isinstance(done[good.id], Receipt)
    assert connector.lookup_many([bad.id]) == {}  # a rejection is no reason not to send again
    connector.close()


def test_synchronous_answers_with_the_confirmation(erp: SapErp, db: Database) -> None:
    connector = _connector(erp, db, synchronous=True)
    good, bad = remittance(trn="SYNC"), _bad("SYNC-BAD")
    answers = connector.submit_many([good, bad])
    assert isinstance(answers[good.id], Receipt) and not answers[good.id].accepted  # type: ignore[union-attr]
    assert isinstance(answers[bad.id], Rejection) and answers[bad.id].lines == (3,)  # type: ignore[union-attr]
    again = connector.submit_many([good])[good.id]  # SAP's XBLNR validation refuses a repeat
    assert isinstance(again, Rejection) and "already been posted" in again.message
    assert erp.documents(*references(good.id, "RB")) == 1
    connector.close()


def test_a_closed_period_is_refused(db: Database) -> None:
    chart = reference().closing("MHN", "2026-06")
    server = SapErp(chart, segments=frozenset(segments(chart).values()))
    try:
        connector = _connector(server, db, synchronous=True)
        answer = connector.submit_many([remittance()])
        (rejection,) = answer.values()
        assert isinstance(rejection, Rejection) and "Posting period 006 2026 is not open" in rejection.message
        connector.close()
    finally:
        server.close()


@pytest.mark.parametrize("kind", ["entities", "external", "huge", "garbled"])
def test_a_hostile_or_garbled_answer_is_refused_unread_and_uncertain(
    erp: SapErp, db: Database, kind: str
) -> None:
    connector = _connector(erp, db, synchronous=True)
    erp.fail_next(kind)
    with pytest.raises(ConnectorUnavailable) as refused:
        connector.submit_many([small(5)])
    assert refused.value.uncertain
    assert connector.lookup(small(5).id) is not None  # SAP did post it: found, not sent twice
    connector.close()


def test_refused_credentials_are_unavailable(erp: SapErp, db: Database) -> None:
    settings = {**settings_for(erp, {}, reference())}
    settings.pop("limits")
    env = registry.Environment(db=db, clock=SystemClock(), secrets={PASSWORD_ENV: "wrong"})
    connector = registry.build("sap_s4hana", settings, env)
    with pytest.raises(ConnectorUnavailable, match="credentials"):
        connector.submit(small(6))
    connector.close()


def test_the_keys_are_pure_functions_of_the_journal_id() -> None:
    journal = remittance()
    reference_id, text = references(journal.id, "RB")
    assert len(reference_id) == 16 and len(text) <= 25
    assert key_of(reference_id, text, "RB") == journal_key(journal.id) == journal.id
    assert key_of(reference_id, text, "XX") is None
    assert message_id(journal.id) == journal.id and len(message_id("x" * 80)) == 32


def test_oauth2_client_credentials_are_the_other_way_in(erp: SapErp, db: Database) -> None:
    settings = {**settings_for(erp, {}, reference())}
    for key in ("limits", "username", "password_env"):
        settings.pop(key)
    settings |= {
        "authentication": "oauth2",
        "token_url": "/sap/bc/sec/oauth2/token",
        "client_id": erp.client_id,
        "client_secret_env": "SAP_CLIENT_SECRET",
        "synchronous": True,
    }
    env = registry.Environment(db=db, clock=SystemClock(), secrets={"SAP_CLIENT_SECRET": erp.client_secret})
    connector = registry.build("sap_s4hana", settings, env)
    receipt = connector.submit(small(7))
    assert not receipt.accepted and receipt.document.count("/") == 2
    assert [r.path for r in erp.requests][:1] == ["/sap/bc/sec/oauth2/token"] and len(erp.tokens) == 1
    connector.close()


def test_held_lists_what_sap_holds_with_our_mark_page_by_page(db: Database) -> None:
    chart = reference()
    server = SapErp(chart, segments=frozenset(segments(chart).values()), page_size=4)  # 7 items: 2 pages
    try:
        connector = _connector(server, db, synchronous=True)
        journals = [remittance(trn="HELD-1"), remittance(trn="HELD-2")]
        assert all(isinstance(a, Receipt) for a in connector.submit_many(journals).values())
        day = journals[0].posting_date
        held = connector.held(day, day)
        assert sorted(held) == sorted(j.id for j in journals)
        for journal in journals:
            assert len(held[journal.id].lines) == len(journal.lines) == 7
            assert held[journal.id] == connector.read_back([journal.id])[journal.id]
        assert connector.held(day.replace(day=day.day + 1), day.replace(day=day.day + 2)) == {}
        reads = [r for r in server.requests if r.method == "GET"]
        assert len(reads) >= 4 and all(r.status == 200 for r in reads)
        connector.close()
    finally:
        server.close()
