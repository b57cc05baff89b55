"""The NetSuite connector against the NetSuite test ERP over loopback HTTP: posting and reading
back, lookup and upsert (exactly once), NetSuite's refusals as rejections with lines, faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from connectors_journals import charge_batch, nets, remittance, small
from erp_chart import reference
from netsuite_erp import NetsuiteErp
from netsuite_erp_setup import CONSUMER_SECRET, TOKEN_SECRET, connector, make_erp, pem

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, ReadsBack
from revbridge.connectors.exports import exact_lines
from revbridge.connectors.netsuite import NetsuiteConnector
from revbridge.ledger.journal import Journal

SENTINEL = "MRN-SENTINEL-60613"  # in event keys and the source document key: never sent


@pytest.fixture
def erp() -> Iterator[NetsuiteErp]:
    server = make_erp()
    yield server
    server.close()


@pytest.fixture(params=["oauth2", "tba"])
def ns(request: pytest.FixtureRequest, erp: NetsuiteErp) -> Iterator[NetsuiteConnector]:
    client = connector(erp, authentication=request.param)
    yield client
    client.close()


def _line_of(journal: Journal, account: str) -> int:
    return next(line.line_no for line in exact_lines(journal) if line.account == account)


def _read_back_nets(client: NetsuiteConnector, journals: list[Journal]) -> dict[str, Decimal]:
    held = client.read_back([j.id for j in journals])
    net: dict[str, Decimal] = {}
    for journal in held.values():
        for line in journal.lines:
            net[line.account] = net.get(line.account, Decimal(0)) + line.debit - line.credit
    return {k: v for k, v in net.items() if v}


def test_posts_journals_and_reads_them_back_with_the_balances_sent(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    journals = [remittance(), charge_batch()]
    receipts = [ns.submit(j) for j in journals]

    assert [r.status for r in receipts] == ["posted", "posted"]
    assert [r.document for r in receipts] == [erp.books.records[j.id].id for j in journals]
    assert erp.books.balances() == nets(journals)
    assert isinstance(ns, ReadsBack)
    assert _read_back_nets(ns, journals) == nets(journals)
    held = ns.read_back([journals[0].id, "0" * 64])
    assert list(held) == [journals[0].id]  # one NetSuite has never seen is left out
    assert (held[journals[0].id].legal_entity, held[journals[0].id].posting_date) == (
        "MHN",
        journals[0].posting_date,
    )


def test_the_record_carries_exact_amounts_mapped_segments_and_nothing_that_identifies_a_patient(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    journal = remittance(trn=SENTINEL)
    ns.submit(journal)

    body = erp.books.records[journal.id].body
    assert (body["externalId"], body["subsidiary"], body["currency"]) == (
        journal.id,
        {"id": "1"},
        {"id": "1"},
    )
    assert body["trandate"] == "2026-06-15"
    allowance = body["line"]["items"][_line_of(journal, "4510") - 1]
    assert allowance["debit"] == Decimal("470.00") and "credit" not in allowance
    assert (allowance["department"], allowance["class"], allowance["location"]) == (
        {"id": "CC-4100"},
        {"id": "MEDICARE"},
        {"id": "F01"},
    )
    assert "custcol_service_line" not in allowance  # blank dimension: no value sent
    sent = b"".join(erp.bodies)
    assert b"595.25" in sent and b"595.250" not in sent
    for secret in (SENTINEL, CONSUMER_SECRET, TOKEN_SECRET, pem().splitlines()[1]):
        assert secret.encode() not in sent


def test_our_accounts_and_legal_entities_are_mapped_there_and_back() -> None:
    renamed = {"1015": "215", "1211": "311", "1220": "320", "2155": "455", "4510": "610", "7100": "900"}
    erp = make_erp(account_ids=renamed)
    client = connector(erp, accounts=renamed)
    try:
        journal = remittance()
        client.submit(journal)
        assert erp.books.balances() == nets([journal], renamed)
        assert _read_back_nets(client, [journal]) == nets([journal])
    finally:
        client.close()
        erp.close()


def test_lookup_finds_the_earlier_record_and_none_for_an_unknown_reference(ns: NetsuiteConnector) -> None:
    journal = small(1)
    receipt = ns.submit(journal)

    found = ns.lookup(journal.id)
    assert found is not None and (found.document, found.status) == (receipt.document, "posted")
    assert ns.lookup(small(2).id) is None


def test_a_repeated_submit_updates_the_same_record_and_never_creates_a_second(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    journal = remittance()
    first, second = ns.submit(journal), ns.submit(journal)

    assert first.document == second.document
    assert len(erp.books.records) == 1 and erp.books.records[journal.id].versions == 2
    assert erp.books.balances() == nets([journal])


@pytest.mark.parametrize(
    ("overrides", "words", "account"),
    [
        (
            {"accounts": {"4510": "9999"}},
            "INVALID_KEY_OR_REF: Invalid Field Value 9999 for the following field: account",
            "4510",
        ),
        (
            {"cost_centers": {"CC-4100": "CC-0000"}},
            "Invalid Field Value CC-0000 for the following field: department",
            "4510",
        ),
        (
            {"payer_classes": {"MEDICARE": "MEDICAID-X"}},
            "Invalid Field Value MEDICAID-X for the following field: class",
            "1211",
        ),
        ({"subsidiaries": {"MHN": "77"}}, "Invalid Field Value 77 for the following field: subsidiary", None),
    ],
)
def test_an_unknown_account_segment_or_subsidiary_is_rejected_with_netsuites_words_and_lines(
    erp: NetsuiteErp, overrides: dict[str, dict[str, str]], words: str, account: str | None
) -> None:
    client = connector(erp, **overrides)
    journal = remittance()
    with pytest.raises(ConnectorRejected) as refused:
        client.submit(journal)

    assert "NetSuite rejected the journal (400)" in str(refused.value) and words in str(refused.value)
    if account is not None:
        assert _line_of(journal, account) in refused.value.lines
    else:
        assert refused.value.lines == ()
    assert erp.books.records == {}
    client.close()


def test_a_closed_period_is_rejected() -> None:
    erp = NetsuiteErp(reference().closing("MHN", "2026-06"), tba=make_erp().tba)
    client = connector(erp, authentication="tba")
    try:
        with pytest.raises(
            ConnectorRejected, match="USER_ERROR: The accounting period 2026-06 is closed"
        ) as refused:
            client.submit(remittance())
        assert refused.value.lines == ()
        client.submit(remittance(legal_entity="MHS"))  # the other subsidiary's period is open
    finally:
        client.close()
        erp.close()


def test_the_erp_refuses_an_unbalanced_journal_entry(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    """Our journals cannot be unbalanced (exact_lines refuses first), so the ERP is asked directly
    with the connector's own signed client."""
    body = (
        b'{"subsidiary": {"id": "1"}, "currency": {"id": "1"}, "trandate": "2026-06-15", "line": {"items": ['
        b'{"account": {"id": "1015"}, "debit": 10.00}, {"account": {"id": "1220"}, "credit": 9.99}]}}'
    )
    with httpx.Client(base_url=erp.url, auth=ns.auth) as signed:
        answer = signed.put("/services/rest/record/v1/journalentry/eid:unbalanced", content=body)

    assert answer.status_code == 400
    assert answer.json()["o:errorDetails"][0] == {
        "detail": "The total debits and credits must be equal.",
        "o:errorCode": "USER_ERROR",
        "o:errorPath": "line.items",
    }
    assert erp.books.records == {}


