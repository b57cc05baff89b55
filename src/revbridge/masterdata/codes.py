"""Reading the code maps: account mappings (accounts.yaml ``mappings``) and the adjustment maps
(adjustments.yaml: categories, CARC, PLB, transaction codes).

A map may only name roles that can be booked: ``require_accounts`` checks, at the line that names
a role, that every legal entity has an account for it (for every payer class, unless a mapping
without payer class covers them all). So an applied configuration never meets UNMAPPED_ACCOUNT
for a role it mentions; only a payer-class-specific gap can still surface at posting time.
"""

from __future__ import annotations

from yaml.nodes import Node

from revbridge.ledger.role import AccountRole
from revbridge.masterdata.model import (
    CAS_GROUPS,
    AccountMapping,
    AdjustmentCategory,
    CarcRule,
    PlbRule,
    TransactionCode,
)
from revbridge.masterdata.organisation import Known, in_charts, unique
from revbridge.masterdata.yaml_reader import Reader


def read_mappings(r: Reader, node: Node, known: Known) -> list[AccountMapping] | None:
    items = r.sequence(node, "account mappings")
    if items is None:
        return None
    mappings: list[AccountMapping] = []
    seen: set[str] = set()
    ok = True
    for item in items:
        m = r.mapping(
            item, required=("role", "account"), optional=("legal_entity", "payer_class"), what="a mapping"
        )
        if m is None:
            ok = False
            continue
        role = r.choice(m["role"], AccountRole, "account role")
        account = r.text(m["account"], "account")
        entity = r.text(m["legal_entity"], "legal entity") if "legal_entity" in m else ""
        payer_class = r.text(m["payer_class"], "payer class") if "payer_class" in m else ""
        if entity and known.legal_entities is not None and entity not in known.legal_entities:
            r.error(m["legal_entity"], f"unknown legal entity '{entity}'")
            entity = None
        if payer_class and known.payer_classes is not None and payer_class not in known.payer_classes:
            r.error(m["payer_class"], f"unknown payer class '{payer_class}'")
            payer_class = None
        if (
            account is not None
            and entity is not None
            and not in_charts(r, m["account"], account, entity, known)
        ):
            account = None
        if role is None or account is None or entity is None or payer_class is None:
            ok = False
            continue
        scope = f"role {role.value}, legal entity {entity or '(all)'}, payer class {payer_class or '(any)'}"
        if not unique(r, item, seen, scope, "a mapping for"):
            ok = False
            continue
        mappings.append(
            AccountMapping(role=role, account=account, legal_entity=entity, payer_class=payer_class)
        )
    return mappings if ok else None


def require_accounts(r: Reader, node: Node, role: AccountRole, known: Known) -> None:
    """Record an error at ``node`` for each legal entity where ``role`` has no account."""
    if known.mappings is None or known.legal_entities is None or known.payer_classes is None:
        return
    if role is AccountRole.GROSS_REVENUE:
        return  # every department names its revenue account
    for entity in known.legal_entities.values():
        if (role.value, entity.code) in known.reported_coverage:
            continue

        def has(payer_class: str, entity_code: str = entity.code) -> bool:
            return any(
                m.role is role and m.legal_entity in ("", entity_code) and m.payer_class == payer_class
                for m in known.mappings or ()
            )

        missing = [] if has("") else [pc for pc in sorted(known.payer_classes) if not has(pc)]
        if missing:
            known.reported_coverage.add((role.value, entity.code))
            r.error(
                node,
                f"role {role.value} has no account in legal entity {entity.code} for payer class(es) "
                f"{', '.join(missing)} (add a mapping in accounts.yaml)",
            )


def read_adjustments(
    r: Reader, root: Node, known: Known
) -> tuple[list[CarcRule], list[PlbRule], list[TransactionCode]] | None:
    top = r.mapping(root, required=("categories", "carc", "plb", "transaction_codes"), what=r.file)
    if top is None:
        return None
    categories = _categories(r, top["categories"], known)
    known.categories = categories
    carc = _carc(r, top["carc"], categories)
    plb = _plb(r, top["plb"], known)
    codes = _transaction_codes(r, top["transaction_codes"], categories)
    if categories is None or carc is None or plb is None or codes is None:
        return None
    return carc, plb, codes


