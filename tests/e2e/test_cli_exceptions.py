"""`revbridge exceptions --group` and `revbridge exceptions retry`, as a script or a person runs
them: JSON shapes, the one-line refusal, and what a retry puts back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lineformat import FORMATS
from runtime import build_runtime

from revbridge.store import queue, workitems
from revbridge.store.messages import Arrival

RUSHMORE = "x12_835/lfh_x12__managed-care.835"  # an unmapped payer and a date warning


def revbridge(home: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REVBRIDGE_DB"} | {"REVBRIDGE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args],
        capture_output=True,
        text=True,
        env=env | {"COLUMNS": str(columns)},
        timeout=120,
    )


def test_the_list_and_the_groups_fit_80_columns_without_cutting_a_code_or_an_id(
    tmp_path: Path, corpus: Path
) -> None:
    assert revbridge(tmp_path, "ingest", "--process", str(corpus / RUSHMORE)).returncode == 0
    items = json.loads(revbridge(tmp_path, "exceptions", "--json").stdout)
    assert items
    for args in (("exceptions",), ("exceptions", "--group")):
        shown = revbridge(tmp_path, *args, columns=80)
        assert shown.returncode == 0, shown.stderr
        assert "\u2026" not in shown.stdout  # Rich's cut mark
        assert max(len(line) for line in shown.stdout.splitlines()) <= 80
        for item in items:
            assert item["code"] in shown.stdout
            if args == ("exceptions",):
                assert item["message_id"] in shown.stdout


def test_group_counts_open_items_by_code_and_facility(tmp_path: Path, corpus: Path) -> None:
    assert revbridge(tmp_path, "ingest", "--process", str(corpus / RUSHMORE)).returncode == 0
    items = json.loads(revbridge(tmp_path, "exceptions", "--json").stdout)
    groups = json.loads(revbridge(tmp_path, "exceptions", "--group", "--json").stdout)
    assert sum(g["count"] for g in groups) == len(items)
    assert {(g["code"], g["facility"]) for g in groups} == {(i["code"], i["facility"]) for i in items}
    assert all(
        set(g) == {"code", "facility", "count", "oldest_created_at", "oldest_age_seconds"} for g in groups
    )
    payer = next(g for g in groups if g["code"] == "UNMAPPED_PAYER")
    assert payer["oldest_age_seconds"] >= 0
    shown = revbridge(tmp_path, "exceptions", "--group")
    assert shown.returncode == 0 and "UNMAPPED_PAYER" in shown.stdout and payer["facility"] in shown.stdout
    only = json.loads(
        revbridge(tmp_path, "exceptions", "--group", "--code", "UNMAPPED_PAYER", "--json").stdout
    )
    assert [g["code"] for g in only] == ["UNMAPPED_PAYER"]
    closed = revbridge(tmp_path, "exceptions", "--group", "--status", "resolved")
    assert closed.returncode == 2
    assert (
        closed.stderr.strip() == "revbridge: error: --group counts open work items only: leave out --status"
    )


def test_retry_puts_a_failed_message_back_and_refuses_what_needs_a_replay(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    rt = build_runtime(url, tmp_path, formats=FORMATS, max_attempts=1)
    try:
        for payload in (b"RAISE", b"BAD MISSING_AMOUNT"):
            rt.store.accept(Arrival(channel="t", format="lines", payload=payload, dedupe_key=""))
        rt.worker().drain()
        by_code = {i.code: i for i in workitems.list_items(rt.db)}
    finally:
        rt.close()
    parser, content = by_code["PARSER_FAILED"], by_code["MISSING_AMOUNT"]
    refused = revbridge(tmp_path, "exceptions", "retry", str(parser.id), str(content.id), "--db", url)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith(f"revbridge: error: work items {content.id} cannot be retried")
    done = revbridge(tmp_path, "exceptions", "retry", str(parser.id), "--db", url)
    assert done.returncode == 0, done.stderr
    assert "put back 0 journal(s) and 1 message(s); resolved 1 work item(s) as retried" in done.stdout
    rt = build_runtime(url, tmp_path, formats=FORMATS)
    try:
        assert queue.counts(rt.db)["pending"] == 1
        assert [i.code for i in workitems.list_items(rt.db)] == ["MISSING_AMOUNT"]
    finally:
        rt.close()
    again = revbridge(tmp_path, "exceptions", "retry", str(parser.id), "--db", url)
    assert again.returncode == 2 and f"not open work items: {parser.id}" in again.stderr