@pytest.mark.parametrize(("kind", "uncertain"), [("500", True), ("503", False)])
def test_server_errors_are_unavailable(
    ns: NetsuiteConnector, erp: NetsuiteErp, kind: str, uncertain: bool
) -> None:
    erp.fail_next(kind)
    with pytest.raises(ConnectorUnavailable) as down:
        ns.submit(small(1))
    assert down.value.uncertain is uncertain


def test_429_is_unavailable_with_retry_after(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    erp.fail_next("429", retry_after="7")
    with pytest.raises(ConnectorUnavailable) as throttled:
        ns.submit(small(1))
    assert (throttled.value.retry_after, throttled.value.uncertain) == (7.0, False)
    assert erp.books.records == {}


@pytest.mark.parametrize("kind", ["drop_after_commit", "garbled"])
def test_a_lost_or_unreadable_answer_is_uncertain_and_lookup_then_finds_the_record(
    ns: NetsuiteConnector, erp: NetsuiteErp, kind: str
) -> None:
    journal = small(1)
    erp.fail_next(kind)
    with pytest.raises(ConnectorUnavailable) as lost:
        ns.submit(journal)

    assert lost.value.uncertain
    found = ns.lookup(journal.id)
    assert found is not None and found.document == erp.books.records[journal.id].id


def test_an_unreadable_lookup_is_uncertain(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    erp.fail_next("garbled", on="GET")
    with pytest.raises(ConnectorUnavailable) as unreadable:
        ns.lookup(small(1).id)
    assert unreadable.value.uncertain


def test_a_slow_answer_times_out_uncertain_and_the_record_is_found_after(erp: NetsuiteErp) -> None:
    erp.slow_seconds = 0.5
    client = connector(erp, timeout=0.1)
    journal = small(1)
    erp.fail_next("slow")
    with pytest.raises(ConnectorUnavailable) as slow:
        client.submit(journal)
    assert slow.value.uncertain

    for _ in range(50):  # the ERP finishes its work after our timeout
        if journal.id in erp.books.records:
            break
        threading.Event().wait(0.05)
    found = client.lookup(journal.id)
    assert found is not None
    client.close()


def test_the_concurrency_limit_answers_429_and_nothing_is_stored() -> None:
    erp = make_erp(concurrency_limit=1)
    client = connector(erp)
    try:
        client.lookup(small(0).id)  # the token, fetched before the race
        erp.fail_next("slow")
        worker = threading.Thread(target=client.submit, args=(small(1),))
        worker.start()
        while erp.in_flight == 0:  # the slow PUT has arrived and holds the only slot
            threading.Event().wait(0.01)
        with pytest.raises(ConnectorUnavailable, match="429") as throttled:
            client.submit(small(2))
        worker.join()
        assert not throttled.value.uncertain
        assert small(2).id not in erp.books.records and small(1).id in erp.books.records
    finally:
        client.close()
        erp.close()


@pytest.mark.parametrize(("authentication", "token_calls"), [("oauth2", 1), ("tba", 0)])
def test_a_batch_of_n_journals_takes_n_record_calls(
    erp: NetsuiteErp, authentication: str, token_calls: int
) -> None:
    client = connector(erp, authentication=authentication)
    for n in range(12):
        client.submit(small(n))

    assert [r.method for r in erp.record_calls()] == ["PUT"] * 12
    assert len(erp.calls("POST")) == token_calls
    assert len(erp.books.records) == 12
    client.close()
