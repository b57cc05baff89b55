"""The CLI as a new user meets it: one clear line and a non-zero exit on bad input, JSON shapes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REDOX = "hl7v2/redox__DFT_P03_parser_spec_cr.hl7"
REPO = Path(__file__).resolve().parents[2]


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "200"}
    env.pop("REVBRIDGE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args], capture_output=True, text=True, env=env, timeout=120
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("created a local")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_file(tmp_path: Path) -> None:
    result = run(tmp_path, "ingest", str(tmp_path / "nope.hl7"))
    assert result.returncode == 2
    assert one_line_error(result) == f"revbridge: error: {tmp_path / 'nope.hl7'}: no such file or directory"


def test_unknown_format_option(tmp_path: Path, corpus: Path) -> None:
    result = run(tmp_path, "ingest", "--format", "edifact", str(corpus / REDOX))
    assert result.returncode == 2
    assert "unknown format 'edifact'" in one_line_error(result)


def test_undetectable_file(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just some notes\n")
    result = run(tmp_path, "ingest", str(junk))
    assert result.returncode == 2
    assert "cannot tell the format" in one_line_error(result)


def test_unreachable_database(tmp_path: Path, corpus: Path) -> None:
    result = run(
        tmp_path, "ingest", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/none", str(corpus / REDOX)
    )
    assert result.returncode == 2
    assert "database unreachable" in one_line_error(result)


def test_a_directory_skips_what_is_not_a_message_and_says_so(tmp_path: Path, corpus: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "README.txt").write_text("not a message")
    (inbox / "dft.hl7").write_bytes((corpus / REDOX).read_bytes())
    result = run(tmp_path / "home", "ingest", "--json", str(inbox))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [r["status"] for r in report] == ["pending", "rejected"]
    assert report[1]["file"].endswith("README.txt")


def test_ingest_json_shape_and_duplicates(tmp_path: Path, corpus: Path) -> None:
    first = json.loads(run(tmp_path, "ingest", "--json", "--process", str(corpus / REDOX)).stdout)
    again = json.loads(run(tmp_path, "ingest", "--json", str(corpus / REDOX)).stdout)
    assert len(first) == 1
    assert set(first[0]) >= {"message_id", "format", "status", "duplicate_of", "problems"}
    assert first[0]["format"] == "hl7v2"
    assert again[0]["status"] == "duplicate"
    assert again[0]["duplicate_of"] == first[0]["message_id"]
    status = json.loads(run(tmp_path, "status", "--json").stdout)
    assert status["messages"]["duplicate"] == 1
    assert {"processed", "excepted", "ignored", "duplicate", "pending"} <= set(status["messages"])


@pytest.mark.parametrize("command", [["status"], ["exceptions"], ["db", "upgrade"]])
def test_every_command_takes_db(tmp_path: Path, command: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    if command != ["db", "upgrade"]:
        assert run(tmp_path, "db", "upgrade", "--db", url).returncode == 0
    result = run(tmp_path, *command, "--db", url)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere.db").exists()


def test_a_new_sqlite_file_named_with_db_is_created_at_the_current_schema(
    tmp_path: Path, corpus: Path
) -> None:
    """Like the default embedded store: no `revbridge db upgrade` first."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = run(tmp_path, "ingest", "--process", "--json", str(corpus / REDOX), "--db", url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["format"] == "hl7v2"
    status = json.loads(run(tmp_path, "status", "--json", "--db", url).stdout)
    assert sum(status["messages"].values()) == 1
    assert not (tmp_path / "revbridge.db").exists()  # the default store was not touched


def test_a_sqlite_file_at_an_old_schema_is_upgraded_by_the_next_command(tmp_path: Path) -> None:
    from revbridge.store import Database, migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database.open(url, null_pool=True)
    try:
        migrate.upgrade(db, "0005")
        assert migrate.current(db) == "0005"
        result = run(tmp_path, "status", "--json", "--db", url)
        assert result.returncode == 0, result.stderr
        assert migrate.is_current(db)
    finally:
        db.close()


def test_postgresql_keeps_explicit_upgrades(tmp_path: Path) -> None:
    from pgdb import create_pg_database, drop_pg_database

    url = create_pg_database("rbcli")
    try:
        result = run(tmp_path, "status", "--db", url)
        assert result.returncode == 2
        assert "run `revbridge db upgrade`" in one_line_error(result)
        assert run(tmp_path, "db", "upgrade", "--db", url).returncode == 0
        assert run(tmp_path, "status", "--db", url).returncode == 0
    finally:
        drop_pg_database(url)


