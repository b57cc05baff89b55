"""The Parquet warehouse export is PHI-free (issue 18): an ADT, a DFT, an 835 and a portal payment
whose every PHI field carries a unique sentinel go through the real intake, workers and posting;
after `revbridge export --format parquet` no sentinel appears anywhere in the decoded contents of
any Parquet file, while the patient appears as the keyed token the pipeline gave it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from runtime import build_runtime
from typer.testing import CliRunner

from revbridge.cli.app import app

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
    "portal_name": "Portalqzname",
}
S = SENTINELS
PID = (
    f"PID|1||{S['mrn']}^^^STJ^MR||{S['family']}^{S['given']}||{S['dob']}|F|||"
    f"{S['street']}^^{S['city']}^NY^13202||{S['phone']}|||||ACCT-PHI-1|{S['ssn']}\r"
)
ADT = (
    "MSH|^~\\&|EPIC|STJ|REVBRIDGE|MERCY|20261102080000||ADT^A04|WH-ADT-1|P|2.5\r"
    "EVN|A04|20261102080000\r"
    + PID
    + f"NK1|1|{S['kin']}^ANNA|SPO|{S['street']}^^{S['city']}^NY^13202|{S['phone']}\r"
    "PV1|1|O|ED^01^01^STJ||||1234^DOC^ALICE|||ED||||||||OP|V-WH-1|||||||||||||||||||||||||20261102080000\r"
    f"GT1|1|G-PHI-1|{S['guarantor']}^PAUL||{S['street']}^^{S['city']}^NY^13202|{S['phone']}\r"
    f"IN1|1|PPO|608^^^^NIIP|BLUE CROSS||||GRP1|ACME|||20260101|20261231|||{S['insured']}^JOE|SEL|"
    f"{S['dob']}|{S['street']}^^{S['city']}^NY^13202|||1||||||||||||||{S['member']}\r"
)
DFT = (
    "MSH|^~\\&|EPIC|STJ|REVBRIDGE|MERCY|20261102090000||DFT^P03|WH-DFT-1|P|2.5\r"
    "EVN|P03|20261102090000\r" + PID + "PV1|1|O|ED^01^01^STJ||||||||||||||||V-WH-1\r"
    "FT1|1|WH-T1||20261102||CG|99283^ED VISIT|||1|412.50||ED\r"
    "FT1|2|WH-T2||20261102||CG|71046^CHEST XRAY|||1|180.25||ED\r"
)
PORTAL = {
    "type": "payment",
    "id": "PAY-WH-1",
    "facility": "STJ",
    "encounter": "V-WH-1",
    "patient": {"id": S["mrn"], "name": S["portal_name"]},
    "amount": "40.00",
    "currency": "USD",
    "method": "card",
    "date": "2026-11-02",
}


def _era(corpus: Path) -> bytes:
    text = (corpus / "x12_835/lfh_x12__managed-care.835").read_text()
    assert "BUDD*WILLIAM" in text and "33344555510" in text
    return (
        text.replace("BUDD*WILLIAM", f"{S['era_patient']}*WILLIAM")
        .replace("33344555510", S["era_member"])
        .encode()
    )


def test_no_sentinel_reaches_the_parquet_export(tmp_path: Path, corpus: Path) -> None:
    url = f"sqlite:///{tmp_path / 'phi.db'}"
    rt = build_runtime(url, tmp_path, posting=True)
    try:
        for payload, channel, fmt in (
            (ADT.encode(), "mllp:phi", "auto"),
            (DFT.encode(), "mllp:phi", "auto"),
            (_era(corpus), "directory:phi", "auto"),
            (json.dumps(PORTAL).encode(), "http:phi", "portal"),
        ):
            rt.intake.receive(payload, channel=channel, format=fmt)
        rt.settle(close_windows=True)
    finally:
        rt.close()
    out = tmp_path / "warehouse"
    result = CliRunner().invoke(
        app,
        ["export", "--format", "parquet", "--out", str(out), "--status", "staged", "--db", url],
        env={"REVBRIDGE_HOME": str(tmp_path)},
    )
    assert result.exit_code == 0, (result.output, result.exception)
    result = CliRunner().invoke(
        app,
        ["export", "--format", "parquet", "--out", str(out / "posted"), "--db", url],
        env={"REVBRIDGE_HOME": str(tmp_path)},
    )
    assert result.exit_code == 0, (result.output, result.exception)

    files = sorted(out.rglob("*.parquet"))
    tables = {str(f.relative_to(out)): pq.read_table(f).to_pylist() for f in files}
    kinds = {row["kind"] for name, rows in tables.items() if name.startswith("events/") for row in rows}
    assert {"EncounterRegistered", "ChargeCaptured", "ClaimAdjudicated", "PatientPaymentReceived"} <= kinds
    assert any(name.startswith(("journals/", "posted/journals/")) for name in tables), (
        "journal lines exported"
    )
    assert any(name.startswith("subledger/") for name in tables), "subledger rows exported"
    charges = [
        r
        for n, rows in tables.items()
        if n.startswith("events/")
        for r in rows
        if r["kind"] == "ChargeCaptured"
    ]
    assert charges and all(str(r["patient_token"]).startswith("pt_") for r in charges)
    text = json.dumps(tables, default=str).lower()
    leaked = {name for name, value in SENTINELS.items() if value.lower() in text}
    assert not leaked, f"sentinels in the Parquet export: {sorted(leaked)}"
    assert "1867-04-13" not in text
