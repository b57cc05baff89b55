"""The F&O connector's settings for the test ERP (tests/support/fo_erp.py), shared by its tests:
our cost centres hold F&O's default "-", so the display value is delimited by "|"."""

from __future__ import annotations

from dataclasses import replace

from fo_erp import FoErp

from revbridge.connectors.dynamics_finance import DynamicsFinanceSettings


def settings(erp: FoErp, **changes: object) -> DynamicsFinanceSettings:
    base = DynamicsFinanceSettings(
        base_url=erp.url,
        token_url=erp.token_url,
        client_id=erp.client_id,
        client_secret=erp.client_secret,
        dimension_delimiter="|",
        odata_below=3,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
