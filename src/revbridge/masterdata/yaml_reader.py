"""Located YAML: read configuration files so that every error names its file and line.

Files are composed with ``yaml.SafeLoader`` into nodes (never constructed with an unsafe loader)
and read through a ``Reader`` that checks shapes and collects ``ConfigError``s instead of raising,
like beancount's loader: one run reports every mistake in a directory. Scalars are read from
their source text, so an unquoted ``1015`` is the account "1015" and an NPI keeps its leading
zeros; booleans and nulls where text is expected are errors (YAML 1.1 reads ``NO`` as false).
Anchors and aliases are refused: configuration is reviewed as text, and what a reviewer reads
must be what is applied.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

E = TypeVar("E", bound=StrEnum)

MAX_FILE_BYTES = 4 * 1024 * 1024

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True, slots=True, order=True)
class ConfigError:
    file: str
    line: int  # 1-based; 0 when the error is about the file as a whole
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def compose(file: str, text: str) -> tuple[Node | None, list[ConfigError]]:
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return None, [ConfigError(file, 0, 0, f"file is larger than {MAX_FILE_BYTES} bytes")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        return None, [ConfigError(file, line, column, f"not valid YAML: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, [ConfigError(file, 0, 0, f"not valid YAML: {exc}")]
    if node is None:
        return None, [ConfigError(file, 0, 0, "file is empty")]
    errors: list[ConfigError] = []
    _refuse_aliases(file, node, set(), errors)
    return (None if errors else node), errors


def _refuse_aliases(file: str, node: Node, seen: set[int], errors: list[ConfigError]) -> None:
    # An alias composes to the very node its anchor made; meeting a node twice means an alias.
    if id(node) in seen:
        mark = node.start_mark
        errors.append(
            ConfigError(file, mark.line + 1, mark.column + 1, "anchors and aliases are not supported")
        )
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        for key, value in node.value:
            _refuse_aliases(file, key, seen, errors)
            _refuse_aliases(file, value, seen, errors)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _refuse_aliases(file, item, seen, errors)


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {_BOOL: "a boolean", _NULL: "an empty value", _INT: "a number", _FLOAT: "a number"}.get(
        node.tag, "text"
    )


class Reader:
    """Shape checks for one file's nodes. Every method returns None after recording an error."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []

    def error(self, node: Node | None, message: str) -> None:
        if node is None:
            self.errors.append(ConfigError(self.file, 0, 0, message))
        else:
            mark = node.start_mark
            self.errors.append(ConfigError(self.file, mark.line + 1, mark.column + 1, message))

    def mapping(
        self, node: Node, *, required: Collection[str] = (), optional: Collection[str] = (), what: str = ""
    ) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.error(node, f"expected a mapping{' for ' + what if what else ''}, got {_kind(node)}")
            return None
        allowed = set(required) | set(optional)
        found: dict[str, Node] = {}
        ok = True
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or key.tag != _STR:
                self.error(key, "keys must be plain words")
                ok = False
                continue
            if key.value in found:
                self.error(key, f"duplicate key '{key.value}'")
                ok = False
            elif key.value not in allowed:
                self.error(key, f"unknown key '{key.value}'" + _expected(allowed, what))
                ok = False
            found[key.value] = value
        missing = [k for k in required if k not in found]
        for name in missing:
            self.error(node, f"missing key '{name}'{' in ' + what if what else ''}")
        return found if ok and not missing else None

    def sequence(self, node: Node, what: str = "") -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.error(node, f"expected a list{' of ' + what if what else ''}, got {_kind(node)}")
            return None
        return list(node.value)

    def text(self, node: Node, what: str = "", *, allow_empty: bool = False) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag not in (_STR, _INT, _FLOAT, _TIMESTAMP):
            hint = " (quote it)" if isinstance(node, ScalarNode) and node.tag == _BOOL else ""
            self.error(node, f"expected text{' for ' + what if what else ''}, got {_kind(node)}{hint}")
            return None
        value = str(node.value).strip()
        if not value and not allow_empty:
            self.error(node, f"{what or 'value'} must not be empty")
            return None
        return value

    def texts(self, node: Node, what: str = "") -> tuple[str, ...] | None:
        items = self.sequence(node, what)
        if items is None:
            return None
        values = [self.text(item, what) for item in items]
        if any(v is None for v in values):
            return None
        result = tuple(v for v in values if v is not None)
        for n, value in enumerate(result):
            if value in result[:n]:
                self.error(items[n], f"'{value}' is listed twice")
                return None
        return result

    def integer(self, node: Node, what: str = "", *, minimum: int | None = None) -> int | None:
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            self.error(node, f"expected a whole number{' for ' + what if what else ''}, got {_kind(node)}")
            return None
        try:
            value = int(str(node.value).replace("_", ""), 0)
        except ValueError:
            self.error(node, f"expected a whole number for {what or 'value'}")
            return None
        if minimum is not None and value < minimum:
            self.error(node, f"{what or 'value'} must be at least {minimum}")
            return None
        return value

    def boolean(self, node: Node, what: str = "") -> bool | None:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL:
            self.error(node, f"expected true or false{' for ' + what if what else ''}, got {_kind(node)}")
            return None
        return str(node.value).lower() in ("true", "yes", "on", "y")

    def choice(self, node: Node, enum: type[E], what: str = "") -> E | None:
        value = self.text(node, what)
        if value is None:
            return None
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(member.value for member in enum)
            self.error(node, f"'{value}' is not a known {what or 'value'} (one of: {options})")
            return None


def _expected(allowed: set[str], what: str) -> str:
    where = f" in {what}" if what else ""
    return f"{where} (expected one of: {', '.join(sorted(allowed))})"


def plain(node: Node) -> object:
    """A node as plain Python values (text for scalars), for free-form connector settings."""
    if isinstance(node, MappingNode):
        return {str(k.value): plain(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [plain(item) for item in node.value]
    if node.tag == _NULL:
        return None
    if node.tag == _BOOL:
        return str(node.value).lower() in ("true", "yes", "on", "y")
    if node.tag == _INT:
        try:
            return int(str(node.value).replace("_", ""), 0)
        except ValueError:
            return str(node.value)
    return str(node.value)
