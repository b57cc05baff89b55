"""Opening a stored message and parsing it: what the worker and a replay both do first.

The payload is decrypted with the key it was sealed under and handed to its format's parser with
what parsers need (the message id for locators, the tokenizer that replaces patient identifiers,
the day it arrived, the default currency). A message that cannot be opened (no parser for its
format, a purged payload, a key that no longer opens it) is a located problem, not an exception.
A parser that raises is a bug or an infrastructure fault: its exception goes to the caller (the
worker retries the message, a replay fails loudly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.errors import DecryptionError
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode
from revbridge.core.tokens import Tokenizer
from revbridge.formats.base import UNRECOGNISED, Format, ParseContext
from revbridge.store.messages import MessageStore
from revbridge.store.queue import Claimed

NOT_A_MESSAGE = "not an HL7 v2, X12, FHIR or portal message (no MSH, ISA or ST, or JSON at its start)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Parser:
    formats: Mapping[str, Format]
    store: MessageStore
    tokenizer: Tokenizer
    default_currency: str = "USD"

    def parse(self, message: Claimed) -> Outcome[CanonicalEvent]:
        where = SourceRef(message.id)
        fmt = self.formats.get(message.format)
        if fmt is None and message.format == UNRECOGNISED:
            return _unreadable(ProblemCode.UNSUPPORTED_FORMAT, NOT_A_MESSAGE, where.at("message[1]"))
        if fmt is None:
            return _unreadable(ProblemCode.UNSUPPORTED_FORMAT, f"no parser for {message.format!r}", where)
        if message.blob is None or message.key_id is None:
            return _unreadable(ProblemCode.PAYLOAD_UNREADABLE, "raw payload was purged", where)
        try:
            payload = self.store.open_payload(message.id, message.key_id, message.blob)
        except DecryptionError as exc:
            return _unreadable(ProblemCode.PAYLOAD_UNREADABLE, str(exc), where)
        context = ParseContext(
            message_id=message.id,
            tokenizer=self.tokenizer,
            received_on=message.received_at.date(),
            default_currency=self.default_currency,
        )
        return fmt.to_events(payload, context)


def _unreadable(code: ProblemCode, message: str, where: SourceRef) -> Outcome[CanonicalEvent]:
    return Outcome(problems=(Problem(code=code, message=message, where=where),))
