"""HL7 v2 (ER7) messages: a lazy tokenizer of our own, the Format (detect, split, to_events) and
original-mode acknowledgements. python-hl7 and hl7apy are test oracles only; see message.py for
why we tokenize ourselves and address.py for the ``FT1[2]-11.1`` notation."""

from revbridge.formats.hl7v2.ack import AckCode, AckError, build_ack, build_reject
from revbridge.formats.hl7v2.address import Address, read
from revbridge.formats.hl7v2.delimiters import Delimiters, escape, read_delimiters, unescape
from revbridge.formats.hl7v2.format import HL7V2, Hl7v2Format, to_events
from revbridge.formats.hl7v2.header import NON_FINANCIAL_TRIGGER
from revbridge.formats.hl7v2.message import Message, Segment, parse
from revbridge.formats.hl7v2.stream import detect, split

__all__ = [
    "HL7V2",
    "NON_FINANCIAL_TRIGGER",
    "AckCode",
    "AckError",
    "Address",
    "Delimiters",
    "Hl7v2Format",
    "Message",
    "Segment",
    "build_ack",
    "build_reject",
    "detect",
    "escape",
    "parse",
    "read",
    "read_delimiters",
    "split",
    "to_events",
    "unescape",
]
