"""`revbridge golive load` through the real CLI on both backends: the whole file is checked before
anything is written, the same file loads once, a different file for the same cut-over date is
refused, and the opening journal goes out through the outbox like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from runtime import build_runtime

from revbridge.store import Database, journals
from revbridge.store import golive as golive_store

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
        "(MHN, MHS); a cut-over date loads once"
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
