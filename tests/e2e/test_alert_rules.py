"""The shipped Prometheus alert rules: promtool accepts them, their unit tests pass (each alert
fires on a lasting breach and stays quiet otherwise), the shipped file is exactly what
`revbridge alerts render` makes from the default settings, and a threshold set in settings
reaches the rules. promtool comes from Debian's prometheus package (`make system-deps`); a
missing promtool fails these tests rather than skipping them, so CI cannot pass untested rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "ops" / "prometheus"
RULES = RULES_DIR / "revbridge-alerts.yml"
TESTS = RULES_DIR / "revbridge-alerts.test.yml"


def promtool(*args: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: run `make system-deps` (Debian package prometheus)")
    return subprocess.run([found, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def render(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVBRIDGE_")} | settings
    return subprocess.run(
        [sys.executable, "-m", "revbridge", "alerts", "render", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_shipped_rules_are_what_render_makes_from_the_defaults() -> None:
    result = render()
    assert result.returncode == 0, result.stderr
    assert result.stdout == RULES.read_text(encoding="utf-8")


def test_a_threshold_from_settings_reaches_the_rules(tmp_path: Path) -> None:
    """With the backlog limit raised above the test's 20,000 messages the backlog alert no longer
    fires, so promtool's tests of the shipped thresholds fail on the rendered file."""
    out = tmp_path / RULES.name
    result = render("--out", str(out), REVBRIDGE_ALERT_BACKLOG_MESSAGES="25000")
    assert result.returncode == 0, result.stderr
    assert "max(revbridge_message_backlog) > 25000" in out.read_text(encoding="utf-8")
    shutil.copy(TESTS, tmp_path / TESTS.name)
    failed = promtool("test", "rules", TESTS.name, cwd=tmp_path)
    assert failed.returncode != 0
    assert "alertname: RevbridgeBacklogHigh" in failed.stdout + failed.stderr
    assert "alertname: RevbridgeAckSlow" not in failed.stdout + failed.stderr
