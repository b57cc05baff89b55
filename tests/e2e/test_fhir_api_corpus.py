"""The FHIR routes against a real server, over whole inputs: every file of the FHIR corpus through
its route, the CLI ingesting a resource and the Synthea bundle, and schemathesis' generated
requests (none may get a server error). The answers one at a time are in test_fhir_api.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from fhir_served import FHIR, SYNTHEA, Served, event_kinds, serve
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from runtime import build_runtime
from schemathesis import Case, GenerationMode

from revbridge.store import workitems


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


# -- the corpus and the CLI ----------------------------------------------------------------------------


def test_every_corpus_file_is_accepted_by_its_route_and_ends_terminal(served: Served, corpus: Path) -> None:
    ids: dict[str, str] = {}
    for path in sorted((corpus / "fhir").iterdir()):
        kind = json.loads(path.read_bytes())["resourceType"]
        response = served.post(
            "/api/v1/fhir" if kind == "Bundle" else f"/api/v1/fhir/{kind}", path.read_bytes()
        )
        assert response.status_code == (200 if kind == "Bundle" else 201), (path.name, response.text[:300])
        ids[path.name] = response.headers["x-revbridge-message-id"]
    assert len(ids) == 10
    served.rt.settle(close_windows=True)
    status = served.rt.status()["messages"]
    assert status["pending"] == status["processing"] == status["waiting"] == 0
    assert status["processed"] + status["excepted"] + status["ignored"] == 10
    claim_response = ids["fhir_models_r4__claimresponse-example.json"]
    codes_found = {w.code for w in workitems.list_items(served.rt.db, message_id=claim_response)}
    assert "TOTAL_MISMATCH" in codes_found  # payment 100.47 against benefit 90.47


def test_the_cli_ingests_a_corpus_resource_and_the_synthea_bundle(tmp_path: Path, corpus: Path) -> None:
    env = {**os.environ, "REVBRIDGE_HOME": str(tmp_path), "COLUMNS": "200"}
    env.pop("REVBRIDGE_DB", None)
    files = [str(corpus / FHIR.format("claim")), str(corpus / SYNTHEA)]
    result = subprocess.run(
        [sys.executable, "-m", "revbridge", "ingest", "--process", "--json", *files],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [r["format"] for r in report] == ["fhir", "fhir"]
    assert report[0]["status"] == "processed"
    assert report[1]["status"] in ("processed", "excepted")
    rt = build_runtime(f"sqlite:///{tmp_path / 'revbridge.db'}", tmp_path)  # the embedded default
    try:
        assert event_kinds(rt, report[0]["message_id"]) == Counter({"ClaimSubmitted": 1})
        kinds = event_kinds(rt, report[1]["message_id"])
        assert (kinds["ClaimSubmitted"], kinds["ClaimAdjudicated"]) == (39, 33)
    finally:
        rt.close()


# -- schemathesis --------------------------------------------------------------------------------------


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Served]:
    # The per-key rate limit would answer 429 long before the examples run out; it is not under test.
    yield from serve(tmp_path, ingest_rate_per_key=1_000_000.0)


# schemathesis' negative generation sometimes draws from `random` inside a strategy, which Hypothesis
# reports as a deprecation: the library's, not ours.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning"
)
def test_schemathesis_finds_no_server_error_on_the_fhir_and_portal_routes(fuzzed: Served) -> None:
    base = f"http://127.0.0.1:{fuzzed.service.http_port}"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json").include(
        path_regex=r"^/api/v1/(fhir|ingest/portal)"
    )
    labels = sorted(op.ok().label for op in schema.get_all_operations())  # type: ignore[union-attr]
    assert labels == [
        "GET /api/v1/fhir/metadata",
        "POST /api/v1/fhir",
        "POST /api/v1/fhir/{resource_type}",
        "POST /api/v1/ingest/portal/payments",
    ]
    auth = {"Authorization": fuzzed.http.headers["Authorization"]}
    seen: Counter[int] = Counter()
    session = requests.Session()

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = schema.as_strategy(generation_mode=mode, headers=auth)

        @given(case=strategy)
        @examples(
            max_examples=150,
            derandomize=True,  # the same examples on every run: a CI failure reproduces locally
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Case[Any]) -> None:
            response = case.call(base_url=base, session=session, timeout=30)
            seen[response.status_code] += 1
            assert response.status_code < 500, (
                case.operation.label,
                response.status_code,
                response.text[:500],
            )

        no_server_error()
    session.close()
    print(seen)
    assert sum(seen.values()) >= 300
    assert seen[201] + seen[200] + seen[202] > 0, seen  # some generated bodies got through
