"""Fixtures for the work queue's unit tests: a real SQLite store behind a runtime with the line
format (tests/support/lineformat.py), a fixed clock and one attempt per parse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime
from workitem_setup import T0

from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def rt(tmp_path: Path, clock: FixedClock) -> Iterator[Runtime]:
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'queue.db'}", tmp_path, formats=FORMATS, clock=clock, max_attempts=1
    )
    yield runtime
    runtime.close()
