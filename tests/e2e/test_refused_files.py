"""Files other systems really send that revbridge used to refuse or read as empty (issue 18), run
through the real CLI and the real drop folder: each is stored and processed, its warnings and
INFOs are work items, and none of the sentinel PHI in them reaches the output, the logs or the
work-item messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from runtime import build_runtime

from revbridge.sources.directory import DirectorySource
from revbridge.store import queue

SENTINELS = ("ZZSENTINELNAME", "MRN8675309", "19010203", "42 SENTINEL LANE", "MBR8675309")
ADT = (
    "MSH|^~\\&|HMS03|NCA|EPIC|NCA|200909230800||ADT^A04|ADM1|T|2.5\r"
    "EVN|A04|200909230800\r"
    "PID|||MRN8675309^^^1013^MRN||ZZSENTINELNAME^JANE||19010203|F\r"
    "PV1||O|NW4||||||||||||||||86210313010|||||||||||||||||||||||||200909230800\r"
)
DFT = (
    "MSH|^~\\&|HMS03|NCA|EPIC|NCA|200909261522||DFT^P03|UNIT1|T|2.5\r"
    "EVN|P03|||||200909261607\r"
    "PID|||MRN8675309^^^1013^MRN||ZZSENTINELNAME^JANE||19010203|F|||42 SENTINEL LANE^^Davis^CA^95616"
    "||||||SSC1|05138985\r"
    "PV1|||NW4||||||||||||||||86210313010\r"
    "FT1|1|UA1||20090923||CG|84460^^PROC|||2||62.55|MED^^SRCA\r"
    "FT1|2|UA2||20090923||CG|84460^^PROC|||||10.00|MED^^SRCA\r"
)
EOB: dict[str, Any] = {
    "resourceType": "ExplanationOfBenefit",
    "id": "eob-nopay",
    "status": "active",
    "type": {"coding": [{"code": "institutional"}]},
    "use": "claim",
    "patient": {"reference": "#p1"},
    "contained": [
        {
            "resourceType": "Patient",
            "id": "p1",
            "name": [{"family": "ZZSENTINELNAME"}],
            "birthDate": "1901-02-03",
            "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MRN8675309"}],
        }
    ],
    "created": "2024-03-01",
    "insurer": {"reference": "Organization/payer"},
    "provider": {"reference": "Organization/hosp"},
    "outcome": "complete",
    "insurance": [{"focal": True, "coverage": {"display": "MBR8675309"}}],
}


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "200", "REVBRIDGE_LOG_LEVEL": "DEBUG"}
    env.pop("REVBRIDGE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args], capture_output=True, text=True, env=env, timeout=120
    )


def no_phi(*texts: str) -> None:
    for text in texts:
        for sentinel in SENTINELS:
            assert sentinel not in text


def ingest(home: Path, path: Path) -> list[dict[str, Any]]:
    result = run(home, "ingest", "--process", "--json", str(path))
    assert result.returncode == 0, result.stderr
    no_phi(result.stdout, result.stderr)
    report: list[dict[str, Any]] = json.loads(result.stdout)
    return report


def codes(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((p["code"], p["severity"]) for p in report["problems"])


def bare(enveloped: bytes) -> bytes:
    """The same transaction set without ISA/GS/GE/IEA, as a portal exports it."""
    text = enveloped.decode("latin-1")
    terminator = text[105]
    kept = [
        s for s in text.split(terminator) if s.strip() and s.strip()[:3] not in ("ISA", "GS*", "GE*", "IEA")
    ]
    return (terminator.join(kept) + terminator).encode("latin-1")


def test_a_marked_dft_with_unit_amounts_posts_with_a_warning_and_infos(tmp_path: Path) -> None:
    path = tmp_path / "dft.hl7"
    path.write_bytes(b"[SOM]\r\n" + ADT.encode() + b"[SOM]\r\n" + DFT.encode())
    [admission, report] = ingest(tmp_path, path)
    assert admission["status"] == "processed"
    assert codes(admission) == [("MARKER_SKIPPED", "warning")]
    assert report["format"] == "hl7v2"
    assert report["status"] == "processed"
    assert codes(report) == [
        ("DERIVED_AMOUNT", "info"),
        ("DERIVED_AMOUNT", "info"),
        ("MARKER_SKIPPED", "warning"),
    ]
    journals = json.loads(run(tmp_path, "journals", "--json").stdout)
    revenue = sum(
        Decimal(line["credit"]) - Decimal(line["debit"])
        for journal in journals
        for line in journal["lines"]
        if line["role"] == "gross_revenue"
    )
    assert revenue == Decimal("135.10")  # 2 x 62.55 + 1 x 10.00
    items = run(tmp_path, "exceptions", "--json")
    no_phi(items.stdout, items.stderr)
    assert sorted(i["code"] for i in json.loads(items.stdout)) == [
        "DERIVED_AMOUNT",
        "DERIVED_AMOUNT",
        "MARKER_SKIPPED",
        "MARKER_SKIPPED",
    ]


@pytest.mark.parametrize(
    "name", ["badx12__X221-multiple-claims-single-check.edi", "lfh_x12__medicare-part-a.835"]
)
def test_a_bare_835_posts_the_journals_of_the_enveloped_one(tmp_path: Path, corpus: Path, name: str) -> None:
    enveloped = (corpus / "x12_835" / name).read_bytes()
    bare_file = tmp_path / "bare.835"
    bare_file.write_bytes(bare(enveloped))
    assert bare_file.read_bytes().lstrip().startswith(b"ST*835*")
    [first] = ingest(tmp_path / "a", corpus / "x12_835" / name)
    [second] = ingest(tmp_path / "b", bare_file)
    assert (first["status"], second["status"]) == ("processed", "processed")
    assert ("MISSING_ENVELOPE", "warning") in codes(second)
    assert {c for c in codes(second) if c[0] != "MISSING_ENVELOPE"} == set(codes(first))
    journals_a = json.loads(run(tmp_path / "a", "journals", "--json").stdout)
    journals_b = json.loads(run(tmp_path / "b", "journals", "--json").stdout)
    assert journals_a
    for a, b in zip(journals_a, journals_b, strict=True):  # the same journals; only the clock differs
        assert {k: v for k, v in a.items() if k != "posted_at"} == {
            k: v for k, v in b.items() if k != "posted_at"
        }
    again = json.loads(run(tmp_path / "b", "ingest", "--json", str(bare_file)).stdout)
    assert [m["status"] for m in again] == ["duplicate"]


def test_an_eob_that_posts_nothing_leaves_an_info_work_item(tmp_path: Path) -> None:
    path = tmp_path / "eob.json"
    path.write_text(json.dumps(EOB))
    [report] = ingest(tmp_path, path)
    assert report["status"] == "ignored"
    assert codes(report) == [("NOTHING_TO_POST", "info")]
    items = run(tmp_path, "exceptions", "--json")
    no_phi(items.stdout, items.stderr)
    [item] = json.loads(items.stdout)
    assert (item["code"], item["severity"], item["locator"]) == (
        "NOTHING_TO_POST",
        "info",
        "ExplanationOfBenefit",
    )
    assert "no payment" in item["message"]


def test_the_drop_folder_stores_these_files_and_rejects_only_what_is_no_message(
    tmp_path: Path, corpus: Path
) -> None:
    rt = build_runtime(f"sqlite:///{tmp_path / 'dir.db'}", tmp_path)
    try:
        source = DirectorySource(
            inbox=tmp_path / "drop" / "inbox",
            handler=lambda data, name: rt.intake.receive(data, channel=f"file:{name}"),
        )
        source.prepare()
        enveloped = (corpus / "x12_835/lfh_x12__medicare-part-a.835").read_bytes()
        files = {
            "marked.hl7": b"[SOM]" + DFT.encode(),
            "bare.835": bare(enveloped),
            "notes.txt": b"ZZSENTINELNAME called about MRN8675309\n",
            "empty.txt": b"",
        }
        for name, data in files.items():
            (source.inbox / name).write_bytes(data)
            (source.inbox / f"{name}.ready").write_text("")
        assert source.scan_once() == 4
        assert sorted(p.name for p in source.done.iterdir()) == ["bare.835", "marked.hl7"]
        assert sorted(p.name for p in source.rejected.iterdir()) == [
            "empty.txt",
            "empty.txt.reason",
            "notes.txt",
            "notes.txt.reason",
        ]
        assert (source.rejected / "notes.txt").read_bytes() == files["notes.txt"]  # kept as received
        reason = (source.rejected / "notes.txt.reason").read_text()
        assert "no HL7 v2 MSH, X12 ISA or ST, or JSON" in reason
        no_phi(reason)
        assert list(source.inbox.iterdir()) == []
        assert queue.counts(rt.db)["pending"] == 2
    finally:
        rt.close()
