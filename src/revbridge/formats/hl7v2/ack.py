"""Original-mode acknowledgements (HL7 v2.5 section 2.9.2): ACK with MSH, MSA and, for AE/AR, ERR.

The listener sends AA only after the message is committed, AR when a frame holds no usable MSH,
and the stored ACK again for a duplicate; this module only builds the bytes. It is pure: the
clock and the control-id source are parameters (python-hl7's ``create_ack`` reads the clock
itself and has no ERR segment). The ACK is written with the message's own delimiters and
charset, sender and receiver swapped. Error text must be PHI-free; it goes back over the wire and
into logs. No control character (a NUL a sender put in its MSH) is ever echoed: every echoed field
is cleaned before it is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from revbridge.core.ids import IdSource
from revbridge.formats.hl7v2.address import Address
from revbridge.formats.hl7v2.delimiters import STANDARD, Delimiters, escape, read_delimiters
from revbridge.formats.hl7v2.lead import without_control_characters as clean
from revbridge.formats.hl7v2.message import BOM, Message, Segment, decode

DEFAULT_VERSION = "2.5"
DEFAULT_PROCESSING_ID = "P"
_HEADER_SCAN = 64 * 1024  # the MSH of an oversized frame is still in its first bytes

# HL7 table 0357, message error condition codes.
ERROR_NAMES: dict[str, str] = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


class AckCode(StrEnum):
    AA = "AA"  # accepted (committed)
    AE = "AE"  # error: the sender should fix and resend
    AR = "AR"  # rejected: the frame cannot be processed at all


@dataclass(frozen=True, slots=True, kw_only=True)
class AckError:
    code: str  # HL7 table 0357 -> ERR-3
    text: str  # ERR-8 (and MSA-3 for pre-2.5 receivers); PHI-free
    severity: str = "E"  # HL7 table 0516 -> ERR-4: E error, W warning, I information
    location: Address | None = None  # -> ERR-2


NO_USABLE_HEADER = AckError(code="100", text="The frame holds no usable MSH segment")
CONTROL_CHARACTERS = AckError(code="102", text="The MSH segment holds control characters")


def frame_too_large(limit: int) -> AckError:
    return AckError(code="207", text=f"The frame exceeds the maximum of {limit} bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Echo:
    """What an ACK copies from the message it answers; texts are already escaped for ``d``."""

    d: Delimiters
    charset: str = "utf-8"
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = DEFAULT_PROCESSING_ID
    version: str = DEFAULT_VERSION


def build_ack(
    message: Message,
    code: AckCode,
    *,
    control_ids: IdSource,
    now: datetime,
    error: AckError | None = None,
) -> bytes:
    """The ACK answering a parsed message, in the message's delimiters and charset."""
    echo = _echo(message.header, message.delimiters, message.charset)
    return _encode(echo, code, control_ids(), now, error)


def _echo(msh: Segment, d: Delimiters, charset: str) -> _Echo:
    """What an ACK echoes of an MSH: MSH-3 to MSH-6 (swapped when written), MSH-9.2 and MSH-10 to 12."""
    return _Echo(
        d=d,
        charset=charset,
        sending_application=msh.raw_field(3),
        sending_facility=msh.raw_field(4),
        receiving_application=msh.raw_field(5),
        receiving_facility=msh.raw_field(6),
        trigger=msh.get(9, 2),
        control_id=msh.raw_field(10),
        processing_id=msh.raw_field(11) or DEFAULT_PROCESSING_ID,
        version=msh.raw_field(12) or DEFAULT_VERSION,
    )


def build_reject(
    frame: bytes,
    *,
    control_ids: IdSource,
    now: datetime,
    error: AckError = NO_USABLE_HEADER,
) -> bytes:
    """An AR for a frame we cannot accept, echoing whatever of its MSH can be read."""
    text, charset = decode(frame[:_HEADER_SCAN])
    text = text.lstrip(BOM + " \t\r\n\x0b")
    # Control characters are dropped before anything is read: a NUL must not become a delimiter.
    first = clean(text.replace("\n", "\r").split("\r", 1)[0])
    echo = _Echo(d=STANDARD, charset=charset)
    if first.startswith("MSH") and len(first) > 3:
        found = read_delimiters(first)
        if isinstance(found, Delimiters):
            echo = _echo(Segment("MSH", 1, 1, first, found), found, charset)
        elif not first[3].isalnum() and not first[3].isspace():
            # The encoding characters are broken but the fields can still be told apart: echo
            # them as text, escaped for the standard delimiters the ACK is written in.
            raw = first.split(first[3])
            raw.insert(1, first[3])

            def field(n: int) -> str:
                return escape(raw[n], STANDARD) if n < len(raw) else ""

            echo = _Echo(
                d=STANDARD,
                charset=charset,
                sending_application=field(3),
                sending_facility=field(4),
                receiving_application=field(5),
                receiving_facility=field(6),
                control_id=field(10),
                processing_id=field(11) or DEFAULT_PROCESSING_ID,
                version=field(12) or DEFAULT_VERSION,
            )
    return _encode(echo, AckCode.AR, control_ids(), now, error)


def _timestamp(now: datetime) -> str:
    stamp = now.strftime("%Y%m%d%H%M%S")
    return stamp + now.strftime("%z") if now.tzinfo is not None else stamp


def _encode(
    echo: _Echo,
    code: AckCode,
    control_id: str,
    now: datetime,
    error: AckError | None,
) -> bytes:
    if code is not AckCode.AA and error is None:
        raise ValueError(f"an {code} acknowledgement needs an AckError naming the reason")
    d = echo.d
    trigger = escape(clean(echo.trigger), d)
    message_type = d.component.join(("ACK", trigger, "ACK")) if trigger else "ACK"
    msh = d.field.join(
        (
            "MSH",
            d.encoding_characters,
            clean(echo.receiving_application),
            clean(echo.receiving_facility),
            clean(echo.sending_application),
            clean(echo.sending_facility),
            _timestamp(now),
            "",
            message_type,
            escape(clean(control_id), d),
            clean(echo.processing_id) or DEFAULT_PROCESSING_ID,
            clean(echo.version) or DEFAULT_VERSION,
        )
    )
    msa_fields = ["MSA", code.value, clean(echo.control_id)]
    segments = [msh]
    if code is not AckCode.AA and error is not None:
        msa_fields.append(escape(clean(error.text), d))
        segments.append(d.field.join(msa_fields))
        segments.append(_err(error, d))
    else:
        segments.append(d.field.join(msa_fields))
    return ("\r".join(segments) + "\r").encode(echo.charset, errors="replace")


def _err(error: AckError, d: Delimiters) -> str:
    name = ERROR_NAMES.get(error.code, "")
    condition = d.component.join((escape(error.code, d), escape(name, d), "HL70357"))
    location = ""
    if error.location is not None:
        where = error.location
        parts = [where.segment, str(where.occurrence)]
        if where.field is not None:
            parts += [str(where.field), str(where.repetition)]
            if where.component is not None:
                parts.append(str(where.component))
                if where.sub is not None:
                    parts.append(str(where.sub))
        location = d.component.join(parts)
    # ERR-1 (deprecated) empty, ERR-2 location, ERR-3 condition, ERR-4 severity, ERR-5..7 empty,
    # ERR-8 user message.
    return d.field.join(
        ("ERR", "", location, condition, escape(error.severity, d), "", "", "", escape(error.text, d))
    )
