"""`revbridge golive load` through the real CLI on both backends: the whole file is checked before
anything is written, the same file loads once, a different file for the same cut-over date is
refused, and the opening journal goes out through the outbox like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from runtime import build_runtime

from revbridge.store import Database, audit, journals
from revbridge.store import golive as golive_store
from revbridge.store.facts import receivables

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "golive" / "opening-balances.csv"
AS_OF = "2025-03-02"


def run(home: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args, "--db", db_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("created a local")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _stored(db_url: str) -> tuple[int, int]:
    db = Database.open(db_url, null_pool=True)
    try:
        with db.reading() as tx:
            loads = len(golive_store.loads(tx))
        return loads, len(journals.list_journals(db, limit=1000))
    finally:
        db.close()


def test_golive_load_posts_once_and_refuses_another_file(db_url: str, tmp_path: Path) -> None:
    build_runtime(db_url, tmp_path, posting=True).close()  # the reference configuration, applied
    bad = tmp_path / "bad.csv"
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([*lines[:4], "MHN,MHN-STJ,PLATINUM,SENTINEL-ACCT-77,10.00", *lines[4:]]) + "\n")
    refused = run(tmp_path, db_url, "golive", "load", str(bad), "--as-of", AS_OF)
    assert refused.returncode == 2
    assert one_line_error(refused) == (
        "revbridge: error: line 5: payer_class is not a configured payer class; nothing was loaded"
    )
    assert "SENTINEL" not in refused.stderr + refused.stdout
    assert _stored(db_url) == (0, 0), "nothing is stored on any error"

    first = run(tmp_path, db_url, "golive", "load", str(EXAMPLE), "--as-of", AS_OF, "--json")
    assert first.returncode == 0, first.stderr
    loaded = json.loads(first.stdout)
    assert loaded["new"] is True
    assert [(e["legal_entity"], e["rows"], e["total"]) for e in loaded["legal_entities"]] == [
        ("MHN", 4, "24297.95"),
        ("MHS", 3, "9070.85"),
    ]
    assert _stored(db_url) == (2, 2)

    again = run(tmp_path, db_url, "golive", "load", str(EXAMPLE), "--as-of", AS_OF, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["new"] is False
    assert [e["journal_id"] for e in json.loads(again.stdout)["legal_entities"]] == [
        e["journal_id"] for e in loaded["legal_entities"]
    ]
    assert _stored(db_url) == (2, 2), "the same file posts once"

    other = tmp_path / "other.csv"
    other.write_text("\n".join(lines[:3]) + "\n")
    different = run(tmp_path, db_url, "golive", "load", str(other), "--as-of", AS_OF)
    assert different.returncode == 2
    assert one_line_error(different) == (
        f"revbridge: error: an opening position for {AS_OF} was already loaded from a different file "
        "(MHN, MHS); --replace reverses it first"
    )
    assert _stored(db_url) == (2, 2)

    listed = run(tmp_path, db_url, "golive", "list", "--json")
    assert [(r["as_of"], r["legal_entity"]) for r in json.loads(listed.stdout)] == [
        (AS_OF, "MHN"),
        (AS_OF, "MHS"),
    ]

    # the outbox posts the opening journal to the embedded ERP exactly once
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        rt.settle(close_windows=True)
        rt.settle(close_windows=True)
        posted = journals.list_journals(rt.db, limit=1000)
    finally:
        rt.close()
    assert sorted(j.status for j in posted) == ["posted", "posted"]
    assert all(j.erp_document for j in posted)


def test_a_bad_date_or_a_missing_file_is_a_one_line_error(db_url: str, tmp_path: Path) -> None:
    bad_date = run(tmp_path, db_url, "golive", "load", str(EXAMPLE), "--as-of", "03/02/2025")
    assert bad_date.returncode == 2
    assert one_line_error(bad_date) == "revbridge: error: --as-of '03/02/2025' is not a date (YYYY-MM-DD)"
    missing = run(tmp_path, db_url, "golive", "load", str(tmp_path / "nope.csv"), "--as-of", AS_OF)
    assert missing.returncode == 2
    assert one_line_error(missing) == f"revbridge: error: {tmp_path / 'nope.csv'}: no such file"


def _receivables(db_url: str) -> dict[tuple[str, str], str]:
    db = Database.open(db_url, null_pool=True)
    try:
        with db.reading() as tx:
            found: dict[tuple[str, str], Decimal] = {}
            for b in receivables.balances(tx):
                key = (b.legal_entity, b.payer_class)
                found[key] = found.get(key, Decimal(0)) + b.amount.amount
        return {k: str(v) for k, v in sorted(found.items()) if v}
    finally:
        db.close()


def test_replace_reverses_the_loaded_position_and_reverse_takes_it_out(db_url: str, tmp_path: Path) -> None:
    build_runtime(db_url, tmp_path, posting=True).close()
    assert run(tmp_path, db_url, "golive", "load", str(EXAMPLE), "--as-of", AS_OF).returncode == 0
    assert _receivables(db_url) == {
        ("MHN", "COMMERCIAL"): "8312.55",
        ("MHN", "MEDICAID"): "3120.40",
        ("MHN", "MEDICARE"): "12450.00",
        ("MHN", "SELF_PAY"): "415.00",
        ("MHS", "COMMERCIAL"): "6860.10",
        ("MHS", "MEDICARE_ADV"): "2210.75",
    }
    other = tmp_path / "other.csv"
    other.write_text(
        "legal_entity,facility,payer_class,account,amount\n"
        "MHN,MHN-STJ,MEDICARE,STJ0100231,12000.00\n"
        "MHN,MHN-STJ,COMMERCIAL,STJ0100232,8312.55\n"
    )
    replaced = run(tmp_path, db_url, "golive", "load", str(other), "--as-of", AS_OF, "--replace", "--json")
    assert replaced.returncode == 0, replaced.stderr
    found = json.loads(replaced.stdout)
    assert [(e["legal_entity"], e["revision"]) for e in found["legal_entities"]] == [("MHN", 1)]
    assert [(e["legal_entity"], e["revision"]) for e in found["reversed"]] == [("MHN", 0), ("MHS", 0)]
    assert _receivables(db_url) == {("MHN", "COMMERCIAL"): "8312.55", ("MHN", "MEDICARE"): "12000.00"}

    same = run(tmp_path, db_url, "golive", "load", str(other), "--as-of", AS_OF, "--replace", "--json")
    assert json.loads(same.stdout)["new"] is False, "replacing with the loaded file changes nothing"

    gone = run(tmp_path, db_url, "golive", "reverse", "--as-of", AS_OF, "--json")
    assert gone.returncode == 0, gone.stderr
    assert [(e["legal_entity"], e["revision"]) for e in json.loads(gone.stdout)["reversed"]] == [("MHN", 1)]
    assert _receivables(db_url) == {}
    again = run(tmp_path, db_url, "golive", "reverse", "--as-of", AS_OF)
    assert one_line_error(again) == f"revbridge: error: no opening position is loaded for {AS_OF}"

    listed = json.loads(run(tmp_path, db_url, "golive", "list", "--json").stdout)
    assert [(r["legal_entity"], r["revision"], r["reversed_by"] is not None) for r in listed] == [
        ("MHN", 0, True),
        ("MHN", 1, True),
        ("MHS", 0, True),
    ]
    # every opening and reversing journal goes out through the outbox; the audit chain holds
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        rt.settle(close_windows=True)
        posted = journals.list_journals(rt.db, limit=1000)
        chain = audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)
        with rt.db.reading() as tx:
            actions = [(e.action, e.target) for e in audit.entries(tx) if e.action.startswith("golive.")]
    finally:
        rt.close()
    assert len(posted) == 6 and {j.status for j in posted} == {"posted"}
    assert chain[1] == []
    assert actions == [
        ("golive.load", f"golive:{AS_OF}:MHN:r0"),
        ("golive.load", f"golive:{AS_OF}:MHS:r0"),
        ("golive.reverse", f"golive:{AS_OF}:MHN:r0"),
        ("golive.reverse", f"golive:{AS_OF}:MHS:r0"),
        ("golive.load", f"golive:{AS_OF}:MHN:r1"),
        ("golive.reverse", f"golive:{AS_OF}:MHN:r1"),
    ]
