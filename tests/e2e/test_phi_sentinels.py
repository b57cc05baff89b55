"""PHI sentinel test over a full run (issue 9): traffic whose every PHI field carries a unique
sentinel goes through the real sources (MLLP, HTTP, the directory source), the workers, posting,
the ERP outbox to a real REST ERP (and the embedded ledger), and the file exports. Afterwards no
sentinel appears in journals, any connector's payloads, logs, metrics, work-item text, exports,
the audit log or the reconciliation report. The raw messages hold them, encrypted, and only a
``phi_reader`` may open them.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faulty_erp import FaultyErp
from runtime import build_runtime

from revbridge.bootstrap import Runtime, reference_config_dir
from revbridge.cli.config import load_dir
from revbridge.observability import logging as rblog
from revbridge.pipeline.reconciliation import report
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.store import apikeys, audit, configs, journals, workitems
from revbridge.store.schema import audit_log, events, messages

SENTINELS = {
    "family": "Zqxwfamily",
    "given": "Vbnqgiven",
    "guarantor": "Guarqzantor",
    "kin": "Kinqzwerty",
    "street": "77 Sentinelqz Road",
    "city": "Qzcityville",
    "phone": "5550173946",
    "dob": "18670413",
    "mrn": "MRNQZ773104",
    "ssn": "987654329",
    "member": "MBRQZ442091",
    "insured": "Insuredqz",
    "era_patient": "Eraqzpatient",
    "era_member": "ERAQZ55512",
    "fhir_family": "Fhirqzfamily",
    "fhir_address": "Fhirqz Lane",
    "portal_name": "Portalqzname",
}

ADT = (
    "MSH|^~\\&|EPIC|STJ|REVBRIDGE|MERCY|20261102080000||ADT^A04|PHI-ADT-1|P|2.5\r"
    "EVN|A04|20261102080000\r"
    f"PID|1||{SENTINELS['mrn']}^^^STJ^MR||{SENTINELS['family']}^{SENTINELS['given']}||{SENTINELS['dob']}|F|||"
    f"{SENTINELS['street']}^^{SENTINELS['city']}^NY^13202||{SENTINELS['phone']}|||||ACCT-PHI-1|{SENTINELS['ssn']}\r"
    f"NK1|1|{SENTINELS['kin']}^ANNA|SPO|{SENTINELS['street']}^^{SENTINELS['city']}^NY^13202|{SENTINELS['phone']}\r"
    "PV1|1|O|ED^01^01^STJ||||1234^DOC^ALICE|||ED||||||||OP|V-PHI-1|||||||||||||||||||||||||20261102080000\r"
    f"GT1|1|G-PHI-1|{SENTINELS['guarantor']}^PAUL||{SENTINELS['street']}^^{SENTINELS['city']}^NY^13202|"
    f"{SENTINELS['phone']}\r"
    f"IN1|1|PPO|608^^^^NIIP|BLUE CROSS||||GRP1|ACME|||20260101|20261231|||{SENTINELS['insured']}^JOE|SEL|"
    f"{SENTINELS['dob']}|{SENTINELS['street']}^^{SENTINELS['city']}^NY^13202|||1||||||||||||||{SENTINELS['member']}\r"
)
DFT = (
    "MSH|^~\\&|EPIC|STJ|REVBRIDGE|MERCY|20261102090000||DFT^P03|PHI-DFT-1|P|2.5\r"
    "EVN|P03|20261102090000\r"
    f"PID|1||{SENTINELS['mrn']}^^^STJ^MR||{SENTINELS['family']}^{SENTINELS['given']}||{SENTINELS['dob']}|F|||"
    f"{SENTINELS['street']}^^{SENTINELS['city']}^NY^13202||{SENTINELS['phone']}\r"
    "PV1|1|O|ED^01^01^STJ||||||||||||||||V-PHI-1\r"
    "FT1|1|PHI-T1||20261102||CG|99283^ED VISIT|||1|412.50||ED\r"
    "FT1|2|PHI-T2||20261102||CG|71046^CHEST XRAY|||1|180.25||ED\r"
)
SB, EB = b"\x0b", b"\x1c\x0d"


def _era(corpus: Path) -> bytes:
    text = (corpus / "x12_835/lfh_x12__managed-care.835").read_text()
    text = text.replace("BUDD*WILLIAM", f"{SENTINELS['era_patient']}*WILLIAM").replace(
        "33344555510", SENTINELS["era_member"]
    )
    return text.encode()


def _fhir_patient() -> bytes:
    return json.dumps(
        {
            "resourceType": "Patient",
            "id": "phi-patient-1",
            "identifier": [{"system": "urn:mrn", "value": SENTINELS["mrn"]}],
            "name": [{"family": SENTINELS["fhir_family"], "given": [SENTINELS["given"]]}],
            "birthDate": "1867-04-13",
            "telecom": [{"system": "phone", "value": SENTINELS["phone"]}],
            "address": [{"line": [SENTINELS["fhir_address"]], "city": SENTINELS["city"]}],
        }
    ).encode()


def _portal_payment() -> bytes:
    return json.dumps(
        {
            "type": "payment",
            "id": "PAY-PHI-1",
            "facility": "STJ",
            "encounter": "V-PHI-1",
            "patient": {"id": SENTINELS["mrn"], "name": SENTINELS["portal_name"]},
            "amount": "40.00",
            "currency": "USD",
            "method": "card",
            "date": "2026-11-02",
        }
    ).encode()


@pytest.fixture
def erp() -> Iterator[FaultyErp]:
    server = FaultyErp(client_id="demo", client_secret="erp-secret")
    yield server
    server.go_down()


def _mllp(port: int, payload: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(SB + payload.encode() + EB)
        data = b""
        while not data.endswith(EB):
            data += sock.recv(65536)
        return data


def test_no_sentinel_leaves_the_raw_payloads(
    tmp_path: Path, corpus: Path, erp: FaultyErp, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = _reference_config_posting_to(erp, tmp_path / "config")
    monkeypatch.setenv("PHI_TEST_ERP_SECRET", "erp-secret")
    log_stream = io.StringIO()
    rblog.configure("INFO", json_lines=True, stream=log_stream)
    rt = build_runtime(f"sqlite:///{tmp_path / 'phi.db'}", tmp_path, posting=True, http_port=0, mllp_port=0)
    service = None
    try:
        system, admin = _approve_and_issue_keys(rt, config_dir)
        service = Service(rt, workers=1)
        service.start()
        _send_through_every_source(service, corpus, system)
        _wait_until_posted(rt, service)
        metrics_text, api_texts = _scrape_metrics_and_api(service, admin)
    finally:
        if service is not None:
            service.stop()
        rblog.configure("INFO", json_lines=True)

    try:
        posted = journals.list_journals(rt.db, limit=1000)
        assert posted, "nothing posted: the test would prove nothing"
        assert erp.documents, "the REST ERP received nothing"
        assert {j.status for j in posted} == {"posted"}
        export_bytes = _export_every_format(tmp_path)
        assert export_bytes

        with rt.db.reading() as conn:
            event_bodies = [b for (b,) in conn.execute(events.select().with_only_columns(events.c.body))]
            audit_rows = [json.dumps(dict(r._mapping), default=str) for r in conn.execute(audit_log.select())]
            raw = [r.payload for r in conn.execute(messages.select())]
        haystacks = {
            "journals": json.dumps([journals.journal_json(j) for j in posted]),
            "REST ERP payloads": json.dumps([d.body for d in erp.documents], default=str),
            "logs": log_stream.getvalue(),
            "metrics": metrics_text,
            "work items": json.dumps([i.as_json() for i in workitems.list_items(rt.db, status=None)]),
            "API answers": "".join(api_texts),
            "exports": export_bytes.decode("utf-8", "replace"),
            "events": "".join(event_bodies),
            "audit": "".join(audit_rows),
            "reconciliation": json.dumps(
                report(rt.db, day=None, now=rt.clock.now(), connector_for=rt.connector_for).as_json(
                    keys=True
                ),
                default=str,
            ),
        }
        for name, text in haystacks.items():
            leaked = [label for label, value in SENTINELS.items() if value in text]
            assert not leaked, f"PHI sentinels {leaked} leaked into {name}"
        # the sentinels did arrive: sealed in the raw payloads, which only a phi_reader opens
        assert all(SENTINELS["family"].encode() not in blob for blob in raw if blob)
        assert audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)[1] == []
    finally:
        rt.close()


def _reference_config_posting_to(erp: FaultyErp, config_dir: Path) -> Path:
    """The reference configuration, with Mercy Health North posting to a REST ERP."""
    shutil.copytree(reference_config_dir(), config_dir)
    entities = config_dir / "legal_entities.yaml"
    entities.write_text(
        entities.read_text().replace(
            "name: embedded        # revbridge's own general ledger; file, tryton and rest also exist",
            f"name: rest\n      settings: {{base_url: '{erp.url}', token_url: '{erp.url}/oauth/token', "
            f"client_id: demo, client_secret_env: PHI_TEST_ERP_SECRET}}",
            1,
        )
    )
    return config_dir


def _approve_and_issue_keys(rt: Runtime, config_dir: Path) -> tuple[str, str]:
    """Put the configuration in effect; return a SYSTEM key for the feeds and an ADMIN key."""
    configs.propose(
        rt.db,
        load_dir(config_dir),
        effective_from=rt.clock.now().date(),
        actor="test",
        note="REST ERP for MHN",
        source=str(config_dir),
        now=rt.clock.now(),
        approve=True,
        anchor=rt.settings.resolved_audit_anchor,
    )
    system = apikeys.create(
        rt.db,
        name="feeds",
        roles=(Role.SYSTEM,),
        now=rt.clock.now(),
        actor="t",
        anchor=rt.settings.resolved_audit_anchor,
    )[1]
    admin = apikeys.create(
        rt.db,
        name="admin",
        roles=(Role.ADMIN,),
        now=rt.clock.now(),
        actor="t",
        anchor=rt.settings.resolved_audit_anchor,
    )[1]
    return system, admin


def _send_through_every_source(service: Service, corpus: Path, system: str) -> None:
    """HL7 v2 over MLLP, an 835 through the directory source, FHIR and a portal payment over HTTP."""
    assert b"|AA|" in _mllp(service.mllp_port, ADT)
    assert b"|AA|" in _mllp(service.mllp_port, DFT)
    assert service.inbox is not None
    (service.inbox / "era.835").write_bytes(_era(corpus))
    (service.inbox / "era.835.ready").write_text("")
    base = f"http://127.0.0.1:{service.http_port}"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {system}"}, timeout=30) as client:
        assert (
            client.post(
                "/api/v1/fhir/Patient",
                content=_fhir_patient(),
                headers={"Content-Type": "application/fhir+json"},
            ).status_code
            == 201
        )
        assert (
            client.post(
                "/api/v1/ingest/portal/payments",
                content=_portal_payment(),
                headers={"Content-Type": "application/json"},
            ).status_code
            == 202
        )


def _wait_until_posted(rt: Runtime, service: Service) -> None:
    """Up to a minute: until every message is processed and no journal is staged or being sent."""
    assert service.inbox is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = rt.status()
        if (
            not status["messages"]["pending"]
            and not status["messages"]["processing"]
            and not any(p.suffix != ".ready" for p in service.inbox.iterdir())
        ):
            rt.posting.tick(force_windows=True)  # type: ignore[union-attr]
            if not rt.status()["journals"]["staged"] and not rt.status()["journals"]["submitting"]:
                break
        time.sleep(0.3)


def _scrape_metrics_and_api(service: Service, admin: str) -> tuple[str, list[str]]:
    """The /metrics text, and what the status and exceptions API answer an admin."""
    base = f"http://127.0.0.1:{service.http_port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        metrics_text = client.get("/metrics").text
        admin_headers = {"Authorization": f"Bearer {admin}"}
        api_texts = [
            client.get("/api/v1/status", headers=admin_headers).text,
            client.get("/api/v1/exceptions?status=all", headers=admin_headers).text,
        ]
    return metrics_text, api_texts


def _export_every_format(tmp_path: Path) -> bytes:
    """Run `revbridge export` in each file format, as a user would; return every file's bytes."""
    exports = tmp_path / "exports"
    for fmt in ("csv", "fbdi", "beancount"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "revbridge",
                "export",
                "--format",
                fmt,
                "--out",
                str(exports / fmt),
                "--db",
                f"sqlite:///{tmp_path / 'phi.db'}",
                *(["--ledger-id", "MHN=300000001", "--ledger-id", "MHS=300000002"] if fmt == "fbdi" else []),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"REVBRIDGE_HOME": str(tmp_path), "PATH": ""},
        )
        assert result.returncode == 0, result.stderr
    return b"".join(p.read_bytes() for p in exports.rglob("*") if p.is_file())
