"""The test Business Central itself, over raw HTTP: the refusals a correct connector never
provokes (an unbalanced document, an oversized or half-failing $batch, a bad token) and that it
does not dedupe, so the connector's tests mean what they say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bc_erp import SCOPE, BcErp


@pytest.fixture
def erp() -> Iterator[BcErp]:
    server = BcErp()
    yield server
    server.close()


@pytest.fixture
def api(erp: BcErp) -> Iterator[httpx.Client]:
    form = {
        "grant_type": "client_credentials",
        "client_id": erp.client_id,
        "client_secret": erp.client_secret,
        "scope": SCOPE,
    }
    token = httpx.post(erp.token_url, data=form).json()["access_token"]
    with httpx.Client(base_url=erp.url + erp.prefix, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _batch(api: httpx.Client, company: str, code: str) -> str:
    answer = api.post(f"companies({company})/journals", json={"code": code})
    assert answer.status_code == 201
    return str(answer.json()["id"])


def _line(account: str, amount: str, document: str = "D1") -> dict[str, Any]:
    return {
        "accountType": "G/L Account",
        "accountNumber": account,
        "postingDate": "2026-06-15",
        "documentNumber": document,
        "amount": json.loads(amount),
    }


def test_unbalanced_document_is_refused_at_posting(erp: BcErp, api: httpx.Client) -> None:
    company = erp.company_id("MHN")
    journal = _batch(api, company, "T1")
    for line in (_line("1015", "10.00"), _line("1211", "-9.99")):
        assert (
            api.post(f"companies({company})/journals({journal})/journalLines", json=line).status_code == 201
        )
    posted = api.post(f"companies({company})/journals({journal})/Microsoft.NAV.post")
    assert posted.status_code == 400
    error = posted.json()["error"]
    assert error["code"] == "Application_DialogException"
    assert error["message"].startswith("Document No. D1 is out of balance by 0.01")
    assert erp.entries() == [] and len(erp.unposted()) == 2


def test_batch_is_all_or_nothing_under_snapshot_and_not_without(erp: BcErp, api: httpx.Client) -> None:
    company = erp.company_id("MHN")
    journal = _batch(api, company, "T2")
    url = f"companies({company})/journals({journal})/journalLines"
    requests = [
        {"id": "1", "method": "POST", "url": url, "body": _line("1015", "5")},
        {"id": "2", "method": "POST", "url": url, "body": _line("0000", "-5")},
    ]
    atomic = api.post("$batch", json={"requests": requests}, headers={"Isolation": "snapshot"})
    assert [r["status"] for r in atomic.json()["responses"]] == [201, 400]
    assert erp.unposted() == []
    loose = api.post("$batch", json={"requests": requests})
    assert [r["status"] for r in loose.json()["responses"]] == [201, 400]
    assert len(erp.unposted()) == 1


def test_batch_over_100_operations_is_refused(erp: BcErp, api: httpx.Client) -> None:
    requests = [{"id": str(n), "method": "GET", "url": "companies"} for n in range(101)]
    answer = api.post("$batch", json={"requests": requests}, headers={"Isolation": "snapshot"})
    assert answer.status_code == 400 and "maximum is 100" in answer.json()["error"]["message"]


def test_same_lines_posted_twice_make_two_documents(erp: BcErp, api: httpx.Client) -> None:
    company = erp.company_id("MHN")
    for code in ("T3", "T4"):
        journal = _batch(api, company, code)
        for line in (_line("1015", "1.00", "SAME"), _line("1211", "-1.00", "SAME")):
            line["externalDocumentNumber"] = "RBSAME"
            api.post(f"companies({company})/journals({journal})/journalLines", json=line)
        assert api.post(f"companies({company})/journals({journal})/Microsoft.NAV.post").status_code == 204
    assert erp.documents() == {"SAME": 4}


def test_batch_code_is_unique_and_short(erp: BcErp, api: httpx.Client) -> None:
    company = erp.company_id("MHN")
    _batch(api, company, "T5")
    again = api.post(f"companies({company})/journals", json={"code": "t5"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "Internal_EntityWithSameKeyExists"
    too_long = api.post(f"companies({company})/journals", json={"code": "ABCDEFGHIJK"})
    assert too_long.status_code == 400


def test_bad_token_and_unknown_company(erp: BcErp, api: httpx.Client) -> None:
    refused = httpx.get(erp.url + erp.prefix + "companies", headers={"Authorization": "Bearer forged"})
    assert refused.status_code == 401
    assert api.get("companies(00000000-0000-0000-0000-000000000000)/journals").status_code == 404
    assert api.get("companies").status_code == 200
