"""The connector registry: settings checked and converted, secrets by name, routing, docs."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from revbridge.connectors import registry
from revbridge.connectors.base import Limits
from revbridge.connectors.embedded import EmbeddedLedger
from revbridge.connectors.exports import CSV_COLUMNS
from revbridge.connectors.file import FileExport
from revbridge.connectors.rest import RestConnector
from revbridge.connectors.tryton import TrytonConnector
from revbridge.core.clock import FixedClock, SystemClock
from revbridge.core.errors import ConfigurationError
from revbridge.masterdata.model import KNOWN_CONNECTORS
from revbridge.store import Database

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "connectors.md"


@pytest.fixture
def env():  # type: ignore[no-untyped-def]
    engine = Database.open("sqlite://")
    yield registry.Environment(
        db=engine, clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), secrets={"TRYTON_PW": "s3cret"}
    )
    engine.close()


def test_every_type_master_data_accepts_is_registered() -> None:
    assert set(registry.CONNECTORS) == KNOWN_CONNECTORS


def test_yaml_text_becomes_typed_settings_and_limits(env: registry.Environment, tmp_path: Path) -> None:
    connector = registry.build(
        "tryton",
        {
            "url": "http://erp:8000",
            "database": "hosp",
            "password_env": "TRYTON_PW",
            "company": "2",
            "timeout": "12.5",
            "accounts": {"1010": "1.1.1"},
            "limits": {"rate_per_second": "10", "burst": "5", "concurrency": "2"},
        },
        env,
    )
    assert isinstance(connector, TrytonConnector)
    s = connector.settings
    assert (s.password, s.company, s.timeout, dict(s.accounts)) == ("s3cret", 2, 12.5, {"1010": "1.1.1"})
    assert connector.limits == dataclasses.replace(Limits(), rate_per_second=10.0, burst=5, concurrency=2)
    exported = registry.build(
        "file",
        {
            "directory": str(tmp_path),
            "format": "fbdi",
            "fbdi": {"ledger_ids": {"LE01": 300}, "segments": ["account"]},
        },
        env,
        name="oracle",
    )
    assert isinstance(exported, FileExport) and exported.name == "oracle"
    assert exported.settings.fbdi is not None and exported.settings.fbdi.ledger_ids == {"LE01": "300"}
    assert exported.settings.fbdi.segments == ("account",)
    assert isinstance(registry.build("embedded", {}, env), EmbeddedLedger)
    rest = registry.build("rest", {"base_url": "http://erp", "client_secret_env": "TRYTON_PW"}, env)
    assert isinstance(rest, RestConnector) and rest.settings.client_secret == "s3cret"
    rest.close()
    connector.close()


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("sap", {}, "unknown type 'sap'"),
        ("embedded", {"url": "x"}, "unknown settings url"),
        ("tryton", {"url": "u", "database": "d", "pasword": "x"}, "unknown setting 'pasword'"),
        ("tryton", {"url": "u", "database": "d", "url_env": "X"}, "unknown setting 'url_env'"),
        ("tryton", {"url": "u", "database": "d", "password_env": "MISSING"}, "MISSING is not set"),
        ("tryton", {"url": "u", "database": "d"}, "password"),
        ("tryton", {"url": "u", "database": "d", "password": "p", "timeout": "soon"}, "timeout must be"),
        ("file", {"format": "csv"}, "needs a directory"),
        ("file", {"directory": "/tmp", "format": "xlsx"}, "file format must be one of"),
        ("file", {"directory": "/tmp", "format": "fbdi"}, "fbdi settings"),
        ("file", {"directory": "/tmp", "fbdi": {"ledger_ids": {}, "segments": ["mrn"]}}, "FBDI segments"),
        ("rest", {"base_url": "u", "client_auth": "digest"}, "client_auth"),
        ("rest", {"base_url": "u", "limits": {"rate": 5}}, "unknown setting 'rate'"),
        ("rest", {"base_url": "u", "limits": 5}, "limits must be a mapping"),
    ],
)
def test_bad_settings_are_configuration_errors(
    env: registry.Environment, kind: str, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        registry.build(kind, settings, env)


def test_connectors_are_cached_per_type_and_settings(env: registry.Environment, tmp_path: Path) -> None:
    cache = registry.Connectors(env)
    settings = {"directory": str(tmp_path), "format": "csv"}
    first = cache.get("file", settings)
    assert cache.get("file", dict(settings)) is first
    assert cache.get("file", settings | {"format": "beancount"}) is not first
    cache.close()


def test_thaw_reverses_master_datas_frozen_settings() -> None:
    frozen = (
        ("accounts", (("1010", "1.1.1"),)),
        ("journal", "MISC"),
        ("segments", ("account", "legal_entity")),
    )
    assert registry.thaw(frozen) == {
        "accounts": {"1010": "1.1.1"},
        "journal": "MISC",
        "segments": ["account", "legal_entity"],
    }


def test_routing_by_legal_entity(env: registry.Environment, tmp_path: Path) -> None:
    router = registry.routing(
        {
            "targets": {
                "ledger": {"type": "embedded"},
                "exports": {"type": "file", "directory": str(tmp_path)},
            },
            "legal_entities": {"LE02": "exports"},
            "default": "ledger",
        },
        env,
    )
    assert router("LE01").name == "ledger" and router.name_for("LE02") == "exports"
    assert isinstance(router("LE02"), FileExport)
    assert isinstance(registry.routing(None, env)("LE09"), EmbeddedLedger)
    with pytest.raises(ConfigurationError, match="no connector target named nowhere"):
        registry.routing({"targets": {"ledger": {"type": "embedded"}}, "default": "nowhere"}, env)
    with pytest.raises(ConfigurationError, match="unknown settings routes"):
        registry.routing({"routes": {}}, env)
    router.close()


def test_every_connector_and_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    sections = {m.group(1): m.start() for m in re.finditer(r"^## `(\w+)`", text, re.M)}
    assert set(sections) >= set(registry.CONNECTORS)
    for kind, records in registry.SETTINGS.items():
        start = sections[kind]
        end = min([p for p in sections.values() if p > start] + [len(text)])
        section = text[start:end]
        for record in records:
            for f in dataclasses.fields(record):
                assert f"`{f.name}`" in section, f"{kind}: setting {f.name} is not documented"
    for f in dataclasses.fields(Limits):
        assert f"`{f.name}`" in text, f"limit {f.name} is not documented"
    for column in CSV_COLUMNS:
        assert f"`{column}`" in text, f"CSV column {column} is not documented"


@pytest.mark.parametrize("example", sorted((REPO / "examples" / "config" / "connectors").glob("*.yaml")))
def test_every_cloud_erp_example_builds_through_the_registry(example: Path, tmp_path: Path) -> None:
    """Each example target in examples/config/connectors is a working routing: its settings are
    known, typed right and complete, its secrets come from the environment variables it names."""
    import yaml

    config = yaml.safe_load(example.read_text(encoding="utf-8"))
    named = {
        str(value)
        for target in config["targets"].values()
        for key, value in target.items()
        if key.endswith("_env")
    }
    assert named, "an example names its secrets by environment variable"
    from netsuite_erp_setup import pem  # a PEM key where the example names one

    secrets = {name: pem() if "PRIVATE_KEY" in name else "example-secret" for name in named}
    env = registry.Environment(db=Database.open("sqlite://"), clock=SystemClock(), secrets=secrets)
    router = registry.routing(config, env)
    try:
        assert {router(le).name for le in ("MHN", "MHS")} <= set(config["targets"])
        assert {t["type"] for t in config["targets"].values()} == {example.stem}
    finally:
        router.close()
    with pytest.raises(ConfigurationError, match="environment variable"):
        registry.routing(config, registry.Environment(db=Database.open("sqlite://"), clock=SystemClock()))


def test_connector_settings_are_checked_without_their_secrets() -> None:
    good = {"base_url": "https://erp", "username": "u", "password_env": "NOT_SET_ANYWHERE", "ledger_ids": {}}
    registry.check("oracle_fusion", good)  # the variable need not be set to check the settings
    with pytest.raises(ConfigurationError, match="unknown setting 'ledger_id'"):
        registry.check("oracle_fusion", {**good, "ledger_id": "1"})
    with pytest.raises(ConfigurationError, match="account_id"):
        registry.check("netsuite", {"authentication": "tba"})
    with pytest.raises(ConfigurationError, match="unknown type 'sap'"):
        registry.check("sap", {})
    with pytest.raises(ConfigurationError, match="poll_intervall"):
        registry.check("business_central", {"tenant": "t", "client_id": "c", "limits": {"poll_intervall": 5}})
    registry.check("embedded", {})
