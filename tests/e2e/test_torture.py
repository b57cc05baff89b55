"""The torture run at its CI size (bench/torture.py --size ci): intake and worker processes on
PostgreSQL, in two network namespaces when this machine allows it, at least ten SIGKILLs (some at
the fault points), an ERP that drops answers after committing and goes down for seconds, a
flooding and malformed sender; then the history checker. Every must-be-zero row must be zero:
nothing acknowledged lost, nothing stored or posted twice, every journal balanced and at the ERP
as recorded, reconciliation tying, everything drained."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]


def test_the_ci_sized_torture_keeps_every_promise(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.pop("REVBRIDGE_FAULTS", None)
    run = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "torture.py"), "--size", "ci", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = run.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGINT)  # it removes its namespaces, nodes and database on the way out
        out, err = run.communicate(timeout=120)
        pytest.fail(f"the torture did not finish in 420 s: {err[-4000:]}")
    assert out.strip(), err[-4000:]
    report = json.loads(out)
    rows, info = report["rows"], report["info"]
    must_be_zero = {k: v for k, v in rows.items() if k not in ("acknowledged", "stored")}
    broken = {k: v for k, v in must_be_zero.items() if v}
    shown = {k: report["examples"].get(k) for k in broken}  # only the rows that broke, whole
    states = f"messages {info.get('messages by state')}, journals {info.get('journals by state')}"
    assert not broken, f"{broken}: {json.dumps(shown)[:4000]}; {states}; {err[-3000:]}"
    assert rows["acknowledged"] == rows["stored"] > 1000
    assert info["kills in all"] >= 10
    assert info["unexpected exits"] == "none"
    assert run.returncode == 0, err[-4000:]
