"""The REST connector against a real HTTP ERP: OAuth2, template, idempotency, error mapping."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
from faulty_erp import FaultyErp

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.http import retry_after
from revbridge.connectors.rest import RestConnector, RestSettings
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R

SENTINEL = "MRN-SENTINEL-88812"


def _journal(n: int = 1) -> Journal:
    dims = Dimensions(legal_entity="LE01", facility="F01", cost_center="ED", payer_class="Medicare")
    lines = tuple(
        line
        for line in (
            JournalLine.signed(
                account="1010",
                role=R.CASH_CLEARING,
                amount=Money.of("1250.10"),
                dimensions=dims,
                event_keys=(SENTINEL,),
            ),
            JournalLine.signed(account="1210", role=R.AR_PAYER, amount=Money.of("-1250.10"), dimensions=dims),
        )
        if line is not None
    )
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity="LE01",
        currency="USD",
        posting_date=date(2026, 6, 15),
        source_document_key=f"{SENTINEL}:{n}",
        lines=lines,
    )
    return realtime_journal(draft)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def erp():  # type: ignore[no-untyped-def]
    server = FaultyErp(token_lifetime=600)
    yield server
    server.close()


def _connector(erp: FaultyErp, clock: Clock | None = None, **overrides: object) -> RestConnector:
    settings = RestSettings(
        base_url=erp.url,
        token_url="/oauth/token",
        client_id="revbridge",
        client_secret="s3cret",
        timeout=5.0,
        **overrides,  # type: ignore[arg-type]
    )
    return RestConnector(settings, monotonic=clock or Clock())


def test_posts_the_rendered_payload_with_an_idempotency_key_and_finds_it(erp: FaultyErp) -> None:
    connector = _connector(erp)
    journal = _journal()
    receipt = connector.submit(journal)
    assert receipt.document == "DOC-000001" and receipt.reference == journal.id
    (doc,) = erp.documents
    assert doc.external_id == journal.id
    assert doc.body["lines"][0] == {
        "lineNo": 1,
        "account": "1010",
        "role": "cash_clearing",
        "debit": Decimal("1250.10"),
        "credit": Decimal("0.00"),
        "currency": "USD",
        "dimensions": {"facility": "F01", "costCenter": "ED", "payerClass": "Medicare", "serviceLine": ""},
    }
    assert SENTINEL not in json.dumps(doc.body, default=str)
    assert connector.lookup(journal.id) == type(receipt)(reference=journal.id, document="DOC-000001")
    assert connector.lookup("unknown-ref") is None
    again = connector.submit(journal)  # the ERP enforces the idempotency key
    assert again.document == receipt.document and len(erp.documents) == 1
    connector.close()


def test_token_is_cached_refreshed_before_expiry_and_after_a_401(erp: FaultyErp) -> None:
    clock = Clock()
    connector = _connector(erp, clock)
    connector.submit(_journal(1))
    connector.submit(_journal(2))
    assert erp.tokens_issued == 1
    clock.now = 539  # a 600 s token is still fresh up to 60 s before it expires
    connector.submit(_journal(3))
    assert erp.tokens_issued == 1
    clock.now = 541
    connector.submit(_journal(4))
    assert erp.tokens_issued == 2
    erp.revoke_tokens()  # the ERP forgets it: one 401, one new token, the call goes through
    connector.submit(_journal(5))
    assert erp.tokens_issued == 3
    assert [r.status for r in erp.journal_requests("POST")] == [201, 201, 201, 201, 401, 201]
    assert len(erp.documents) == 5
    connector.close()


def test_client_credentials_in_the_form_and_bad_credentials(erp: FaultyErp) -> None:
    body = _connector(erp, client_auth="body")
    body.submit(_journal())
    assert erp.tokens_issued == 1
    wrong = RestConnector(
        RestSettings(base_url=erp.url, token_url="/oauth/token", client_id="x", client_secret="y")
    )
    with pytest.raises(ConnectorUnavailable, match="token endpoint answered 401") as caught:
        wrong.submit(_journal(2))
    assert not caught.value.uncertain
    body.close()
    wrong.close()


@pytest.mark.parametrize(
    ("fault", "uncertain", "after"),
    [("429", False, 7.0), ("503", False, None), ("500", True, None), ("drop_after_commit", True, None)],
)
def test_unavailable_outcomes(erp: FaultyErp, fault: str, uncertain: bool, after: float | None) -> None:
    connector = _connector(erp)
    erp.fail_next(fault, retry_after="7" if fault == "429" else None)
    with pytest.raises(ConnectorUnavailable) as caught:
        connector.submit(_journal())
    assert (caught.value.uncertain, caught.value.retry_after) == (uncertain, after)
    assert len(erp.documents) == (1 if fault == "drop_after_commit" else 0)
    connector.close()


def test_a_refused_journal_is_rejected_and_a_down_erp_is_certainly_unavailable(erp: FaultyErp) -> None:
    connector = _connector(erp)
    erp.fail_next("reject")
    with pytest.raises(ConnectorRejected, match="422"):
        connector.submit(_journal())
    erp.go_down()
    with pytest.raises(ConnectorUnavailable, match="unreachable") as caught:
        connector.submit(_journal(2))
    assert not caught.value.uncertain
    with pytest.raises(ConnectorUnavailable):
        connector.lookup("x")
    erp.come_up()
    assert connector.submit(_journal(2)).document == "DOC-000001"
    connector.close()


def test_a_custom_template_and_paths(erp: FaultyErp) -> None:
    template = (
        '{"externalId": {{ journal.id | tojson }}, "lines": ['
        "{% for l in journal.lines %}"
        '{"account": "GL-{{ l.account }}", "debit": {{ l.debit }}, "credit": {{ l.credit }},'
        ' "currency": {{ l.currency | tojson }}}{{ "," if not loop.last }}'
        "{% endfor %}]}"
    )
    connector = _connector(erp, payload_template=template)
    connector.submit(_journal())
    assert [line["account"] for line in erp.documents[0].body["lines"]] == ["GL-1010", "GL-1210"]
    broken = _connector(erp, payload_template='{"externalId": {{ journal.id }}}')  # unquoted: not JSON
    with pytest.raises(ConnectorRejected, match="payload template failed"):
        broken.submit(_journal(2))
    with pytest.raises(ValueError, match="does not compile"):
        _connector(erp, payload_template="{% for %}")
    connector.close()
    broken.close()


def test_conflict_and_wrapped_lookup_answers_through_a_mock_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(409, json={"title": "Conflict"})
        return httpx.Response(200, json={"data": {"items": [{"doc": {"number": "JE-42"}}]}})

    settings = RestSettings(
        base_url="http://erp.test",
        lookup_path="/lookup/{{ reference }}",
        document_field="doc.number",
        lookup_items_field="data.items",
    )
    connector = RestConnector(settings, transport=httpx.MockTransport(handler))
    journal = _journal()
    receipt = connector.submit(journal)
    assert receipt.document == "JE-42"
    assert seen == ["POST /journals", f"GET /lookup/{journal.id}"]
    connector.close()


def test_retry_after_as_seconds_or_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
    assert retry_after(httpx.Response(429, headers={"Retry-After": "12"}), lambda: now) == 12.0
    dated = httpx.Response(429, headers={"Retry-After": "Mon, 15 Jun 2026 12:00:30 GMT"})
    assert retry_after(dated, lambda: now) == 30.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"}), lambda: now) is None
    assert retry_after(httpx.Response(429), lambda: now) is None
