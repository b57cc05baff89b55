"""What a torture run stands on: its folder, the configuration pointing every legal entity at the
faulty ERP, the store made ready once (schema, reference configuration, keys, an API key), and
the nodes' command lines and environments.

The configuration is the reference one (examples/config) with two changes: every legal entity
posts through the ``rest`` connector to the torture ERP (patient limits: the ERP goes down for
minutes, and a journal must outlast that rather than fail), and batch windows close after five
seconds, so batch journals are closed (by exactly one process) during the run, not after it.
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from torture_erp import SECRET
from torture_hosts import Hosts
from torture_nodes import REPO, Node, node_argv

from revbridge.bootstrap import build
from revbridge.security.roles import Role
from revbridge.settings import Settings
from revbridge.store import apikeys

SECRET_ENV = "TORTURE_ERP_SECRET"
LIMITS = {
    "rate_per_second": 400,
    "burst": 100,
    "concurrency": 4,
    "max_attempts": 10000,  # an outage of minutes must not turn journals into work items
    "backoff_base": 0.2,
    "backoff_cap": 3.0,
    "breaker_failures": 5,
    "breaker_reset": 2.0,
}


@dataclass(frozen=True)
class Layout:
    root: Path
    home: Path
    config: Path
    records: Path
    logs: Path

    @classmethod
    def make(cls, root: Path) -> Layout:
        layout = cls(root, root / "home", root / "config", root / "records", root / "logs")
        for folder in (layout.home, layout.records, layout.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return layout


def write_config(layout: Layout, erp_url: str) -> None:
    shutil.copytree(REPO / "examples" / "config", layout.config)
    entities_file = layout.config / "legal_entities.yaml"
    entities: dict[str, Any] = yaml.safe_load(entities_file.read_text(encoding="utf-8"))
    for entity in entities["legal_entities"]:
        entity["connector"] = {
            "name": "rest",
            "settings": {
                "base_url": erp_url,
                "token_url": "/oauth/token",
                "client_id": "revbridge",
                "client_secret_env": SECRET_ENV,
                "limits": dict(LIMITS),
            },
        }
    entities_file.write_text(yaml.safe_dump(entities, sort_keys=False), encoding="utf-8")
    posting_file = layout.config / "posting.yaml"
    posting: dict[str, Any] = yaml.safe_load(posting_file.read_text(encoding="utf-8"))
    posting["batch_window"]["max_age_seconds"] = 5
    posting_file.write_text(yaml.safe_dump(posting, sort_keys=False), encoding="utf-8")


def prepare_store(layout: Layout, db_url: str) -> str:
    """Schema, reference configuration and key file, made once before any node starts (nodes
    started together would race to make them); returns an ingest API key."""
    runtime = build(
        Settings(home=layout.home, db=db_url, config_dir=layout.config, log_level="WARNING"), upgrade=True
    )
    try:
        _, key = apikeys.create(
            runtime.db,
            name="torture",
            roles=(Role.SYSTEM,),
            now=runtime.clock.now(),
            actor="torture",
            anchor=None,
        )
    finally:
        runtime.close()
    return key


def common_env(layout: Layout, db_url: str, *, lease_seconds: float) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("REVBRIDGE_")},
        "PYTHONPATH": f"{REPO / 'src'}:{REPO / 'tests' / 'support'}",
        "PYTHONUNBUFFERED": "1",
        "REVBRIDGE_DB": db_url,
        "REVBRIDGE_HOME": str(layout.home),
        "REVBRIDGE_CONFIG_DIR": str(layout.config),
        "REVBRIDGE_LOG_LEVEL": "WARNING",
        "REVBRIDGE_LEASE_SECONDS": str(lease_seconds),
        "REVBRIDGE_OUTBOX_LEASE_SECONDS": str(lease_seconds),
        SECRET_ENV: SECRET,
    }


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Sizes:
    serve: int
    workers: int
    threads: int
    max_frame: int
    lease_seconds: float


def make_nodes(layout: Layout, hosts: Hosts, db_url: str, sizes: Sizes, *, python: str) -> list[Node]:
    env = common_env(layout, hosts.db_url(db_url), lease_seconds=sizes.lease_seconds)
    nodes: list[Node] = []
    for slot in range(sizes.serve):
        inbox = layout.root / f"serve-{slot}" / "inbox"  # done/ and rejected/ are its siblings
        for folder in (inbox, inbox.parent / "done", inbox.parent / "rejected"):
            folder.mkdir(parents=True, exist_ok=True)
        mllp, http = free_port("127.0.0.1"), free_port("127.0.0.1")
        serve_env = env | {
            "REVBRIDGE_HTTP_HOST": hosts.serve_ip,
            "REVBRIDGE_HTTP_PORT": str(http),
            "REVBRIDGE_MLLP_HOST": hosts.serve_ip,
            "REVBRIDGE_MLLP_PORT": str(mllp),
            "REVBRIDGE_MLLP_MAX_FRAME": str(sizes.max_frame),
            "REVBRIDGE_INBOX": str(inbox),
            "REVBRIDGE_INBOX_POLL_SECONDS": "0.2",
            "REVBRIDGE_INBOX_STABLE_SECONDS": "0.5",
        }
        argv = hosts.prefix("serve") + node_argv("serve", python=python, threads=0)
        log = layout.logs / f"serve-{slot}.log"
        nodes.append(Node("serve", slot, argv, serve_env, log, mllp_port=mllp, http_port=http, inbox=inbox))
    for slot in range(sizes.workers):
        argv = hosts.prefix("worker") + node_argv("worker", python=python, threads=sizes.threads)
        nodes.append(Node("worker", slot, argv, env, layout.logs / f"worker-{slot}.log"))
    return nodes
