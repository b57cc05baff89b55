"""JSON-safe encoding of canonical events, for the store and for replay.

Money becomes ``{"amount": "12.50", "currency": "USD"}`` (a string, never a float), dates ISO
strings. Decoding is driven by the dataclasses' own type hints, so a new event needs no codec code.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import types
import typing
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from revbridge.canonical.events import EVENT_TYPES, CanonicalEvent
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money

JsonValue = Any


def encode_value(value: object) -> JsonValue:
    # Exact types first (an ERA encodes hundreds of thousands of values); subclasses such as
    # StrEnum members and datetimes take the general path below.
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is Money:
        return {"amount": str(value.amount), "currency": value.currency}  # type: ignore[attr-defined]
    if kind is tuple or kind is list:
        return [encode_value(v) for v in value]  # type: ignore[attr-defined]
    fields = _field_reader(kind)
    if fields is not None:
        names, read = fields
        # The fields' values in one C call; the scalars (most of them) without a call of their own.
        return {
            name: v if type(v) in _AS_IS else encode_value(v)
            for name, v in zip(names, read(value), strict=True)
        }
    return _encode_other(value)


_AS_IS = frozenset({str, int, bool, type(None)})


def _encode_other(value: object) -> JsonValue:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, SourceRef):
        return {"message_id": value.message_id, "locator": value.locator}
    if isinstance(value, tuple | list):
        return [encode_value(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__}")


def _field_reader(kind: type) -> tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]] | None:
    """A dataclass's field names and a reader of their values as one tuple (SourceRef has its own
    shape), or None for anything else."""
    try:
        return _FIELDS[kind]
    except KeyError:
        reader = None
        if kind is not SourceRef and dataclasses.is_dataclass(kind):
            names = tuple(f.name for f in dataclasses.fields(kind))
            get = operator.attrgetter(*names) if names else (lambda _v: ())
            read = get if len(names) != 1 else (lambda v, get=get: (get(v),))
            reader = (names, read)
        _FIELDS[kind] = reader
        return reader


_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]] | None] = {}


def encode(event: CanonicalEvent) -> dict[str, JsonValue]:
    body: dict[str, JsonValue] = encode_value(event)
    return {"type": type(event).__name__, **body}


def dumps(event: CanonicalEvent) -> str:
    return json.dumps(encode(event), sort_keys=True, separators=(",", ":"))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode_value(hint: Any, raw: JsonValue) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw is None:
            return None
        if len(args) != 1:
            raise TypeError(f"ambiguous union {hint}")
        return decode_value(args[0], raw)
    if origin is tuple:
        (inner, _ellipsis) = typing.get_args(hint)
        return tuple(decode_value(inner, v) for v in raw)
    if hint is Money:
        return Money(Decimal(raw["amount"]), raw["currency"])
    if hint is Decimal:
        return Decimal(raw)
    if hint is date:
        return date.fromisoformat(raw)
    if hint is SourceRef:
        return SourceRef(raw["message_id"], raw["locator"])
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_dataclass(hint, raw)
    if hint in (str, int, bool):
        return raw
    if getattr(hint, "__supertype__", None) is str:  # NewType over str
        return raw
    raise TypeError(f"cannot decode {hint}")


def _decode_dataclass(cls: type, raw: dict[str, JsonValue]) -> Any:
    hints = _hints(cls)
    kwargs = {
        f.name: decode_value(hints[f.name], raw[f.name]) for f in dataclasses.fields(cls) if f.name in raw
    }
    return cls(**kwargs)


def decode(raw: dict[str, JsonValue]) -> CanonicalEvent:
    try:
        cls = EVENT_TYPES[raw["type"]]
    except KeyError:
        raise ValueError(f"unknown event type {raw.get('type')!r}") from None
    body = {k: v for k, v in raw.items() if k != "type"}
    event: CanonicalEvent = _decode_dataclass(cls, body)
    return event


def loads(text: str) -> CanonicalEvent:
    return decode(json.loads(text))
