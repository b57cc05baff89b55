"""The X12 format object intake and workers call (see formats/base.py for the contract)."""

from __future__ import annotations

from collections.abc import Iterator

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome
from revbridge.formats.base import IN_ORDER, Envelope, ParseContext
from revbridge.formats.x12 import interchange
from revbridge.formats.x12.claim import read_claims
from revbridge.formats.x12.envelope import TransactionHeader, TransactionReader, walk
from revbridge.formats.x12.remittance import read_remittance


def read_transaction(header: TransactionHeader, ctx: ParseContext) -> TransactionReader | None:
    """The reader for one ST: 835 or 837 in a supported version, else None (unsupported)."""
    match header.code:
        case "835":
            return read_remittance(header, ctx)
        case "837":
            return read_claims(header, ctx)
        case _:
            return None


class X12Format:
    priority = IN_ORDER  # X12: 835 interchanges go FIRST (interchange.split)

    @property
    def name(self) -> str:
        return interchange.NAME

    def detect(self, head: bytes) -> bool:
        return interchange.detect(head)

    def split(self, data: bytes) -> Iterator[Envelope]:
        """One Envelope per ISA..IEA interchange, deduplicated on ISA06|ISA13."""
        return interchange.split(data)

    def to_events(self, payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
        return walk(payload, ctx, read_transaction)


X12 = X12Format()
