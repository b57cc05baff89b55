"""The Business Central connector when BC refuses or fails: each refusal a rejection with BC's
words and our line, throttling, lost and unreadable answers, credentials and tokens, no PHI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from bc_erp import BcErp
from bc_journals import SENTINEL, Ticks, connect, journal
from erp_chart import reference

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.business_central import BusinessCentralConnector


@pytest.fixture
def erp() -> Iterator[BcErp]:
    server = BcErp()
    yield server
    server.close()


@pytest.fixture
def bc(erp: BcErp) -> Iterator[BusinessCentralConnector]:
    connector = connect(erp)
    yield connector
    connector.close()


def _line_of(j: object, account: str) -> int:
    return [x.account for x in j.lines].index(account) + 1  # type: ignore[attr-defined]


def test_closed_period_is_rejected_with_bcs_words_and_the_line() -> None:
    erp = BcErp(reference().closing("MHN", "2026-05"))
    bc = connect(erp)
    with pytest.raises(ConnectorRejected) as refused:
        bc.submit(journal(1, day=date(2026, 5, 31)))
    assert "is not within your range of allowed posting dates" in str(refused.value)
    assert refused.value.lines == (1,)  # BC names Line No.='10000', our line 1
    assert erp.entries() == [] and erp.unposted() == [] and erp.batches() == []
    bc.submit(journal(1, day=date(2026, 6, 1)))  # an open period posts
    bc.close()
    erp.close()


def test_unknown_account_is_rejected_naming_the_line(erp: BcErp, bc: BusinessCentralConnector) -> None:
    j = journal(2, credit_account="8888")
    with pytest.raises(ConnectorRejected) as refused:
        bc.submit(j)
    assert "The G/L Account does not exist" in str(refused.value) and "8888" in str(refused.value)
    assert refused.value.lines == (_line_of(j, "8888"),)
    assert erp.unposted() == [] and erp.batches() == []


def test_unknown_dimension_value_is_rejected(erp: BcErp, bc: BusinessCentralConnector) -> None:
    with pytest.raises(ConnectorRejected) as refused:
        bc.submit(journal(3, cost_center="CC-NOPE"))
    assert "The Dimension Value does not exist" in str(refused.value) and "CC-NOPE" in str(refused.value)
    assert refused.value.lines in ((1,), (2,))
    assert erp.unposted() == [] and erp.batches() == []


def test_unknown_dimension_code_is_rejected(erp: BcErp) -> None:
    bc = connect(erp, dimension_codes={"cost_center": "COSTCTR"})
    with pytest.raises(ConnectorRejected, match="The Dimension does not exist"):
        bc.submit(journal(4))
    bc.close()


def test_unknown_company_is_rejected(erp: BcErp, bc: BusinessCentralConnector) -> None:
    with pytest.raises(ConnectorRejected, match="no company named 'ZZZ'"):
        bc.submit(journal(5, legal_entity="ZZZ"))


def test_injected_429_is_unavailable_with_retry_after_and_leaves_nothing(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    erp.fail_next("429", on="$batch", retry_after="7")
    with pytest.raises(ConnectorUnavailable) as throttled:
        bc.submit(journal(6))
    assert throttled.value.retry_after == 7.0 and not throttled.value.uncertain
    assert erp.batches() == []
    bc.submit(journal(6))
    assert len(erp.entries()) == 2


def test_rate_limit_answers_429_with_retry_after() -> None:
    erp = BcErp(rate_limit=(3, 60.0))
    bc = connect(erp)
    with pytest.raises(ConnectorUnavailable) as throttled:
        bc.submit(journal(7))  # companies, G/L read, journal batch: the fourth call is refused
    assert throttled.value.retry_after is not None and 0 < throttled.value.retry_after <= 60
    # the $batch and the clean-up DELETE were both refused: an empty batch may remain, so uncertain
    assert throttled.value.uncertain
    assert [r.status for r in erp.calls()] == [200, 200, 201, 429, 429]
    bc.close()
    erp.close()


def test_500_on_post_is_uncertain_and_503_is_not(erp: BcErp, bc: BusinessCentralConnector) -> None:
    erp.fail_next("500", on="Microsoft.NAV.post")
    with pytest.raises(ConnectorUnavailable) as failed:
        bc.submit(journal(8))
    assert failed.value.uncertain
    erp.fail_next("503", on="Microsoft.NAV.post", retry_after="3")
    with pytest.raises(ConnectorUnavailable) as busy:
        bc.submit(journal(8))
    assert not busy.value.uncertain and busy.value.retry_after == 3.0
    assert erp.batches() == [] and erp.entries() == []


def test_unreadable_answer_is_uncertain_then_lookup_and_resend_post_once(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    j = journal(9)
    erp.fail_next("garbled", on="$batch")  # BC stored the lines, the answer is not JSON
    with pytest.raises(ConnectorUnavailable, match="not JSON") as unreadable:
        bc.submit(j)
    assert unreadable.value.uncertain
    assert bc.lookup(j.id) is None
    bc.submit(j)
    assert len(erp.entries()) == 2 and erp.unposted() == []


def test_slow_answer_times_out_as_uncertain(erp: BcErp) -> None:
    bc = connect(erp, timeout=0.2)
    erp.slow_seconds = 0.5
    erp.fail_next("slow", on="Microsoft.NAV.post")
    with pytest.raises(ConnectorUnavailable) as slow:
        bc.submit(journal(10))
    assert slow.value.uncertain
    bc.close()


def test_refused_credentials_are_a_clear_unavailable_without_the_secret(erp: BcErp) -> None:
    bc = connect(erp, client_secret="wrong-secret-value")
    with pytest.raises(ConnectorUnavailable, match="token endpoint answered 401") as refused:
        bc.submit(journal(11))
    assert "wrong-secret-value" not in str(refused.value)
    assert "wrong-secret-value" not in repr(bc) and "wrong-secret-value" not in repr(bc.settings)
    assert erp.calls() == []
    bc.close()


def test_wrong_scope_is_refused_by_entra(erp: BcErp) -> None:
    bc = connect(erp, scope="https://api.businesscentral.dynamics.com/user_impersonation")
    with pytest.raises(ConnectorUnavailable, match="token endpoint answered 400"):
        bc.submit(journal(12))
    bc.close()


def test_token_cached_renewed_before_expiry_and_after_a_401(erp: BcErp) -> None:
    ticks = Ticks()
    bc = connect(erp, monotonic=ticks, refresh_margin=60.0)
    bc.submit(journal(13))
    bc.submit(journal(14))
    assert erp.tokens_issued == 1 and bc.tokens_fetched == 1
    ticks.now += 3600 - 60  # within the refresh margin of expiry
    bc.submit(journal(15))
    assert erp.tokens_issued == 2
    erp.revoke_tokens()  # BC refuses the cached token: renewed once, then the call goes through
    bc.submit(journal(16))
    assert erp.tokens_issued == 3
    assert 401 in [r.status for r in erp.calls()]
    bc.close()


def test_no_phi_or_secret_in_any_request_body_or_error(erp: BcErp, bc: BusinessCentralConnector) -> None:
    bc.submit_many([journal(n) for n in range(20, 25)])
    erp.fail_next("500", on="Microsoft.NAV.post")
    with pytest.raises(ConnectorUnavailable) as failed:
        bc.submit(journal(26))
    with pytest.raises(ConnectorRejected) as refused:
        bc.submit(journal(27, debit_account="9999"))
    bodies = b"".join(r.body for r in erp.requests)
    assert bodies and SENTINEL.encode() not in bodies and erp.client_secret.encode() not in bodies
    for error in (failed.value, refused.value):
        assert SENTINEL not in str(error) and erp.client_secret not in str(error)
