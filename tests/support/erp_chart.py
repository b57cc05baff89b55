"""What the test ERPs know before revbridge posts: the reference configuration's chart, as a
finance team would have set it up on the ERP side.

Every protocol-faithful ERP under tests/support seeds itself from ``Chart``: the legal entities
(companies, ledgers, subsidiaries), the account codes, the values of each dimension and the
closed periods. An account, dimension value or company outside it is refused, as the real ERP
refuses what it does not hold. ``reference()`` reads examples/config, so a chart change there
reaches every test ERP; ``Chart.closing`` returns a copy with a period closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "config"


@dataclass(frozen=True)
class Chart:
    legal_entities: frozenset[str]
    accounts: frozenset[str]
    facilities: frozenset[str]
    cost_centers: frozenset[str]
    payer_classes: frozenset[str]
    service_lines: frozenset[str]
    closed: frozenset[tuple[str, str]] = field(default=frozenset())  # (legal entity, "YYYY-MM")

    def dimension(self, name: str) -> frozenset[str]:
        """The values of one dimension by its journal-line name."""
        return {
            "facility": self.facilities,
            "cost_center": self.cost_centers,
            "payer_class": self.payer_classes,
            "service_line": self.service_lines,
        }[name]

    def closing(self, legal_entity: str, period: str) -> Chart:
        return replace(self, closed=self.closed | {(legal_entity, period)})

    def is_open(self, legal_entity: str, period: str) -> bool:
        return (legal_entity, period) not in self.closed


def _load(name: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((CONFIG / name).read_text())


def reference() -> Chart:
    """The chart of examples/config, with the test journals' facility F01 (connectors_journals.py)."""
    accounts = {a["number"] for chart in _load("accounts.yaml")["charts"] for a in chart["accounts"]}
    departments = _load("departments.yaml")["departments"]
    facilities = {f["code"] for f in _load("facilities.yaml")["facilities"]} | {"F01"}
    return Chart(
        legal_entities=frozenset(le["code"] for le in _load("legal_entities.yaml")["legal_entities"]),
        accounts=frozenset(accounts),
        facilities=frozenset(facilities),
        cost_centers=frozenset(d["cost_center"] for d in departments),
        payer_classes=frozenset(p["code"] for p in _load("payers.yaml")["payer_classes"]),
        service_lines=frozenset(d["service_line"] for d in departments),
    )
