"""Connectors by type: the one place a settings mapping becomes a connector.

``CONNECTORS`` maps a type name (the names master data accepts for a legal entity's
``connector.name``) to its factory. ``build`` checks a connector's settings against the type's
settings record: an unknown key is an error (a typo never falls back to a default), text from YAML
is converted to the field's type, ``limits`` holds the outbound limits, and a secret is given by
naming the environment variable that holds it (``password_env: TRYTON_PASSWORD``), looked up in
the mapping the composition root passes (configuration never holds secrets). ``Connectors``
caches one connector per (type, settings), so each legal entity's ERP keeps one client and one
set of limits however often the outbox asks, and ``routing`` serves a plain mapping of named
targets per legal entity for tests and tools:

    targets: {ledger: {type: embedded}, north: {type: tryton, url: ..., password_env: ...}}
    legal_entities: {LE02: north}
    default: ledger

Every key of every type is documented in docs/connectors.md; a test checks it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from revbridge.connectors import (
    business_central,
    dynamics_finance,
    embedded,
    file,
    infor_ion,
    netsuite,
    oracle_fusion,
    rest,
    sap_s4hana,
    tryton,
    workday,
)
from revbridge.connectors.base import Connector, Limits
from revbridge.connectors.exports import FbdiSettings
from revbridge.core.clock import Clock
from revbridge.core.errors import ConfigurationError
from revbridge.store.database import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    """What factories may take from the runtime: the store, the clock, and where secrets are."""

    db: Database
    clock: Clock
    secrets: Mapping[str, str] = field(default_factory=dict)


Factory = Callable[[str, dict[str, Any], Limits | None, Environment], Connector]
# Settings that hold secrets: configuration names the environment variable (``<key>_env``).
SECRET_KEYS = frozenset(
    {
        "password",
        "client_secret",
        "consumer_secret",
        "token_secret",
        "private_key",
        "secret_key",
        "refresh_token",
    }
)


def _convert(name: str, key: str, hint: Any, value: Any) -> Any:
    """YAML text (master data keeps scalars as text) to the settings field's type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [h for h in typing.get_args(hint) if h is not type(None)]
        return None if value is None else _convert(name, key, options[0], value)
    try:
        if hint is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("true", "yes", "on", "1")
        if hint in (int, float, str):
            return hint(value)
        if hint is Path:
            return Path(str(value))
        if origin in (Mapping, dict):
            if not isinstance(value, Mapping):
                raise TypeError("a mapping")
            return {str(k): str(v) for k, v in value.items()}
        if origin is tuple:
            if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
                raise TypeError("a list")
            return tuple(str(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"connector {name!r}: {key} must be {exc or hint}") from None
    return value


def settings_record(name: str, cls: type[Any], values: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    given: dict[str, Any] = {}
    for key, value in values.items():
        target = key.removesuffix("_env") if key.endswith("_env") else key
        if target not in fields or (key != target and target not in SECRET_KEYS):
            raise ConfigurationError(f"connector {name!r}: unknown setting {key!r}")
        if key != target:
            if str(value) not in secrets:
                raise ConfigurationError(f"connector {name!r}: environment variable {value} is not set")
            value = secrets[str(value)]
        given[target] = _convert(name, target, hints[target], value)
    try:
        return cls(**given)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"connector {name!r}: {exc}") from None


def _embedded(name: str, values: dict[str, Any], limits: Limits | None, env: Environment) -> Connector:
    if values:
        raise ConfigurationError(f"connector {name!r}: unknown settings {', '.join(sorted(values))}")
    return embedded.EmbeddedLedger(
        env.db, clock=env.clock, limits=limits or embedded.DEFAULT_LIMITS, name=name
    )


def _file(name: str, values: dict[str, Any], limits: Limits | None, env: Environment) -> Connector:
    fbdi_values = values.pop("fbdi", None)
    fbdi = None
    if fbdi_values is not None:
        if not isinstance(fbdi_values, Mapping):
            raise ConfigurationError(f"connector {name!r}: fbdi must be a mapping")
        fbdi = settings_record(f"{name}.fbdi", FbdiSettings, fbdi_values, env.secrets)
    if "directory" not in values:
        raise ConfigurationError(f"connector {name!r}: the file connector needs a directory")
    config = settings_record(name, _FileFields, values, env.secrets)
    try:
        settings = file.FileSettings(directory=config.directory, format=config.format, fbdi=fbdi)
    except ValueError as exc:
        raise ConfigurationError(f"connector {name!r}: {exc}") from None
    return file.FileExport(settings, clock=env.clock, limits=limits or file.DEFAULT_LIMITS, name=name)


@dataclass(frozen=True, slots=True, kw_only=True)
class _FileFields:
    directory: Path = Path(".")
    format: str = "csv"


def _tryton(name: str, values: dict[str, Any], limits: Limits | None, env: Environment) -> Connector:
    config = settings_record(name, tryton.TrytonSettings, values, env.secrets)
    return tryton.TrytonConnector(config, limits=limits or tryton.DEFAULT_LIMITS, name=name)


def _rest(name: str, values: dict[str, Any], limits: Limits | None, env: Environment) -> Connector:
    config = settings_record(name, rest.RestSettings, values, env.secrets)
    try:
        return rest.RestConnector(config, limits=limits or Limits(), clock=env.clock, name=name)
    except ValueError as exc:
        raise ConfigurationError(f"connector {name!r}: {exc}") from None


def _cloud(settings_type: type[Any], connector_type: Callable[..., Connector], defaults: Limits) -> Factory:
    """The factory of a cloud ERP connector: its settings record, its default limits, the clock."""

    def factory(name: str, values: dict[str, Any], limits: Limits | None, env: Environment) -> Connector:
        config = settings_record(name, settings_type, values, env.secrets)
        try:
            return connector_type(config, limits=limits or defaults, clock=env.clock, name=name)
        except ValueError as exc:
            raise ConfigurationError(f"connector {name!r}: {exc}") from None

    return factory


def _sap(name: str, values: dict[str, Any], limits: Limits | None, env: Environment) -> Connector:
    """SAP S/4HANA: a cloud factory that also hands the connector the store, where the
    confirmations SAP pushes to revbridge's endpoint are kept for its ``check``."""
    config = settings_record(name, sap_s4hana.SapSettings, values, env.secrets)
    return sap_s4hana.SapS4HanaConnector(
        config, db=env.db, limits=limits or sap_s4hana.DEFAULT_LIMITS, clock=env.clock, name=name
    )


CONNECTORS: Mapping[str, Factory] = MappingProxyType(
    {
        "embedded": _embedded,
        "file": _file,
        "tryton": _tryton,
        "rest": _rest,
        "oracle_fusion": _cloud(
            oracle_fusion.OracleFusionSettings,
            oracle_fusion.OracleFusionConnector,
            oracle_fusion.DEFAULT_LIMITS,
        ),
        "business_central": _cloud(
            business_central.BusinessCentralSettings,
            business_central.BusinessCentralConnector,
            business_central.DEFAULT_LIMITS,
        ),
        "dynamics_finance": _cloud(
            dynamics_finance.DynamicsFinanceSettings,
            dynamics_finance.DynamicsFinanceConnector,
            dynamics_finance.DEFAULT_LIMITS,
        ),
        "netsuite": _cloud(netsuite.NetsuiteSettings, netsuite.NetsuiteConnector, netsuite.DEFAULT_LIMITS),
        "infor_ion": _cloud(
            infor_ion.InforIonSettings, infor_ion.InforIonConnector, infor_ion.DEFAULT_LIMITS
        ),
        "workday": _cloud(workday.WorkdaySettings, workday.WorkdayConnector, workday.DEFAULT_LIMITS),
        "sap_s4hana": _sap,
    }
)
# The settings record of each type, for documentation and its test.
SETTINGS: Mapping[str, tuple[type[Any], ...]] = MappingProxyType(
    {
        "embedded": (),
        "file": (_FileFields, FbdiSettings),
        "tryton": (tryton.TrytonSettings,),
        "rest": (rest.RestSettings,),
        "oracle_fusion": (oracle_fusion.OracleFusionSettings,),
        "business_central": (business_central.BusinessCentralSettings,),
        "dynamics_finance": (dynamics_finance.DynamicsFinanceSettings,),
        "netsuite": (netsuite.NetsuiteSettings,),
        "infor_ion": (infor_ion.InforIonSettings,),
        "workday": (workday.WorkdaySettings,),
        "sap_s4hana": (sap_s4hana.SapSettings,),
    }
)


def build(kind: str, settings: Mapping[str, Any], env: Environment, *, name: str | None = None) -> Connector:
    """A connector of ``kind`` from its settings mapping (``type`` and ``limits`` may be in it)."""
    label = name or kind
    factory = CONNECTORS.get(kind)
    if factory is None:
        raise ConfigurationError(
            f"connector {label!r}: unknown type {kind!r}; one of {', '.join(CONNECTORS)}"
        )
    values = {k: v for k, v in settings.items() if k not in ("type", "limits")}
    limits = None
    if settings.get("limits") is not None:
        if not isinstance(settings["limits"], Mapping):
            raise ConfigurationError(f"connector {label!r}: limits must be a mapping")
        limits = settings_record(f"{label}.limits", Limits, settings["limits"], {})
    return factory(label, values, limits, env)


def check(kind: str, settings: Mapping[str, Any], *, name: str | None = None) -> None:
    """Check a connector's settings as ``build`` would (known keys, types, required values,
    ``limits``) without building it or needing its secrets: a ``<key>_env`` setting only has to
    name a variable. Raises ConfigurationError naming the setting."""
    label = name or kind
    if kind not in CONNECTORS:
        raise ConfigurationError(
            f"connector {label!r}: unknown type {kind!r}; one of {', '.join(CONNECTORS)}"
        )
    values = {k: v for k, v in settings.items() if k not in ("type", "limits", "fbdi")}
    named = {str(v): "placeholder" for k, v in values.items() if k.endswith("_env")}
    if settings.get("limits") is not None:
        if not isinstance(settings["limits"], Mapping):
            raise ConfigurationError(f"connector {label!r}: limits must be a mapping")
        settings_record(f"{label}.limits", Limits, settings["limits"], {})
    records = [r for r in SETTINGS[kind] if r is not FbdiSettings]
    if records:
        settings_record(label, records[0], values, named)


def thaw(value: Any) -> Any:
    """Master data's frozen settings (mappings as tuples of pairs, lists as tuples) as plain values."""
    if isinstance(value, tuple):
        pairs = [v for v in value if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)]
        if value and len(pairs) == len(value):
            return {pair[0]: thaw(pair[1]) for pair in pairs}
        return [thaw(v) for v in value]
    return value


