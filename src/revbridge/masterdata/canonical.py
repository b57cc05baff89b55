"""The canonical form of a Configuration: for storing versions, comparing them and reading them back.

``to_documents`` renders a Configuration as the documents of the YAML files, with every default
spelled out and every list in a fixed order, so two directories that mean the same thing give the
same ``to_json`` text (and the same hash). ``from_json`` reads that text back through the very
loader a directory goes through. ``diff`` compares two configurations and says, one line per
change, what an approver needs to read: "payers.yaml: payers[AETNA].aliases: added '60054'".
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.loader import FILES, LoadResult, load_texts
from revbridge.masterdata.model import SettingValue


def _settings(value: SettingValue) -> Any:
    # Mappings were frozen as tuples of (key, value) pairs, lists as plain tuples.
    if isinstance(value, tuple):
        pairs = [v for v in value if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)]
        if value and len(pairs) == len(value):
            return {str(pair[0]): _settings(pair[1]) for pair in pairs}
        return [_settings(v) for v in value]
    return value


def to_documents(config: Configuration) -> dict[str, Any]:
    m, rb = config.master, config.rulebook
    carc: dict[tuple[str, str], list[str]] = {}
    for rule in m.carc_rules:
        if rule.reason:
            carc.setdefault((rule.group, rule.category), []).append(rule.reason)
    return {
        "legal_entities.yaml": {
            "legal_entities": [
                {
                    "code": e.code,
                    "name": e.name,
                    "currency": e.currency,
                    "chart": e.chart,
                    "connector": {
                        "name": e.connector.name,
                        "settings": {k: _settings(v) for k, v in e.connector.settings},
                    },
                }
                for e in m.legal_entities
            ]
        },
        "facilities.yaml": {
            "facilities": [
                {
                    "code": f.code,
                    "legal_entity": f.legal_entity,
                    "name": f.name,
                    "identifiers": {
                        kind: sorted(getattr(f.identifiers, kind))
                        for kind in ("msh4", "npi", "tax_id", "fhir", "portal", "other")
                    },
                }
                for f in m.facilities
            ]
        },
        "departments.yaml": {
            "departments": [
                {
                    "code": d.code,
                    **({"facility": d.facility} if d.facility else {}),
                    "name": d.name,
                    "cost_center": d.cost_center,
                    "service_line": d.service_line,
                    "revenue_account": d.revenue_account,
                    "revenue_codes": sorted(d.revenue_codes),
                }
                for d in m.departments
            ]
        },
        "payers.yaml": {
            "self_pay_class": m.self_pay_class,
            "payer_classes": [{"code": c.code, "name": c.name} for c in m.payer_classes],
            "payers": [
                {"code": p.code, "name": p.name, "class": p.payer_class, "aliases": sorted(p.aliases)}
                for p in m.payers
            ],
        },
        "accounts.yaml": {
            "charts": [
                {
                    "code": c.code,
                    "name": c.name,
                    "accounts": [
                        {"number": a.number, "name": a.name, "kind": a.kind.value}
                        for a in sorted(c.accounts, key=lambda a: a.number)
                    ],
                }
                for c in m.charts
            ],
            "mappings": [
                {
                    "role": a.role.value,
                    **({"legal_entity": a.legal_entity} if a.legal_entity else {}),
                    **({"payer_class": a.payer_class} if a.payer_class else {}),
                    "account": a.account,
                }
                for a in m.account_mappings
            ],
        },
        "adjustments.yaml": {
            "categories": [
                {"code": c.code, "name": c.name, "role": c.role.value if c.role else "none"}
                for c in m.categories
            ],
            "carc": {
                "group_defaults": {r.group: r.category for r in m.carc_rules if not r.reason},
                "reasons": [
                    {"group": group, "reasons": sorted(reasons), "category": category}
                    for (group, category), reasons in sorted(carc.items())
                ],
            },
            "plb": [{"reason": p.reason, "role": p.role.value, "name": p.name} for p in m.plb_rules],
            "transaction_codes": [
                {"code": t.code, "category": t.category, "name": t.name} for t in m.transaction_codes
            ],
        },
        "rulebook.yaml": {
            "patient_roles": sorted(role.value for role in rb.patient_roles),
            "rules": {
                rule.kind.value: {
                    "lane": rule.lane.value,
                    **{
                        name: {
                            **({"role": spec.role.value} if spec.role is not None else {}),
                            "dimensions": sorted(d.value for d in spec.dimensions),
                        }
                        for name, spec in rule.slots
                    },
                }
                for rule in rb.rules
            },
        },
        "posting.yaml": {
            "batch_window": {
                "max_age_seconds": int(m.posting.batch_window.max_age.total_seconds()),
                "max_lines": m.posting.batch_window.max_lines,
            },
            "context_wait_seconds": int(m.posting.context_wait.total_seconds()),
            "closed_period_policy": m.posting.closed_period_policy.value,
        },
    }


def to_json(config: Configuration) -> str:
    return json.dumps(to_documents(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def from_json(text: str) -> LoadResult:
    documents = json.loads(text)
    if not isinstance(documents, dict):
        raise ValueError("a canonical configuration is a JSON object of documents")
    texts = {
        name: yaml.safe_dump(documents[name], sort_keys=True, allow_unicode=True)
        for name in FILES
        if name in documents
    }
    return load_texts(texts)


# ---- diff -------------------------------------------------------------------------------------

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
