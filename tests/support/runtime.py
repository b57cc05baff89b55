"""Build a real runtime over a test database, the way bootstrap does for the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from revbridge.bootstrap import Runtime, build
from revbridge.core.clock import Clock
from revbridge.formats.base import Format
from revbridge.settings import Settings


def build_runtime(
    db_url: str,
    home: Path,
    *,
    formats: Mapping[str, Format] | None = None,
    clock: Clock | None = None,
    posting: bool = False,
    **settings: Any,
) -> Runtime:
    """``posting`` adds the posting stage (rules -> journals) with the reference configuration;
    tests of intake and the worker leave it out so they test only what they name."""
    return build(
        Settings(home=home, db=db_url, **settings),
        formats=formats,
        clock=clock,
        upgrade=True,
        posting=posting,
        with_reference_config=posting,
    )
