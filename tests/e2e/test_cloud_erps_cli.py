"""A finance team points a legal entity at a cloud ERP in its configuration, and `revbridge
reconcile` reads that ERP back (issue 15).

The reference configuration is copied and its legal entities' connector set to Oracle Fusion (the
password by environment variable, as docs/connectors.md says), applied with `revbridge config
apply`; the demo day is posted by the runtime's own outbox, which builds its connector from that
configuration; then `revbridge reconcile` in a fresh process, with only the environment variable,
reads Oracle back journal by journal and ties. A batch Oracle then holds twice (imported a second
time on the ERP side) is named by `reconcile` with both figures, and it exits 1.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import cloud_erps
import pytest
import yaml
from runtime import build_runtime

from revbridge.bootstrap import reference_config_dir
from revbridge.demo import generate
from revbridge.store import journals

BUSY = ("staged", "submitting", "accepted")


def _cli(
    home: Path, db: str, *args: str, env: dict[str, str], drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "REVBRIDGE_HOME": str(home), "COLUMNS": "220"}
    for name in ("REVBRIDGE_DB", *drop):
        full.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "revbridge", *args, "--db", db],
        capture_output=True,
        text=True,
        env=full,
        timeout=180,
    )


def _configure(tmp_path: Path, rig: cloud_erps.Rig) -> Path:
    config = tmp_path / "config"
    shutil.copytree(reference_config_dir(), config)
    path = config / "legal_entities.yaml"
    entities: Any = yaml.safe_load(path.read_text())
    settings = {k: v for k, v in rig.settings.items() if k != "type"}
    for entity in entities["legal_entities"]:
        entity["connector"] = {"name": rig.settings["type"], "settings": copy.deepcopy(settings)}
    path.write_text(yaml.safe_dump(entities, sort_keys=False))
    return config


def _post_the_day(
    tmp_path: Path, rig: cloud_erps.Rig, db: str, monkeypatch: pytest.MonkeyPatch
) -> list[journals.StoredJournal]:
    """Configure every legal entity on the rig's ERP, feed a small demo day and post it through
    the runtime's own outbox; the journals posted."""
    assert _cli(tmp_path, db, "db", "upgrade", env=rig.secrets).returncode == 0
    applied = _cli(tmp_path, db, "config", "apply", str(_configure(tmp_path, rig)), env=rig.secrets)
    assert applied.returncode == 0, applied.stderr
    for name, value in rig.secrets.items():
        monkeypatch.setenv(name, value)
    rt = build_runtime(db, tmp_path, posting=True)
    try:
        rig.attach(rt.db)  # SAP delivers its confirmations to this store's endpoint
        for message in generate(start=date(2025, 3, 3), seed=7, scale=0.05).messages:
            rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
        rt.settle(close_windows=True, post=False)
        dispatcher = rt.dispatcher()
        deadline = time.monotonic() + 120
        while any(journals.counts(rt.db)[s] for s in BUSY):
            assert time.monotonic() < deadline, journals.counts(rt.db)
            if dispatcher.run_once() == 0:
                time.sleep(0.02)
        dispatcher.close()
        return journals.list_journals(rt.db, status="posted", limit=100_000)
    finally:
        rt.close()


@pytest.mark.parametrize("kind", ["sap_s4hana", "workday", "infor_ion"])
def test_reconcile_reads_the_soap_and_xml_erps_back(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: `revbridge reconcile` in a fresh process reads SAP, Workday and Infor back."""
    with cloud_erps.started(kind) as rig:
        db = f"sqlite:///{tmp_path / 'store.db'}"
        posted = _post_the_day(tmp_path, rig, db, monkeypatch)
        assert posted and {j.connector for j in posted} == {kind}
        shown = _cli(tmp_path, db, "reconcile", "--json", env=rig.secrets)
        assert shown.returncode == 0, shown.stderr[-2000:]
        report = json.loads(shown.stdout)
        assert report["ties"] is True and report["breaks"] == []
        assert report["journals"]["by_delivery"]["acknowledged"] == len(posted), report["journals"]


def test_reconcile_reads_the_configured_cloud_erp_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cloud_erps.started("oracle_fusion") as rig:
        db = f"sqlite:///{tmp_path / 'store.db'}"
        posted = _post_the_day(tmp_path, rig, db, monkeypatch)
        assert posted and {j.connector for j in posted} == {"oracle_fusion"}

        shown = _cli(tmp_path, db, "reconcile", "--json", env=rig.secrets)
        assert shown.returncode == 0, shown.stderr[-2000:]
        report = json.loads(shown.stdout)
        assert report["ties"] is True and report["breaks"] == []
        assert report["journals"]["by_delivery"]["acknowledged"] == len(posted), report["journals"]
        assert report["journals"]["not_acknowledged"] == []

        twice = posted[0].journal
        rig.server.gl.batches.append(rig.server.batches_for(twice.id)[0])  # Oracle imported it again
        broken = _cli(tmp_path, db, "reconcile", "--json", env=rig.secrets)
        assert broken.returncode == 1
        erp = [b for b in json.loads(broken.stdout)["breaks"] if b["control"] == "erp"]
        assert erp and all(b["subject"] == f"journal {twice.id}" for b in erp)
        # without the password the ERP cannot be read back: the journals stand on their receipts,
        # and the report says so rather than claiming the ERP agreed
        blind = _cli(tmp_path, db, "reconcile", "--json", env={}, drop=tuple(rig.secrets))
        shown_blind = json.loads(blind.stdout)["journals"]["by_delivery"]
        assert shown_blind.get("acknowledged", 0) == 0 and shown_blind["receipted"] == len(posted)


def test_config_validate_names_a_wrong_erp_setting_before_anything_posts(tmp_path: Path) -> None:
    with cloud_erps.started("netsuite") as rig:
        config = _configure(tmp_path, rig)

    def validate() -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "REVBRIDGE_HOME": str(tmp_path)}
        for name in rig.secrets:  # secrets are named in the configuration, not needed to check it
            env.pop(name, None)
        command = [sys.executable, "-m", "revbridge", "config", "validate", str(config)]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    ok = validate()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    path = config / "legal_entities.yaml"
    path.write_text(path.read_text().replace("account_id:", "acount_id:"))
    bad = validate()
    assert bad.returncode == 1
    assert "legal_entities.yaml" in bad.stdout and "unknown setting 'acount_id'" in bad.stdout
