"""The reference configuration, loaded once for the master-data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from revbridge.masterdata import Configuration, load

REFERENCE = Path(__file__).resolve().parents[3] / "examples" / "config"


@pytest.fixture(scope="session")
def reference() -> Configuration:
    loaded, errors = load(REFERENCE)
    assert errors == ()
    assert loaded is not None
    return loaded
