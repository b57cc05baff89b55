"""Connectors by type: the one place a settings mapping becomes a connector.

``CONNECTORS`` maps a type name to its factory; ``build`` checks a target's settings (unknown keys
are an error, so a typo never silently falls back to a default) and ``routing`` builds the
per-legal-entity choice the outbox needs:

    targets:                     # instance name -> settings (``type`` picks the factory)
      ledger: {type: embedded}
      north: {type: tryton, url: "http://erp:8000", database: hosp, password: "...",
              limits: {rate_per_second: 10, concurrency: 2}}
    legal_entities: {LE02: north}  # legal entity -> target; the others go to ``default``
    default: ledger

Every key of every type is documented in docs/connectors.md (a test checks it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine

from revbridge.connectors import embedded, file, rest, tryton
from revbridge.connectors.base import Connector, Limits
from revbridge.connectors.exports import FbdiSettings
from revbridge.core.clock import Clock
from revbridge.core.errors import ConfigurationError


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    """What factories may take from the runtime."""

    engine: Engine
    clock: Clock


Factory = Callable[[str, Mapping[str, Any], Environment], Connector]
COMMON_KEYS = ("type", "limits")


def _fields(cls: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _check(name: str, settings: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(settings) - allowed - set(COMMON_KEYS))
    if unknown:
        raise ConfigurationError(f"connector {name!r}: unknown settings {', '.join(unknown)}")
    return {k: v for k, v in settings.items() if k not in COMMON_KEYS}


def limits_of(name: str, settings: Mapping[str, Any], default: Limits) -> Limits:
    given = settings.get("limits") or {}
    if not isinstance(given, Mapping):
        raise ConfigurationError(f"connector {name!r}: limits must be a mapping")
    unknown = sorted(set(given) - _fields(Limits))
    if unknown:
        raise ConfigurationError(f"connector {name!r}: unknown limits {', '.join(unknown)}")
    return dataclasses.replace(default, **given)


def _embedded(name: str, settings: Mapping[str, Any], env: Environment) -> Connector:
    _check(name, settings, set())
    limits = limits_of(name, settings, embedded.DEFAULT_LIMITS)
    return embedded.EmbeddedLedger(env.engine, clock=env.clock, limits=limits, name=name)


def _file(name: str, settings: Mapping[str, Any], env: Environment) -> Connector:
    values = _check(name, settings, _fields(file.FileSettings))
    if "directory" not in values:
        raise ConfigurationError(f"connector {name!r}: the file connector needs a directory")
    fbdi = values.get("fbdi")
    if fbdi is not None:
        unknown = sorted(set(fbdi) - _fields(FbdiSettings))
        if unknown:
            raise ConfigurationError(f"connector {name!r}: unknown fbdi settings {', '.join(unknown)}")
        given: dict[str, Any] = {k: tuple(v) if k == "segments" else v for k, v in fbdi.items()}
        try:
            fbdi = FbdiSettings(**given)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"connector {name!r}: fbdi: {exc}") from None
    try:
        config = file.FileSettings(
            directory=Path(values["directory"]), format=values.get("format", "csv"), fbdi=fbdi
        )
    except ValueError as exc:
        raise ConfigurationError(f"connector {name!r}: {exc}") from None
    limits = limits_of(name, settings, file.DEFAULT_LIMITS)
    return file.FileExport(config, clock=env.clock, limits=limits, name=name)


def _tryton(name: str, settings: Mapping[str, Any], env: Environment) -> Connector:
    values = _check(name, settings, _fields(tryton.TrytonSettings))
    try:
        config = tryton.TrytonSettings(**values)
    except TypeError as exc:
        raise ConfigurationError(f"connector {name!r}: {exc}") from None
    return tryton.TrytonConnector(config, limits=limits_of(name, settings, tryton.DEFAULT_LIMITS), name=name)


def _rest(name: str, settings: Mapping[str, Any], env: Environment) -> Connector:
    values = _check(name, settings, _fields(rest.RestSettings))
    try:
        config = rest.RestSettings(**values)
        return rest.RestConnector(config, limits=limits_of(name, settings, Limits()), name=name)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"connector {name!r}: {exc}") from None


CONNECTORS: Mapping[str, Factory] = MappingProxyType(
    {"embedded": _embedded, "file": _file, "tryton": _tryton, "rest": _rest}
)


def build(name: str, settings: Mapping[str, Any], env: Environment) -> Connector:
    kind = settings.get("type", name)
    factory = CONNECTORS.get(kind)
    if factory is None:
        raise ConfigurationError(f"connector {name!r}: unknown type {kind!r}; one of {', '.join(CONNECTORS)}")
    return factory(name, settings, env)


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
        return self.legal_entities.get(legal_entity, self.default)

    def __call__(self, legal_entity: str) -> Connector:
        return self.targets[self.name_for(legal_entity)]

    def close(self) -> None:
        for connector in self.targets.values():
            connector.close()


def routing(config: Mapping[str, Any] | None, env: Environment) -> Router:
    """The router for a ``connectors`` configuration; none given means everything to embedded."""
    config = config or {}
    unknown = sorted(set(config) - {"targets", "legal_entities", "default"})
    if unknown:
        raise ConfigurationError(f"connectors: unknown settings {', '.join(unknown)}")
    targets_config = config.get("targets") or {"embedded": {"type": "embedded"}}
    targets = {name: build(name, settings or {}, env) for name, settings in targets_config.items()}
    default = config.get("default") or ("embedded" if "embedded" in targets else next(iter(targets)))
    return Router(targets, config.get("legal_entities") or {}, default)
