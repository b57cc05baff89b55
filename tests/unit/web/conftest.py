"""Fixtures for the workbench tests: a runtime with the reference configuration and its people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime import build_runtime
from workbench import People

from revbridge.bootstrap import Runtime


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'web.db'}", tmp_path, posting=True)
    yield runtime
    runtime.close()


@pytest.fixture
def people(rt: Runtime) -> People:
    return People(rt)
