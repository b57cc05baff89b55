"""Maker-checker on configuration (issue 9): with require_approval on, `config apply` only
proposes; the proposer cannot approve; an approver key held by someone else can; and every step
is in the audit chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home), "REVBRIDGE_REQUIRE_APPROVAL": "true", "COLUMNS": "200"}
    env.pop("REVBRIDGE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args], capture_output=True, text=True, env=env, timeout=120
    )


def key(home: Path, role: str) -> str:
    result = run(home, "apikey", "create", "--role", role, "--json")
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["key"])


def test_config_apply_needs_a_second_person_with_the_approver_role(tmp_path: Path) -> None:
    steward, approver, other_steward = (
        key(tmp_path, "steward"),
        key(tmp_path, "approver"),
        key(tmp_path, "steward"),
    )
    proposed = run(tmp_path, "config", "apply", "--api-key", steward, "--note", "new payer", "--json")
    assert proposed.returncode == 0, proposed.stderr
    version = json.loads(proposed.stdout)
    assert version["status"] == "proposed"
    number = str(version["version"])

    # no key at all, a steward (lacks config.approve) and the proposer are all refused
    assert "approver role" in run(tmp_path, "config", "approve", number).stderr
    refused = run(tmp_path, "config", "approve", number, "--api-key", other_steward)
    assert refused.returncode == 2 and "config.approve" in refused.stderr
    both = key(tmp_path, "steward,approver")
    own = run(tmp_path, "config", "apply", "--api-key", both, "--json")
    own_number = str(json.loads(own.stdout)["version"])
    self_approval = run(tmp_path, "config", "approve", own_number, "--api-key", both)
    assert self_approval.returncode == 2 and "maker-checker" in self_approval.stderr

    approved = run(
        tmp_path, "config", "approve", number, "--api-key", approver, "--json", "--reason", "reviewed"
    )
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["status"] == "approved"
    assert run(tmp_path, "config", "approve", number, "--api-key", approver).returncode == 2  # not twice

    listed = {v["version"]: v for v in json.loads(run(tmp_path, "config", "list", "--json").stdout)}
    assert listed[int(number)]["approved_by"] != listed[int(number)]["proposed_by"]
    verified = json.loads(run(tmp_path, "audit", "verify", "--json").stdout)
    assert verified["intact"]
    assert verified["entries"] >= 7  # 5 key creations, bootstrap config, 2 proposals, 1 approval
