"""A real FHIR client library (fhirclient 4.4, SMART on FHIR's Python client) against ``revbridge
serve`` in its own process: what the library creates is stored, and the server's own worker turns
it into events and work items."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from fhirclient.client import FHIRClient
from fhirclient.models.claim import Claim
from fhirclient.models.coverage import Coverage
from fhirclient.models.paymentreconciliation import PaymentReconciliation
from sqlalchemy import select

from revbridge.store import Database, workitems
from revbridge.store.schema import events, messages

FHIR = "fhir/fhir_models_r4__{}-example.json"
TERMINAL = {"processed", "excepted", "ignored", "duplicate"}


@dataclass
class Server:
    port: int
    token: str
    db: Database


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home)}
    env.pop("REVBRIDGE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    cli(tmp_path, "db", "upgrade")
    token = json.loads(
        cli(tmp_path, "apikey", "create", "--role", "system", "--name", "ehr", "--json").stdout
    )["key"]
    port = free_port()
    env = {**os.environ, "REVBRIDGE_HOME": str(tmp_path)}
    env.pop("REVBRIDGE_DB", None)
    command = [sys.executable, "-m", "revbridge", "serve", "--port", str(port), "--mllp-port", "0"]
    log = tmp_path / "serve.log"  # a file, not a pipe: an unread pipe would block the server's logging
    with log.open("wb") as sink:
        proc = subprocess.Popen([*command, "--workers", "1"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    engine = Database.open(f"sqlite:///{tmp_path / 'revbridge.db'}")
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"revbridge serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("revbridge serve did not answer /healthz in 60 s")
            time.sleep(0.1)
        yield Server(port, token, engine)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        engine.close()


def without_id(path: Path) -> dict[str, Any]:
    # fhirclient creates only resources without an id (the server names them); keep everything else.
    resource: dict[str, Any] = json.loads(path.read_text())
    resource.pop("id")
    return resource


def wait_terminal(engine: Database, count: int) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while True:
        with engine.engine.connect() as conn:
            rows = {str(i): str(s) for i, s in conn.execute(select(messages.c.id, messages.c.status))}
        if len(rows) >= count and set(rows.values()) <= TERMINAL:
            return rows
        if time.monotonic() > deadline:
            pytest.fail(f"messages not terminal after 60 s: {rows}")
        time.sleep(0.2)


def test_fhirclient_creates_a_claim_a_coverage_and_a_payment_reconciliation(
    server: Server, corpus: Path
) -> None:
    client = FHIRClient(
        settings={"app_id": "revbridge-e2e", "api_base": f"http://127.0.0.1:{server.port}/api/v1/fhir"}
    )
    client.server.session.headers["Authorization"] = f"Bearer {server.token}"

    created = [
        Claim(without_id(corpus / FHIR.format("claim"))).create(client.server),
        Coverage(without_id(corpus / FHIR.format("coverage"))).create(client.server),
        PaymentReconciliation(without_id(corpus / FHIR.format("paymentreconciliation"))).create(
            client.server
        ),
    ]
    for answer in created:
        assert answer["resourceType"] == "OperationOutcome"
        assert [i["severity"] for i in answer["issue"]] == ["information"]
    # Creating the same Claim again is a replay of the stored message, not a second one.
    again = Claim(without_id(corpus / FHIR.format("claim"))).create(client.server)
    assert again == created[0]

    statuses = wait_terminal(server.db, 4)
    assert Counter(statuses.values())["duplicate"] == 1
    assert len(statuses) == 4
    with server.db.engine.connect() as conn:
        kinds = Counter(k for (k,) in conn.execute(select(events.c.kind)))
        channels = {c for (c,) in conn.execute(select(messages.c.channel))}
    assert kinds["ClaimSubmitted"] == 1
    assert kinds["CoverageUpdated"] == 1
    assert kinds["RemittanceReceived"] == 1
    assert all(c.startswith("http:fhir:") for c in channels)
    mismatches = workitems.list_items(server.db, code="TOTAL_MISMATCH")
    assert [w.details for w in mismatches] == [{"paymentAmount": "7000.00", "details": "6000.00"}]


def test_fhirclient_sees_a_refusal_as_an_http_error(server: Server, corpus: Path) -> None:
    client = FHIRClient(
        settings={"app_id": "revbridge-e2e", "api_base": f"http://127.0.0.1:{server.port}/api/v1/fhir"}
    )
    client.server.session.headers["Authorization"] = f"Bearer {server.token}"
    claim = Claim(without_id(corpus / FHIR.format("claim")))
    claim.created.origval = "16 August 2014"  # a date fhirclient keeps as sent, FHIR does not allow
    with pytest.raises(requests.HTTPError) as refused:  # fhirclient's answer to a 400
        claim.create(client.server)
    response = refused.value.response
    assert response is not None
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Claim.created"]
    with server.db.engine.connect() as conn:
        assert conn.execute(select(messages.c.id)).all() == []
