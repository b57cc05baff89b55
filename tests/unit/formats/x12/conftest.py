"""Fixtures for the X12 unit tests: a parse context with the public test tokenizer."""

from __future__ import annotations

from datetime import date

import pytest

from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext


@pytest.fixture
def ctx() -> ParseContext:
    return ParseContext(message_id="msg-1", tokenizer=fixed_tokenizer(), received_on=date(2024, 3, 1))
