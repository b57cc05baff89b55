"""`revbridge demo` as a newcomer runs it: traffic through the real sources, every deliberate fault
caught, reconciliation ties, then the service answers /healthz until interrupted."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pgdb import create_pg_database, drop_pg_database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_demo_catches_every_fault_ties_and_serves(tmp_path: Path) -> None:
    http, mllp = _free_port(), _free_port()
    env = {**os.environ, "REVBRIDGE_HOME": str(tmp_path), "REVBRIDGE_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    env.pop("REVBRIDGE_DB", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "revbridge",
            "demo",
            "--scale",
            "0.05",
            "--start",
            "2026-11-02",
            "--port",
            str(http),
            "--mllp-port",
            str(mllp),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "serving until Ctrl-C" in line:
                break
        output = "".join(lines)
        assert "serving until Ctrl-C" in output, output[-3000:]
        assert httpx.get(f"http://127.0.0.1:{http}/healthz", timeout=10).json() == {"status": "ok"}
        assert "reconciliation ties" in output
        assert "go-live opening AR as of 2026-11-01: MHN " in output, "the demo opens its books first"
        for fault in ("unknown_payer", "unmapped_department", "resent_dft", "duplicate_835", "erp_outage"):
            row = next(line for line in lines if line.strip("│ ").startswith(fault))
            assert "yes" in row, row
        assert "demo logins" in output and "workbench: http://" in output
        logins = (tmp_path / "demo" / "demo-logins.txt").read_text().split()
        admin = logins[logins.index("admin") + 1]
        status = httpx.get(f"http://127.0.0.1:{http}/api/v1/status", headers={"X-API-Key": admin}, timeout=10)
        assert status.json()["messages"]["pending"] == 0
        # the workbench's reconciliation names every facility, the 837s' billing providers included
        page = httpx.get(f"http://127.0.0.1:{http}/reconciliation", headers={"X-API-Key": admin}, timeout=30)
        assert page.status_code == 200
        assert "MHS-GEN" in page.text and "(unmapped)" not in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()


def _demo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The demo as a script or a pipe sees it: not a terminal, COLUMNS=80, the default log level."""
    env = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": "80"}
    for name in ("REVBRIDGE_DB", "REVBRIDGE_LOG_LEVEL", "REVBRIDGE_LOG_JSON"):
        env.pop(name, None)
    command = [sys.executable, "-m", "revbridge", "demo", "--scale", "0.05", "--start", "2026-11-02"]
    return subprocess.run(
        [*command, "--no-serve", "--port", str(_free_port()), "--mllp-port", str(_free_port()), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _reconcile(home: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home)}
    env.pop("REVBRIDGE_DB", None)
    found = subprocess.run(
        [sys.executable, "-m", "revbridge", "reconcile", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    report = json.loads(found.stdout)
    assert isinstance(report, dict)
    return report


def _figures(report: dict[str, object]) -> list[str]:
    """Every amount of the daily tie-out as the summary prints it (thousands separated)."""
    daily = report["daily"]
    assert isinstance(daily, list)
    return [f"{Decimal(row[name]):,}" for row in daily for name in ("source", "subledger", "acknowledged")]


@pytest.mark.slow
def test_the_demo_in_a_pipe_at_80_columns_cuts_nothing_logs_to_a_file_and_maps_every_facility(
    tmp_path: Path,
) -> None:
    result = _demo(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = result.stdout + result.stderr
    assert "reconciliation ties" in shown
    assert "…" not in shown
    paths = ("logs: ", "store: ", "later: ")  # printed whole, to be copied
    too_wide = [line for line in result.stdout.splitlines() if len(line) > 80 and not line.startswith(paths)]
    assert too_wide == []
    # no log line on the terminal: they are in the file the demo names
    assert not [line for line in shown.splitlines() if line.startswith("{")]
    log = tmp_path / "demo" / "revbridge.log"
    assert f"logs: {log}" in result.stdout
    assert '"event": "message.done"' in log.read_text()
    assert f"later: REVBRIDGE_HOME={tmp_path / 'demo'} revbridge reconcile\n" in result.stdout
    # every facility of the demo day is mapped, the 837s' billing providers included
    report = _reconcile(tmp_path / "demo")
    daily = report["daily"]
    assert isinstance(daily, list)
    facilities = {row["facility"] for row in daily}
    assert facilities == {"MHN-HOPE", "MHN-LAKE", "MHN-STJ", "MHS-BAY", "MHS-GEN", "MHS-SVH"}
    assert "(unmapped)" not in shown
    # every number whole: each amount appears as one word of the summary
    words = set(re.split(r"[\s│┃]+", shown))
    missing = [figure for figure in _figures(report) if figure not in words]
    assert missing == []


@pytest.mark.slow
@pytest.mark.postgres
def test_the_demo_runs_on_an_empty_postgresql_database_and_refuses_a_used_one(tmp_path: Path) -> None:
    url = create_pg_database("rbdemo")
    try:
        result = _demo(tmp_path, "--db", url)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "store: postgresql+psycopg://" in result.stdout
        assert f"revbridge reconcile --db {url}" in result.stdout
        assert "reconciliation ties" in result.stdout
        report = _reconcile(tmp_path / "demo", "--db", url)
        assert report["ties"] is True
        again = _demo(tmp_path, "--db", url)
        assert again.returncode == 2
        assert "the demo needs an empty database" in again.stderr
        assert "Traceback" not in again.stderr
    finally:
        drop_pg_database(url)
