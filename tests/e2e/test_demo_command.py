"""`revbridge demo` as a newcomer runs it: traffic through the real sources, every deliberate fault
caught, reconciliation ties, then the service answers /healthz until interrupted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


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
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
