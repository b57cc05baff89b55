"""The settings of the Oracle Fusion connector: where the pod is, how to authenticate, which ledger,
journal source and categories to use, the segment layout and the value maps (docs/connectors.md).
Apart from the connector so that oracle_fusion.py stays one screen of protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from revbridge.connectors.exports import FbdiSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleFusionSettings:
    base_url: str  # https://<pod>.fa.<region>.oraclecloud.com
    username: str = ""  # the integration user (HTTP Basic), when token_url is empty
    password: str = field(default="", repr=False)
    token_url: str = ""  # OAuth2 client credentials (Oracle IAM / IDCS) instead of Basic
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    scope: str = ""
    ledger_ids: Mapping[str, str] = field(default_factory=dict)  # legal entity -> LedgerId
    data_access_set_id: str = "#NULL"
    journal_source: str = "Patient Accounting"  # USER_JE_SOURCE_NAME
    categories: Mapping[str, str] = field(
        default_factory=lambda: {"realtime": "Payments", "batch": "Charges"}
    )
    segments: tuple[str, ...] = ("legal_entity", "cost_center", "account", "payer_class", "service_line")
    segment_delimiter: str = "."  # of AccountCombination in journalLines
    account_map: Mapping[str, str] = field(default_factory=dict)  # our account -> ERP natural account
    company_map: Mapping[str, str] = field(default_factory=dict)  # legal entity -> balancing segment value
    facility_map: Mapping[str, str] = field(default_factory=dict)
    cost_center_map: Mapping[str, str] = field(default_factory=dict)
    payer_class_map: Mapping[str, str] = field(default_factory=dict)
    service_line_map: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = 500
    page_size: int = 500  # journalBatches rows per page when listing (Oracle allows up to 500)
    timeout: float = 60.0
    refresh_margin: float = 60.0
    api_root: str = "/fscmRestApi/resources/11.13.18.05"

    def __post_init__(self) -> None:
        if "account" not in self.segments:
            raise ValueError("the segment layout must include the account")
        if not self.token_url and not self.username:
            raise ValueError("set username/password (Basic) or token_url/client_id/client_secret")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 1 <= self.page_size <= 500:
            raise ValueError("page_size must be between 1 and 500")

    def fbdi(self) -> FbdiSettings:
        return FbdiSettings(
            ledger_ids=self.ledger_ids,
            source=self.journal_source,
            categories=self.categories,
            segments=self.segments,
        )

    def segment_maps(self) -> dict[str, Mapping[str, str]]:
        return {
            "account": self.account_map,
            "legal_entity": self.company_map,
            "facility": self.facility_map,
            "cost_center": self.cost_center_map,
            "payer_class": self.payer_class_map,
            "service_line": self.service_line_map,
        }