def _categories(r: Reader, node: Node, known: Known) -> dict[str, AdjustmentCategory] | None:
    items = r.sequence(node, "categories")
    if items is None:
        return None
    categories: dict[str, AdjustmentCategory] = {}
    ok = True
    for item in items:
        m = r.mapping(item, required=("code", "name", "role"), what="a category")
        if m is None:
            ok = False
            continue
        code, name = r.text(m["code"], "category code"), r.text(m["name"], "name")
        raw_role = r.text(m["role"], "role")
        role: AccountRole | None = None
        if raw_role is not None and raw_role != "none":
            role = r.choice(m["role"], AccountRole, "account role (or none)")
            if role is None:
                raw_role = None
            else:
                require_accounts(r, m["role"], role, known)
        if (
            code is None
            or name is None
            or raw_role is None
            or not unique(r, m["code"], set(categories), code, "category")
        ):
            ok = False
            continue
        categories[code] = AdjustmentCategory(code=code, name=name, role=role)
    return categories if ok else None


def _carc(r: Reader, node: Node, categories: dict[str, AdjustmentCategory] | None) -> list[CarcRule] | None:
    top = r.mapping(node, required=("group_defaults", "reasons"), what="carc")
    if top is None:
        return None
    rules: list[CarcRule] = []
    ok = True
    defaults = r.mapping(top["group_defaults"], optional=sorted(CAS_GROUPS), what="group_defaults")
    for cas_group, value in (defaults or {}).items():
        default = _category_ref(r, value, categories)
        if default is None:
            ok = False
        else:
            rules.append(CarcRule(group=cas_group, reason="", category=default))
    seen: set[str] = set()
    for item in r.sequence(top["reasons"], "CARC rules") or []:
        m = r.mapping(item, required=("group", "reasons", "category"), what="a CARC rule")
        if m is None:
            ok = False
            continue
        group, reasons = r.text(m["group"], "group"), r.texts(m["reasons"], "reasons")
        category = _category_ref(r, m["category"], categories)
        if group is not None and group.upper() not in CAS_GROUPS:
            r.error(m["group"], f"unknown CAS group '{group}' (one of: {', '.join(sorted(CAS_GROUPS))})")
            group = None
        if group is None or category is None or reasons is None:
            ok = False
            continue
        for reason in reasons:
            if unique(r, m["reasons"], seen, f"{group.upper()}-{reason.upper()}", "CARC rule"):
                rules.append(CarcRule(group=group.upper(), reason=reason.upper(), category=category))
            else:
                ok = False
    return rules if ok and defaults is not None else None


def _category_ref(r: Reader, node: Node, categories: dict[str, AdjustmentCategory] | None) -> str | None:
    category = r.text(node, "category")
    if category is not None and categories is not None and category not in categories:
        r.error(node, f"unknown category '{category}'")
        return None
    return category


def _plb(r: Reader, node: Node, known: Known) -> list[PlbRule] | None:
    rules: list[PlbRule] = []
    seen: set[str] = set()
    ok = True
    for item in r.sequence(node, "PLB rules") or []:
        m = r.mapping(item, required=("reason", "role"), optional=("name",), what="a PLB rule")
        if m is None:
            ok = False
            continue
        reason, role = r.text(m["reason"], "PLB reason"), r.choice(m["role"], AccountRole, "account role")
        name = r.text(m["name"], "name") if "name" in m else ""
        if role is not None:
            require_accounts(r, m["role"], role, known)
        if (
            reason is None
            or role is None
            or name is None
            or not unique(r, m["reason"], seen, reason.upper(), "PLB reason")
        ):
            ok = False
            continue
        rules.append(PlbRule(reason=reason.upper(), role=role, name=name))
    return rules if ok else None


def _transaction_codes(
    r: Reader, node: Node, categories: dict[str, AdjustmentCategory] | None
) -> list[TransactionCode] | None:
    codes: list[TransactionCode] = []
    seen: set[str] = set()
    ok = True
    for item in r.sequence(node, "transaction codes") or []:
        m = r.mapping(item, required=("code", "category"), optional=("name",), what="a transaction code")
        if m is None:
            ok = False
            continue
        code, category = r.text(m["code"], "code"), _category_ref(r, m["category"], categories)
        name = r.text(m["name"], "name") if "name" in m else ""
        if (
            code is None
            or category is None
            or name is None
            or not unique(r, m["code"], seen, code, "transaction code")
        ):
            ok = False
            continue
        codes.append(TransactionCode(code=code, category=category, name=name))
    return codes if ok else None