class Connectors:
    """One connector per (type, settings): ``get("tryton", settings)`` from each legal entity's
    configuration returns the same instance while its settings stay the same."""

    def __init__(self, env: Environment) -> None:
        self._env = env
        self._lock = threading.Lock()
        self._built: dict[tuple[str, str], Connector] = {}

    def get(self, kind: str, settings: Mapping[str, Any]) -> Connector:
        key = (kind, json.dumps(settings, sort_keys=True, default=str))
        with self._lock:
            if key not in self._built:
                self._built[key] = build(kind, settings, self._env)
            return self._built[key]

    def close(self) -> None:
        with self._lock:
            for connector in self._built.values():
                connector.close()
            self._built.clear()


class Router:
    """``connector_for(legal_entity)``: the target configured for a legal entity, else the default."""

    def __init__(
        self, targets: Mapping[str, Connector], legal_entities: Mapping[str, str], default: str
    ) -> None:
        missing = sorted({t for t in (*legal_entities.values(), default) if t not in targets})
        if missing:
            raise ConfigurationError(f"no connector target named {', '.join(missing)}")
        self.targets = dict(targets)
        self.legal_entities = dict(legal_entities)
        self.default = default

    def name_for(self, legal_entity: str) -> str:
        return self.targets[self.legal_entities.get(legal_entity, self.default)].name

    def __call__(self, legal_entity: str) -> Connector:
        return self.targets[self.legal_entities.get(legal_entity, self.default)]

    def close(self) -> None:
        for connector in self.targets.values():
            connector.close()


def routing(config: Mapping[str, Any] | None, env: Environment) -> Router:
    """The router for a ``targets``/``legal_entities``/``default`` mapping; none: all to embedded."""
    config = config or {}
    unknown = sorted(set(config) - {"targets", "legal_entities", "default"})
    if unknown:
        raise ConfigurationError(f"connectors: unknown settings {', '.join(unknown)}")
    targets_config = config.get("targets") or {"embedded": {"type": "embedded"}}
    targets = {
        name: build((settings or {}).get("type", name), settings or {}, env, name=name)
        for name, settings in targets_config.items()
    }
    default = config.get("default") or ("embedded" if "embedded" in targets else next(iter(targets)))
    return Router(targets, config.get("legal_entities") or {}, default)
