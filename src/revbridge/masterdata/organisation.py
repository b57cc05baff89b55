"""Reading the organisation files: charts of accounts, legal entities, payers, facilities and
departments. Each reader records located errors on its ``Reader`` and returns what it could
build; references to things an earlier file defined are checked here, with the referring node's
line, against ``Known`` (which holds None for a file that failed, so one broken file does not
bury the directory in follow-on errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node

from revbridge.core.money import CURRENCY_EXPONENT
from revbridge.masterdata.model import (
    KNOWN_CONNECTORS,
    AccountKind,
    AccountMapping,
    AdjustmentCategory,
    Chart,
    ChartAccount,
    ConnectorConfig,
    Department,
    Facility,
    FacilityIdentifiers,
    LegalEntity,
    Payer,
    PayerClass,
    SettingValue,
)
from revbridge.masterdata.yaml_reader import Reader, plain


@dataclass
class Known:
    """What the files read so far defined; None where a file could not be read."""

    charts: dict[str, Chart] | None = None
    legal_entities: dict[str, LegalEntity] | None = None
    payer_classes: dict[str, PayerClass] | None = None
    self_pay_class: str | None = None
    payers: dict[str, Payer] | None = None
    facilities: dict[str, Facility] | None = None
    departments: list[Department] | None = None
    mappings: list[AccountMapping] | None = None
    categories: dict[str, AdjustmentCategory] | None = None
    reported_coverage: set[tuple[str, str]] = field(default_factory=set)

    def entities_of(self, legal_entity: str) -> list[LegalEntity]:
        """The legal entities a scope names: one, or all for ""."""
        if self.legal_entities is None:
            return []
        if legal_entity:
            entity = self.legal_entities.get(legal_entity)
            return [entity] if entity is not None else []
        return list(self.legal_entities.values())


def unique(r: Reader, node: Node, seen: set[str], code: str, what: str) -> bool:
    if code in seen:
        r.error(node, f"{what} '{code}' is defined twice")
        return False
    seen.add(code)
    return True


# ---- charts -----------------------------------------------------------------------------------


def read_charts(r: Reader, node: Node) -> dict[str, Chart] | None:
    items = r.sequence(node, "charts")
    if items is None:
        return None
    charts: dict[str, Chart] = {}
    ok = True
    for item in items:
        m = r.mapping(item, required=("code", "name", "accounts"), what="a chart")
        if m is None:
            ok = False
            continue
        code, name = r.text(m["code"], "chart code"), r.text(m["name"], "chart name")
        accounts = _chart_accounts(r, m["accounts"])
        if (
            code is None
            or name is None
            or accounts is None
            or not unique(r, m["code"], set(charts), code, "chart")
        ):
            ok = False
            continue
        charts[code] = Chart(code=code, name=name, accounts=accounts)
    return charts if ok else None


def _chart_accounts(r: Reader, node: Node) -> tuple[ChartAccount, ...] | None:
    items = r.sequence(node, "accounts")
    if items is None:
        return None
    accounts: list[ChartAccount] = []
    numbers: set[str] = set()
    ok = True
    for item in items:
        m = r.mapping(item, required=("number", "name", "kind"), what="an account")
        if m is None:
            ok = False
            continue
        number, name = r.text(m["number"], "account number"), r.text(m["name"], "account name")
        kind = r.choice(m["kind"], AccountKind, "account kind")
        if number is None or name is None or kind is None:
            ok = False
        elif unique(r, m["number"], numbers, number, "account"):
            accounts.append(ChartAccount(number=number, name=name, kind=kind))
        else:
            ok = False
    return tuple(sorted(accounts, key=lambda a: a.number)) if ok else None


# ---- legal entities ---------------------------------------------------------------------------


def read_legal_entities(r: Reader, root: Node, known: Known) -> dict[str, LegalEntity] | None:
    top = r.mapping(root, required=("legal_entities",), what=r.file)
    items = r.sequence(top["legal_entities"], "legal entities") if top else None
    if items is None:
        return None
    entities: dict[str, LegalEntity] = {}
    ok = True
    for item in items:
        m = r.mapping(
            item,
            required=("code", "name", "currency", "chart"),
            optional=("connector",),
            what="a legal entity",
        )
        if m is None:
            ok = False
            continue
        code, name = r.text(m["code"], "legal entity code"), r.text(m["name"], "name")
        currency, chart = r.text(m["currency"], "currency"), r.text(m["chart"], "chart")
        connector = _connector(r, m["connector"]) if "connector" in m else ConnectorConfig()
        if currency is not None and currency not in CURRENCY_EXPONENT:
            r.error(m["currency"], f"unknown currency '{currency}'")
            currency = None
        if chart is not None and known.charts is not None and chart not in known.charts:
            r.error(m["chart"], f"unknown chart '{chart}' (charts are defined in accounts.yaml)")
            chart = None
        if code is None or name is None or currency is None or chart is None or connector is None:
            ok = False
            continue
        if unique(r, m["code"], set(entities), code, "legal entity"):
            entities[code] = LegalEntity(
                code=code, name=name, currency=currency, chart=chart, connector=connector
            )
        else:
            ok = False
    return entities if ok else None


def _connector(r: Reader, node: Node) -> ConnectorConfig | None:
    m = r.mapping(node, required=("name",), optional=("settings",), what="a connector")
    if m is None:
        return None
    name = r.text(m["name"], "connector name")
    if name is not None and name not in KNOWN_CONNECTORS:
        r.error(m["name"], f"unknown connector '{name}' (one of: {', '.join(sorted(KNOWN_CONNECTORS))})")
        return None
    settings: tuple[tuple[str, SettingValue], ...] = ()
    if "settings" in m:
        if not isinstance(m["settings"], MappingNode):
            r.error(m["settings"], "connector settings must be a mapping")
            return None
        raw = plain(m["settings"])
        assert isinstance(raw, dict)
        settings = tuple((str(k), _frozen(v)) for k, v in sorted(raw.items()))
    return ConnectorConfig(name=name, settings=settings) if name is not None else None


def _frozen(value: object) -> SettingValue:
    if isinstance(value, dict):
        return tuple((str(k), _frozen(v)) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    assert value is None or isinstance(value, str | int | bool)
    return value


# ---- payers -----------------------------------------------------------------------------------


def read_payers(r: Reader, root: Node, known: Known) -> None:
    top = r.mapping(root, required=("self_pay_class", "payer_classes", "payers"), what=r.file)
    if top is None:
        return
    classes: dict[str, PayerClass] = {}
    ok = True
    for item in r.sequence(top["payer_classes"], "payer classes") or []:
        m = r.mapping(item, required=("code", "name"), what="a payer class")
        code, name = (r.text(m["code"], "payer class code"), r.text(m["name"], "name")) if m else (None, None)
        if (
            m is None
            or code is None
            or name is None
            or not unique(r, m["code"], set(classes), code, "payer class")
        ):
            ok = False
            continue
        classes[code] = PayerClass(code=code, name=name)
    self_pay = r.text(top["self_pay_class"], "self-pay payer class")
    if self_pay is not None and self_pay not in classes:
        r.error(top["self_pay_class"], f"self_pay_class '{self_pay}' is not one of the payer classes")
        self_pay = None
    payers: dict[str, Payer] = {}
    owner: dict[str, str] = {}
    for item in r.sequence(top["payers"], "payers") or []:
        m = r.mapping(item, required=("code", "name", "class", "aliases"), what="a payer")
        if m is None:
            ok = False
            continue
        code, name = r.text(m["code"], "payer code"), r.text(m["name"], "name")
        payer_class, aliases = r.text(m["class"], "payer class"), r.texts(m["aliases"], "aliases")
        if payer_class is not None and payer_class not in classes:
            r.error(m["class"], f"unknown payer class '{payer_class}'")
            payer_class = None
        for alias in aliases or ():
            if alias in owner:
                r.error(m["aliases"], f"alias '{alias}' already names payer '{owner[alias]}'")
                aliases = None
            elif code is not None:
                owner[alias] = code
        if code is None or name is None or payer_class is None or aliases is None:
            ok = False
        elif unique(r, m["code"], set(payers), code, "payer"):
            payers[code] = Payer(
                code=code, name=name, payer_class=payer_class, aliases=tuple(sorted(aliases))
            )
        else:
            ok = False
    known.payer_classes = classes if ok and self_pay is not None else None
    known.self_pay_class = self_pay
    known.payers = payers if ok and self_pay is not None else None


# ---- facilities and departments ---------------------------------------------------------------

_IDENTIFIER_KINDS = ("msh4", "npi", "tax_id", "fhir", "portal", "other")


def read_facilities(r: Reader, root: Node, known: Known) -> dict[str, Facility] | None:
    top = r.mapping(root, required=("facilities",), what=r.file)
    items = r.sequence(top["facilities"], "facilities") if top else None
    if items is None:
        return None
    facilities: dict[str, Facility] = {}
    owner: dict[str, str] = {}
    ok = True
    for item in items:
        m = r.mapping(
            item, required=("code", "legal_entity", "name"), optional=("identifiers",), what="a facility"
        )
        if m is None:
            ok = False
            continue
        code, name = r.text(m["code"], "facility code"), r.text(m["name"], "name")
        entity = r.text(m["legal_entity"], "legal entity")
        if entity is not None and known.legal_entities is not None and entity not in known.legal_entities:
            r.error(m["legal_entity"], f"unknown legal entity '{entity}'")
            entity = None
        ids = _identifiers(r, m["identifiers"]) if "identifiers" in m else FacilityIdentifiers()
        for value in ids.all() if ids is not None else ():
            if value in owner and owner[value] != code:
                r.error(m["identifiers"], f"identifier '{value}' already names facility '{owner[value]}'")
                ids = None
                break
            if code is not None:
                owner[value] = code
        if code is None or name is None or entity is None or ids is None:
            ok = False
        elif unique(r, m["code"], set(facilities), code, "facility"):
            facilities[code] = Facility(code=code, legal_entity=entity, name=name, identifiers=ids)
        else:
            ok = False
    return facilities if ok else None


def _identifiers(r: Reader, node: Node) -> FacilityIdentifiers | None:
    m = r.mapping(node, optional=_IDENTIFIER_KINDS, what="identifiers")
    if m is None:
        return None
    values = {kind: r.texts(m[kind], kind) for kind in m}
    if any(v is None for v in values.values()):
        return None
    return FacilityIdentifiers(**{kind: tuple(sorted(v)) for kind, v in values.items() if v is not None})


def read_departments(r: Reader, root: Node, known: Known) -> list[Department] | None:
    top = r.mapping(root, required=("departments",), what=r.file)
    items = r.sequence(top["departments"], "departments") if top else None
    if items is None:
        return None
    departments: list[Department] = []
    seen: set[str] = set()
    ok = True
    for item in items:
        m = r.mapping(
            item,
            required=("code", "name", "cost_center", "service_line", "revenue_account"),
            optional=("facility", "revenue_codes"),
            what="a department",
        )
        if m is None:
            ok = False
            continue
        fields = {
            k: r.text(m[k], k.replace("_", " ")) for k in ("code", "name", "cost_center", "service_line")
        }
        account = r.text(m["revenue_account"], "revenue account")
        facility = r.text(m["facility"], "facility") if "facility" in m else ""
        codes = r.texts(m["revenue_codes"], "revenue codes") if "revenue_codes" in m else ()
        if facility and known.facilities is not None and facility not in known.facilities:
            r.error(m["facility"], f"unknown facility '{facility}'")
            facility = None
        if account is not None and facility is not None:
            scope = known.facilities[facility].legal_entity if facility and known.facilities else ""
            if not in_charts(r, m["revenue_account"], account, scope, known):
                account = None
        if None in fields.values() or account is None or facility is None or codes is None:
            ok = False
            continue
        code = fields["code"]
        assert code is not None
        if not unique(r, m["code"], seen, f"{facility}/{code}", "department"):
            ok = False
            continue
        departments.append(
            Department(
                code=code,
                facility=facility,
                name=fields["name"] or "",
                cost_center=fields["cost_center"] or "",
                service_line=fields["service_line"] or "",
                revenue_account=account,
                revenue_codes=tuple(sorted(codes)),
            )
        )
    return departments if ok else None


def in_charts(r: Reader, node: Node, account: str, legal_entity: str, known: Known) -> bool:
    """An account number must exist in the chart of every legal entity it may post in."""
    if known.charts is None:
        return True
    for entity in known.entities_of(legal_entity):
        chart = known.charts.get(entity.chart)
        if chart is not None and not chart.has(account):
            r.error(
                node, f"account '{account}' is not in chart '{chart.code}' of legal entity '{entity.code}'"
            )
            return False
    return True
