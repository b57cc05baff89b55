"""What changed between two configuration versions, as an approver reads it.

``diff`` compares the canonical documents of two Configurations (serialisation.py) and says, one
line per change, what changed where: "payers.yaml: payers[AETNA].aliases: added '60054'". Entries
of a list are matched by their identity (a payer by its code, a mapping by role and dimensions),
so a renamed payer reads as a change, not as a removal plus an addition. It only describes a
change: whether it may be applied is decided elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.loader import FILES
from revbridge.masterdata.serialisation import to_documents

# How entries of each list are told apart, so a changed name reads as a change, not a removal
# plus an addition.
_IDENTITY: dict[str, tuple[str, ...]] = {
    "legal_entities": ("code",),
    "facilities": ("code",),
    "departments": ("facility", "code"),
    "payer_classes": ("code",),
    "payers": ("code",),
    "charts": ("code",),
    "accounts": ("number",),
    "mappings": ("role", "legal_entity", "payer_class"),
    "categories": ("code",),
    "reasons": ("group", "category"),
    "plb": ("reason",),
    "transaction_codes": ("code",),
}


def diff(old: Configuration, new: Configuration) -> tuple[str, ...]:
    changes: list[str] = []
    before, after = to_documents(old), to_documents(new)
    for name in FILES:
        _compare(f"{name}: ", "", before[name], after[name], changes)
    return tuple(changes)


def _label(entry: dict[str, Any], fields: tuple[str, ...]) -> str:
    return "/".join(str(entry.get(f, "")) for f in fields if entry.get(f, "") != "") or "(all)"


def _compare(prefix: str, path: str, a: Any, b: Any, out: list[str]) -> None:
    if a == b:
        return
    where = f"{prefix}{path}" if path else prefix.rstrip(": ")
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            sub = f"{path}.{key}" if path else key
            if key not in a:
                out.append(f"{prefix}{sub}: added {_show(b[key])}")
            elif key not in b:
                out.append(f"{prefix}{sub}: removed {_show(a[key])}")
            else:
                _compare(prefix, sub, a[key], b[key], out)
        return
    if isinstance(a, list) and isinstance(b, list):
        field = path.rsplit(".", 1)[-1]
        if field in _IDENTITY and all(isinstance(x, dict) for x in a + b):
            ids = _IDENTITY[field]
            left = {_label(x, ids): x for x in a}
            right = {_label(x, ids): x for x in b}
            for label in sorted(left.keys() | right.keys()):
                sub = f"{path}[{label}]"
                if label not in left:
                    out.append(f"{prefix}{sub}: added")
                elif label not in right:
                    out.append(f"{prefix}{sub}: removed")
                else:
                    _compare(prefix, sub, left[label], right[label], out)
            return
        if all(not isinstance(x, dict | list) for x in a + b):
            added = [x for x in b if x not in a]
            removed = [x for x in a if x not in b]
            parts = ([f"added {', '.join(_show(x) for x in added)}"] if added else []) + (
                [f"removed {', '.join(_show(x) for x in removed)}"] if removed else []
            )
            out.append(f"{where}: {'; '.join(parts) or 'reordered'}")
            return
    out.append(f"{where}: {_show(a)} -> {_show(b)}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value, sort_keys=True)
