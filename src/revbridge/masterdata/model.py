"""Master data: who the health system is and how its codes map to the general ledger.

These are the values the YAML configuration (see ``loader.py`` and docs/configuration.md)
becomes after validation. They are plain frozen records; the look-ups that turn a value as sent
(an MSH-4, a payee NPI, an IN1-3 payer id, a CARC) into one of them live in ``configuration.py``.
Nothing here is PHI: master data describes the organisation, never a patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from revbridge.ledger.period import ClosedPeriodPolicy
from revbridge.ledger.role import AccountRole
from revbridge.ledger.window import WindowPolicy

# Connector settings are small JSON-like trees; kept as sorted pairs so the records stay frozen.
SettingValue = str | int | bool | None | tuple["SettingValue", ...] | tuple[tuple[str, "SettingValue"], ...]

# The ERP connectors a legal entity may name (DESIGN.md section 7). The registry in bootstrap.py
# decides which are installed; configuration only refuses names nobody could ever provide.
KNOWN_CONNECTORS = frozenset(
    {
        "embedded",
        "file",
        "tryton",
        "rest",
        "oracle_fusion",
        "business_central",
        "dynamics_finance",
        "netsuite",
        "infor_ion",
        "workday",
        "sap_s4hana",
    }
)

# X12 CAS claim adjustment group codes (CR only in 4010).
CAS_GROUPS = frozenset({"CO", "PR", "OA", "PI", "CR"})


class AccountKind(StrEnum):
    ASSET = "asset"
    CONTRA_ASSET = "contra_asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    CONTRA_REVENUE = "contra_revenue"  # deductions from revenue (4500s)
    EXPENSE = "expense"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartAccount:
    number: str
    name: str
    kind: AccountKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    code: str
    name: str
    accounts: tuple[ChartAccount, ...]

    def has(self, number: str) -> bool:
        return any(account.number == number for account in self.accounts)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorConfig:
    name: str = "embedded"
    # Connector-specific, never secrets: credentials come from the environment the settings name.
    settings: tuple[tuple[str, SettingValue], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LegalEntity:
    code: str
    name: str
    currency: str
    chart: str
    connector: ConnectorConfig = ConnectorConfig()


@dataclass(frozen=True, slots=True, kw_only=True)
class FacilityIdentifiers:
    """Every value a sender uses for the facility, by where it is sent. The kinds document the
    source; resolution matches the value as sent against all of them."""

    msh4: tuple[str, ...] = ()  # HL7 v2 MSH-4 sending facility
    npi: tuple[str, ...] = ()  # 835 N1*PE XX, 837 NM1*85
    tax_id: tuple[str, ...] = ()  # 835 N1*PE FI
    fhir: tuple[str, ...] = ()  # Organization references ("Organization/1")
    portal: tuple[str, ...] = ()  # patient-payment portal facility codes
    other: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return self.msh4 + self.npi + self.tax_id + self.fhir + self.portal + self.other


@dataclass(frozen=True, slots=True, kw_only=True)
class Facility:
    code: str
    legal_entity: str
    name: str
    identifiers: FacilityIdentifiers = FacilityIdentifiers()


@dataclass(frozen=True, slots=True, kw_only=True)
class Department:
    code: str  # as senders send it (FT1-13, PV1-10)
    facility: str  # a facility code, or "" for a department every facility shares
    name: str
    cost_center: str
    service_line: str
    revenue_account: str  # the gross revenue account of this revenue centre
    revenue_codes: tuple[str, ...] = ()  # UB-04 revenue codes it bills under


@dataclass(frozen=True, slots=True, kw_only=True)
class PayerClass:
    code: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Payer:
    code: str
    name: str
    payer_class: str
    aliases: tuple[str, ...]  # ids as sent: IN1-3, 835 TRN03 / N1*PR, FHIR payor references


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountMapping:
    role: AccountRole
    account: str
    legal_entity: str = ""  # "" = every legal entity
    payer_class: str = ""  # "" = any payer class


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjustmentCategory:
    code: str
    name: str
    role: AccountRole | None  # None: informational, posts nothing (OA-23 on a secondary payer)


@dataclass(frozen=True, slots=True, kw_only=True)
class CarcRule:
    group: str  # CO, PR, OA, PI, CR
    reason: str  # a CARC; "" = the default for the whole group
    category: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlbRule:
    reason: str  # PLB03-1: L6, WO, FB, 72, ...
    role: AccountRole
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionCode:
    """A patient-accounting adjustment code (DFT FT1-7 of an AJ, a FHIR adjustment code)."""

    code: str
    category: str
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PostingSettings:
    batch_window: WindowPolicy
    context_wait: timedelta  # how long a charge waits for its encounter, a reversal for its original
    closed_period_policy: ClosedPeriodPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterData:
    charts: tuple[Chart, ...]
    legal_entities: tuple[LegalEntity, ...]
    facilities: tuple[Facility, ...]
    departments: tuple[Department, ...]
    payer_classes: tuple[PayerClass, ...]
    self_pay_class: str  # the payer class of patients without coverage and of patient receivables
    payers: tuple[Payer, ...]
    account_mappings: tuple[AccountMapping, ...]
    categories: tuple[AdjustmentCategory, ...]
    carc_rules: tuple[CarcRule, ...]
    plb_rules: tuple[PlbRule, ...]
    transaction_codes: tuple[TransactionCode, ...]
    posting: PostingSettings
