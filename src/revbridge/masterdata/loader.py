"""``load(dir)``: a configuration directory -> (Configuration | None, errors).

The directory holds exactly the files in ``FILES`` (docs/configuration.md describes each). They
are read in dependency order (charts before the legal entities that name them, payer classes
before the mappings that use them, mappings before the maps that need accounts), every error is
collected with its file and line, and a Configuration is returned only when there are none.
``load_texts`` does the same for in-memory texts; the canonical JSON form is read back through it
(see ``serialisation.py``), so a stored configuration version is validated exactly like a directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from yaml.nodes import Node

from revbridge.ledger.journal import Lane
from revbridge.ledger.period import ClosedPeriodPolicy
from revbridge.ledger.role import AccountRole
from revbridge.ledger.window import WindowPolicy
from revbridge.masterdata.codes import read_adjustments, read_mappings, require_accounts
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.model import CarcRule, MasterData, PlbRule, PostingSettings, TransactionCode
from revbridge.masterdata.organisation import (
    Known,
    read_charts,
    read_departments,
    read_facilities,
    read_legal_entities,
    read_payers,
)
from revbridge.masterdata.rulebook import SLOTS, Dimension, EventKind, EventRule, LineSpec, Rulebook
from revbridge.masterdata.yaml_reader import ConfigError, Reader, compose

FILES = (
    "legal_entities.yaml",
    "facilities.yaml",
    "departments.yaml",
    "payers.yaml",
    "accounts.yaml",
    "adjustments.yaml",
    "rulebook.yaml",
    "posting.yaml",
)

LoadResult = tuple[Configuration | None, tuple[ConfigError, ...]]


def load(directory: Path | str) -> LoadResult:
    root = Path(directory)
    if not root.is_dir():
        return None, (ConfigError(str(root), 0, 0, "not a configuration directory"),)
    texts: dict[str, str] = {}
    errors: list[ConfigError] = []
    for path in sorted(root.iterdir()):
        if path.suffix in (".yaml", ".yml") and path.name not in FILES:
            errors.append(
                ConfigError(path.name, 0, 0, f"unknown configuration file (expected: {', '.join(FILES)})")
            )
    for name in FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ConfigError(name, 0, 0, f"cannot read file: {type(exc).__name__}"))
    config, more = load_texts(texts)
    if errors:
        return None, tuple(sorted(errors + list(more)))
    return config, more


def load_texts(texts: Mapping[str, str]) -> LoadResult:
    errors: list[ConfigError] = []
    nodes: dict[str, Node] = {}
    for name in FILES:
        if name not in texts:
            errors.append(ConfigError(name, 0, 0, "file is missing"))
            continue
        node, problems = compose(name, texts[name])
        errors.extend(problems)
        if node is not None:
            nodes[name] = node
    readers = {name: Reader(name) for name in FILES}
    known = Known()

    accounts = (
        readers["accounts.yaml"].mapping(
            nodes["accounts.yaml"], required=("charts", "mappings"), what="accounts.yaml"
        )
        if "accounts.yaml" in nodes
        else None
    )
    if accounts is not None:
        known.charts = read_charts(readers["accounts.yaml"], accounts["charts"])
    if "legal_entities.yaml" in nodes:
        known.legal_entities = read_legal_entities(
            readers["legal_entities.yaml"], nodes["legal_entities.yaml"], known
        )
    if "payers.yaml" in nodes:
        read_payers(readers["payers.yaml"], nodes["payers.yaml"], known)
    if "facilities.yaml" in nodes:
        known.facilities = read_facilities(readers["facilities.yaml"], nodes["facilities.yaml"], known)
    if "departments.yaml" in nodes:
        known.departments = read_departments(readers["departments.yaml"], nodes["departments.yaml"], known)
    if accounts is not None:
        known.mappings = read_mappings(readers["accounts.yaml"], accounts["mappings"], known)
    maps = (
        read_adjustments(readers["adjustments.yaml"], nodes["adjustments.yaml"], known)
        if "adjustments.yaml" in nodes
        else None
    )
    rulebook = (
        read_rulebook(readers["rulebook.yaml"], nodes["rulebook.yaml"], known)
        if "rulebook.yaml" in nodes
        else None
    )
    posting = (
        read_posting(readers["posting.yaml"], nodes["posting.yaml"]) if "posting.yaml" in nodes else None
    )

    for reader in readers.values():
        errors.extend(reader.errors)
    if errors:
        return None, tuple(sorted(errors))
    master = _master(known, maps, posting)
    if master is None or rulebook is None:
        raise AssertionError("a configuration without errors must be complete")
    return Configuration(master, rulebook), ()


def _master(
    known: Known,
    maps: tuple[list[CarcRule], list[PlbRule], list[TransactionCode]] | None,
    posting: PostingSettings | None,
) -> MasterData | None:
    charts, entities, facilities = known.charts, known.legal_entities, known.facilities
    departments, mappings, categories = known.departments, known.mappings, known.categories
    classes, payers, self_pay = known.payer_classes, known.payers, known.self_pay_class
    if charts is None or entities is None or facilities is None or departments is None:
        return None
    if mappings is None or categories is None or classes is None or payers is None or self_pay is None:
        return None
    if maps is None or posting is None:
        return None
    carc, plb, codes = maps
    return MasterData(
        charts=tuple(sorted(charts.values(), key=lambda c: c.code)),
        legal_entities=tuple(sorted(entities.values(), key=lambda e: e.code)),
        facilities=tuple(sorted(facilities.values(), key=lambda f: f.code)),
        departments=tuple(sorted(departments, key=lambda d: (d.facility, d.code))),
        payer_classes=tuple(sorted(classes.values(), key=lambda c: c.code)),
        self_pay_class=self_pay,
        payers=tuple(sorted(payers.values(), key=lambda p: p.code)),
        account_mappings=tuple(sorted(mappings, key=lambda m: (m.role.value, m.legal_entity, m.payer_class))),
        categories=tuple(sorted(categories.values(), key=lambda c: c.code)),
        carc_rules=tuple(sorted(carc, key=lambda c: (c.group, c.reason))),
        plb_rules=tuple(sorted(plb, key=lambda p: p.reason)),
        transaction_codes=tuple(sorted(codes, key=lambda t: t.code)),
        posting=posting,
    )


# ---- rulebook.yaml ----------------------------------------------------------------------------


def read_rulebook(r: Reader, root: Node, known: Known) -> Rulebook | None:
    top = r.mapping(root, required=("patient_roles", "rules"), what="rulebook.yaml")
    if top is None:
        return None
    patient_roles: set[AccountRole] = set()
    for item in r.sequence(top["patient_roles"], "account roles") or []:
        role = r.choice(item, AccountRole, "account role")
        if role is not None:
            patient_roles.add(role)
    kinds = r.mapping(top["rules"], required=[k.value for k in EventKind], what="rules")
    if kinds is None:
        return None
    rules = [_event_rule(r, EventKind(name), node, known) for name, node in kinds.items()]
    if any(rule is None for rule in rules):
        return None
    return Rulebook(
        rules=tuple(sorted((rule for rule in rules if rule is not None), key=lambda x: x.kind.value)),
        patient_roles=frozenset(patient_roles),
    )


def _event_rule(r: Reader, kind: EventKind, node: Node, known: Known) -> EventRule | None:
    shapes = SLOTS[kind]
    m = r.mapping(
        node,
        required=["lane", *(name for name, shape in shapes.items() if shape.required)],
        optional=[name for name, shape in shapes.items() if not shape.required],
        what=f"the {kind.value} rule",
    )
    if m is None:
        return None
    lane = r.choice(m["lane"], Lane, "lane")
    slots: list[tuple[str, LineSpec]] = []
    ok = lane is not None
    for name, shape in shapes.items():
        if name not in m:
            continue
        spec = r.mapping(
            m[name],
            required=["dimensions"] if shape.mapped else ["role", "dimensions"],
            what=f"{kind.value}.{name} (its role comes from a code map)"
            if shape.mapped
            else f"{kind.value}.{name}",
        )
        if spec is None:
            ok = False
            continue
        role = None if shape.mapped else r.choice(spec["role"], AccountRole, "account role")
        if role is not None:
            require_accounts(r, spec["role"], role, known)
        dims = _dimensions(r, spec["dimensions"], shape.dimensions, f"{kind.value}.{name}")
        if dims is None or (role is None and not shape.mapped):
            ok = False
            continue
        slots.append((name, LineSpec(role=role, dimensions=dims)))
    optional = [name for name, shape in shapes.items() if not shape.required]
    given = [name for name in optional if name in m]
    if given and len(given) != len(optional):
        r.error(node, f"{kind.value} needs all of {', '.join(optional)} or none of them")
        ok = False
    if not ok or lane is None:
        return None
    return EventRule(kind=kind, lane=lane, slots=tuple(sorted(slots)))


def _dimensions(
    r: Reader, node: Node, allowed: frozenset[Dimension], what: str
) -> frozenset[Dimension] | None:
    items = r.sequence(node, "dimensions")
    if items is None:
        return None
    dims: set[Dimension] = set()
    for item in items:
        dim = r.choice(item, Dimension, "dimension")
        if dim is None:
            return None
        if dim not in allowed:
            r.error(item, f"{what} lines cannot carry {dim.value}: the events behind them have no department")
            return None
        dims.add(dim)
    return frozenset(dims)


# ---- posting.yaml -----------------------------------------------------------------------------


def read_posting(r: Reader, root: Node) -> PostingSettings | None:
    top = r.mapping(
        root, required=("batch_window", "context_wait_seconds", "closed_period_policy"), what="posting.yaml"
    )
    if top is None:
        return None
    window = r.mapping(top["batch_window"], required=("max_age_seconds", "max_lines"), what="batch_window")
    age = r.integer(window["max_age_seconds"], "max_age_seconds", minimum=1) if window else None
    lines = r.integer(window["max_lines"], "max_lines", minimum=1) if window else None
    wait = r.integer(top["context_wait_seconds"], "context_wait_seconds", minimum=0)
    policy = r.choice(top["closed_period_policy"], ClosedPeriodPolicy, "closed period policy")
    if age is None or lines is None or wait is None or policy is None:
        return None
    return PostingSettings(
        batch_window=WindowPolicy(max_age=timedelta(seconds=age), max_lines=lines),
        context_wait=timedelta(seconds=wait),
        closed_period_policy=policy,
    )
