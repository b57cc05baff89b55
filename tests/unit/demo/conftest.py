"""Generated traffic shared by the demo tests: two weekdays at a fifth of the default volume,
and every message of it parsed once with revbridge's own parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_traffic import START, Parsed, parse

from revbridge.demo import Traffic, generate
from revbridge.masterdata import Configuration, load

REFERENCE = Path(__file__).resolve().parents[3] / "examples" / "config"


@pytest.fixture(scope="session")
def reference() -> Configuration:
    loaded, errors = load(REFERENCE)
    assert errors == ()
    assert loaded is not None
    return loaded


@pytest.fixture(scope="session")
def traffic() -> Traffic:
    return generate(start=START, days=2, seed=11, scale=0.2)


@pytest.fixture(scope="session")
def parsed(traffic: Traffic) -> list[Parsed]:
    return [parse(m, n) for n, m in enumerate(traffic.messages)]
