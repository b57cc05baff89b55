"""The Oracle Fusion connector when Oracle misbehaves: throttling, errors, a lost or unreadable
answer, a slow answer, refused credentials; the OAuth2 token's cache; no PHI or secret leaks."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator

import pytest
from connectors_journals import remittance, small
from oracle_erp import OracleErp
from oracle_fusion_kit import SENTINEL, Ticking, close_all, connector, settle, two_lines

from revbridge.connectors.base import ConnectorUnavailable, Receipt


@pytest.fixture
def erp() -> Iterator[OracleErp]:
    server = OracleErp(token_lifetime=600)
    yield server
    close_all()
    server.close()


def test_429_is_unavailable_with_retry_after_and_nothing_stored(erp: OracleErp) -> None:
    erp.fail_next("429", retry_after="7")
    with pytest.raises(ConnectorUnavailable) as caught:
        connector(erp).submit(small(1))
    assert caught.value.retry_after == 7.0 and not caught.value.uncertain and erp.uploads == []


def test_500_on_upload_is_unavailable_and_uncertain(erp: OracleErp) -> None:
    erp.fail_next("500")
    with pytest.raises(ConnectorUnavailable) as caught:
        connector(erp).submit(small(1))
    assert caught.value.uncertain


def test_503_while_following_is_unavailable_and_the_next_check_goes_on(erp: OracleErp) -> None:
    oracle = connector(erp)
    receipt = oracle.submit(small(1))
    erp.fail_next("503", on="GET")
    with pytest.raises(ConnectorUnavailable):
        oracle.check([receipt])
    assert isinstance(settle(oracle, [receipt])[receipt.reference], Receipt)


def test_a_lost_answer_is_uncertain_and_lookup_finds_the_upload_once_imported(erp: OracleErp) -> None:
    oracle = connector(erp)
    journal = remittance()
    erp.fail_next("drop_after_commit")
    with pytest.raises(ConnectorUnavailable) as caught:
        oracle.submit(journal)
    assert caught.value.uncertain and len(erp.uploads) == 1
    # residual risk: Oracle offers no REST query for an upload still loading
    assert oracle.lookup(journal.id) is None
    erp.run_jobs()  # Oracle goes on without being watched
    found = oracle.lookup(journal.id)
    assert found is not None and found.document == str(erp.batches_for(journal.id)[0].je_batch_id)
    assert oracle.submit(journal).document == found.document and len(erp.uploads) == 1


def test_an_unreadable_answer_is_uncertain(erp: OracleErp) -> None:
    erp.fail_next("garbled")
    with pytest.raises(ConnectorUnavailable, match="not JSON") as caught:
        connector(erp).submit(small(1))
    assert caught.value.uncertain and len(erp.uploads) == 1


def test_a_slow_answer_times_out_uncertain() -> None:
    server = OracleErp(slow_seconds=0.6)
    try:
        server.fail_next("slow")
        with pytest.raises(ConnectorUnavailable, match="lost") as caught:
            connector(server, timeout=0.2).submit(small(1))
        assert caught.value.uncertain
    finally:
        close_all()
        server.close()


def test_a_call_that_failed_after_one_ledgers_upload_is_uncertain(erp: OracleErp) -> None:
    oracle = connector(erp)
    erp.fail_next("pass")  # the first upload goes through
    erp.fail_next("503")
    north, south = small(1), remittance(legal_entity="MHS")
    with pytest.raises(ConnectorUnavailable) as caught:
        oracle.submit_many([north, south])
    assert caught.value.uncertain and len(erp.uploads) == 1
    found = oracle.lookup_many([north.id, south.id])
    assert list(found) == [north.id] and isinstance(found[north.id], Receipt) and found[north.id].accepted
    again = oracle.submit_many([north, south])
    assert again[north.id] == found[north.id] and len(erp.uploads) == 2


def test_refused_basic_credentials_are_a_clear_unavailable(erp: OracleErp) -> None:
    with pytest.raises(ConnectorUnavailable, match="refused our credentials") as caught:
        connector(erp, password="wrong-" + SENTINEL).submit(small(1))
    assert SENTINEL not in str(caught.value) and erp.uploads == []


def test_refused_client_credentials_are_a_clear_unavailable(erp: OracleErp) -> None:
    with pytest.raises(ConnectorUnavailable, match="token endpoint answered 401"):
        connector(erp, oauth=True, client_secret="wrong").submit(small(1))


def test_the_token_is_cached_renewed_before_expiry_and_after_a_401(erp: OracleErp) -> None:
    clock = Ticking()
    oracle = connector(erp, oauth=True, monotonic=clock)
    receipts = list(oracle.submit_many([small(1), small(2)]).values())
    settle(oracle, receipts)  # type: ignore[arg-type]
    assert oracle.tokens_fetched == 1 and erp.tokens_issued == 1 and len(erp.requests) > 5
    clock.now = 600 - 59  # inside the 60 s refresh margin
    oracle.lookup(small(1).id)
    assert oracle.tokens_fetched == 2
    erp.revoke_tokens()
    assert oracle.lookup(small(1).id) is not None
    assert oracle.tokens_fetched == 3 and [r.status for r in erp.calls("GET")][-2:] == [401, 200]


def test_an_expired_token_is_refused_and_renewed() -> None:
    server = OracleErp(token_lifetime=1)  # expires at the ERP while the connector still holds it
    try:
        oracle = connector(server, oauth=True, refresh_margin=0.0, monotonic=Ticking())  # never due
        assert oracle.lookup(small(1).id) is None
        time.sleep(1.05)
        assert oracle.lookup(small(1).id) is None
        assert [r.status for r in server.calls("GET")] == [200, 401, 200] and oracle.tokens_fetched == 2
    finally:
        close_all()
        server.close()


def test_no_phi_or_secret_in_any_request_error_or_repr(erp: OracleErp) -> None:
    oracle = connector(erp, password=erp.password)
    journals = [two_lines(key="a"), two_lines("9999", key="b")]
    done = settle(oracle, list(oracle.submit_many(journals).values()))  # type: ignore[arg-type]
    texts = [body.decode("utf-8", "replace") for body in erp.bodies]
    for upload in erp.uploads:
        with zipfile.ZipFile(io.BytesIO(upload.content)) as archive:
            texts.append(archive.read("GlInterface.csv").decode())
    texts += [str(a) for a in done.values()] + [repr(oracle.settings), repr(oracle)]
    assert all(SENTINEL not in text for text in texts)
    assert all(erp.password not in text for text in [repr(oracle.settings), *map(str, done.values())])
