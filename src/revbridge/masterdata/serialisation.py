"""A Configuration's canonical form, the text the store versions: ``to_json`` and ``from_json``.

``to_documents`` renders a Configuration as the documents of the YAML files, one function per
file of the configuration directory, with every default spelled out and every list in a fixed
order, so two directories that mean the same thing give the same ``to_json`` text (and the same
hash). ``from_json`` reads that text back through the very loader a directory goes through, so a
stored version is validated like a directory. Comparing two versions is ``changes.py``; nothing
here reads files or knows where a version is stored.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.loader import FILES, LoadResult, load_texts
from revbridge.masterdata.model import MasterData, SettingValue
from revbridge.masterdata.rulebook import Rulebook

Document = dict[str, Any]


def _settings(value: SettingValue) -> Any:
    # Mappings were frozen as tuples of (key, value) pairs, lists as plain tuples.
    if isinstance(value, tuple):
        pairs = [v for v in value if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)]
        if value and len(pairs) == len(value):
            return {str(pair[0]): _settings(pair[1]) for pair in pairs}
        return [_settings(v) for v in value]
    return value


def to_documents(config: Configuration) -> dict[str, Document]:
    m = config.master
    return {
        "legal_entities.yaml": _legal_entities(m),
        "facilities.yaml": _facilities(m),
        "departments.yaml": _departments(m),
        "payers.yaml": _payers(m),
        "accounts.yaml": _accounts(m),
        "adjustments.yaml": _adjustments(m),
        "rulebook.yaml": _rulebook(config.rulebook),
        "posting.yaml": _posting(m),
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


def _legal_entities(m: MasterData) -> Document:
    return {
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
    }


def _facilities(m: MasterData) -> Document:
    return {
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
    }


def _departments(m: MasterData) -> Document:
    return {
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
    }


def _payers(m: MasterData) -> Document:
    return {
        "self_pay_class": m.self_pay_class,
        "payer_classes": [{"code": c.code, "name": c.name} for c in m.payer_classes],
        "payers": [
            {"code": p.code, "name": p.name, "class": p.payer_class, "aliases": sorted(p.aliases)}
            for p in m.payers
        ],
    }


def _accounts(m: MasterData) -> Document:
    return {
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
    }


def _adjustments(m: MasterData) -> Document:
    # The file lists a CARC rule once per group and category with all its reasons; the model
    # holds one rule per reason (and a reason-less rule per group default).
    carc: dict[tuple[str, str], list[str]] = {}
    for rule in m.carc_rules:
        if rule.reason:
            carc.setdefault((rule.group, rule.category), []).append(rule.reason)
    return {
        "categories": [
            {"code": c.code, "name": c.name, "role": c.role.value if c.role else "none"} for c in m.categories
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
    }


def _rulebook(rb: Rulebook) -> Document:
    return {
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
    }


def _posting(m: MasterData) -> Document:
    return {
        "batch_window": {
            "max_age_seconds": int(m.posting.batch_window.max_age.total_seconds()),
            "max_lines": m.posting.batch_window.max_lines,
        },
        "context_wait_seconds": int(m.posting.context_wait.total_seconds()),
        "closed_period_policy": m.posting.closed_period_policy.value,
    }