def test_work_items_are_resolved_and_ignored_from_the_cli_with_an_audit_entry(
    tmp_path: Path, corpus: Path
) -> None:
    rushmore = corpus / "x12_835/lfh_x12__managed-care.835"  # unmapped payer + a date warning
    assert run(tmp_path, "ingest", "--process", str(rushmore)).returncode == 0
    items = json.loads(run(tmp_path, "exceptions", "--json").stdout)
    by_code = {i["code"]: i["id"] for i in items}
    assert {"UNMAPPED_PAYER", "INVALID_DATE"} <= set(by_code)
    no_reason = run(tmp_path, "exceptions", "resolve", str(by_code["UNMAPPED_PAYER"]))
    assert no_reason.returncode == 2
    done = run(tmp_path, "exceptions", "resolve", str(by_code["UNMAPPED_PAYER"]), "--reason", "payer retired")
    assert done.returncode == 0 and "resolved 1 work item(s)" in done.stdout
    ignored = run(tmp_path, "exceptions", "ignore", str(by_code["INVALID_DATE"]), "--reason", "known quirk")
    assert ignored.returncode == 0 and "ignored 1 work item(s)" in ignored.stdout
    again = run(tmp_path, "exceptions", "ignore", str(by_code["INVALID_DATE"]), "--reason", "twice")
    assert again.returncode == 2 and "not open" in one_line_error(again)
    closed = {i["id"]: i for i in json.loads(run(tmp_path, "exceptions", "--status", "all", "--json").stdout)}
    assert closed[by_code["UNMAPPED_PAYER"]]["status"] == "resolved"
    assert closed[by_code["INVALID_DATE"]]["resolution"] == "known quirk"
    verified = json.loads(run(tmp_path, "audit", "verify", "--json").stdout)
    assert verified["intact"] and verified["entries"] >= 3


def test_replay_from_the_cli_posts_what_it_staged(tmp_path: Path, corpus: Path) -> None:
    rushmore = corpus / "x12_835/lfh_x12__managed-care.835"
    assert run(tmp_path, "ingest", "--process", str(rushmore)).returncode == 0
    config = tmp_path / "config"
    shutil.copytree(REPO / "examples" / "config", config)
    payers = config / "payers.yaml"
    line = '  - {code: RUSHMORE, name: Rushmore Life, class: COMMERCIAL, aliases: ["1935665544"]}\n'
    payers.write_text(payers.read_text().replace("payers:\n", "payers:\n" + line, 1))
    assert run(tmp_path, "config", "apply", str(config), "--note", "map Rushmore").returncode == 0
    replayed = json.loads(run(tmp_path, "replay", "--exception-code", "UNMAPPED_PAYER", "--json").stdout)
    assert [r["status"] for r in replayed] == ["processed"]
    journals = json.loads(run(tmp_path, "journals", "--json").stdout)
    assert [(j["status"], j["lane"]) for j in journals] == [("posted", "realtime")]
    assert json.loads(run(tmp_path, "replay", "--exception-code", "UNMAPPED_PAYER", "--json").stdout) == []


def test_status_shows_the_event_outbox_and_sftp_files(tmp_path: Path) -> None:
    """The figures the workbench overview shows too (runtime_status): unsent and sent
    announcements, and the files an SFTP source took, in `status --json` and its text."""
    from datetime import UTC, datetime, timedelta

    from revbridge.store import Database, announcements, migrate, sftp_seen

    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    db = Database.open(url, null_pool=True)
    try:
        migrate.upgrade(db)
        now = datetime.now(UTC)
        with db.transaction() as tx:
            for subject in ("j1", "j2"):
                announcements.record(tx, kind=announcements.JOURNAL_POSTED, subject=subject, data={}, now=now)
        claimed = announcements.claim(db, owner="t", now=now, lease=timedelta(seconds=60), limit=1)
        announcements.mark_sent(db, [p.seq for p in claimed], owner="t", now=now)
        sftp_seen.remember(db, "clearinghouse", sftp_seen.Taken("a.835", 1, 2, "ab" * 32, "stored"), now)
    finally:
        db.close()
    status = json.loads(run(tmp_path, "status", "--json", "--db", url).stdout)
    assert status["events_out"]["sink"] == "none"
    assert (
        status["events_out"]["pending"],
        status["events_out"]["failing"],
        status["events_out"]["sent"],
    ) == (1, 0, 1)
    assert status["sftp"]["clearinghouse"]["taken"] == {"stored": 1}
    text = run(tmp_path, "status", "--db", url).stdout
    assert "events out (none): 1 pending, 0 failing, 1 sent; oldest pending 20" in text
