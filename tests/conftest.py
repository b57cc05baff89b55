"""Fixtures every suite shares. Suites add their own conftest.py next to their tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("REVBRIDGE_CORPUS", REPO.parent / "shared" / "corpus")).resolve()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared third-party corpus (../shared/corpus); golden tests read it in place."""
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS}; set REVBRIDGE_CORPUS")
    return CORPUS
