"""The staging-table settings block: the documented example loads, and mistakes are refused with
one clear line naming the setting (never a password)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from revbridge.core.errors import ConfigurationError
from revbridge.settings import StagingSource, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config" / "sources" / "staging.yaml"


def _block(**overrides: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "name": "pas",
        "url": "postgresql+psycopg://reader@db/pas",
        "table": "billing_stage",
        "key_column": "row_id",
        "kind": "payment",
        "columns": {"payment": {"id": "txn_no", "facility": "site", "amount": "amount"}},
    }
    block.update(overrides)
    return block


def test_the_documented_example_loads() -> None:
    settings = load_settings(EXAMPLE)
    names = [s.name for s in settings.staging_sources]
    assert names == ["pas-charges", "cashiering"]
    charges, cashiering = settings.staging_sources
    assert charges.kinds["ADJ"] == "adjustment" and charges.status_column is None
    assert cashiering.status_column == "export_state" and cashiering.group_column == "batch_no"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"url": "postgresql+psycopg://reader:s3cret-pw@db/pas"}, "must not hold a password"),
        ({"kind": None}, "either kind or kind_column"),
        ({"kind_column": "txn_type"}, "either kind or kind_column"),
        ({"kind": None, "kind_column": "txn_type"}, "kind_column needs kinds"),
        ({"kind": "charge"}, "no mapping for kind charge"),
        ({"columns": {"payment": {"id": "a", "mrn_number": "b"}}}, "unknown field(s) mrn_number"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_mistakes_are_refused_with_one_line(
    tmp_path: Path, overrides: dict[str, Any], complaint: str
) -> None:
    import yaml

    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"staging_sources": [_block(**overrides)]}), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert complaint in message and "\n" not in message
    assert "s3cret-pw" not in message


def test_a_valid_block_keeps_its_mapping() -> None:
    source = StagingSource.model_validate(_block())
    assert source.columns["payment"]["amount"] == "amount"
    assert source.batch_size == 500


def test_the_block_can_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv("REVBRIDGE_STAGING_SOURCES", json.dumps([_block()]))
    (source,) = load_settings().staging_sources
    assert (source.name, source.kind) == ("pas", "payment")
