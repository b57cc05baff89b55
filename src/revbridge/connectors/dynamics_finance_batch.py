"""OData v4 ``$batch`` for the F&O connector: one changeset out, one answer per operation back.

F&O's Journal post batch job runs on its own schedule and posts any journal whose vouchers
balance, so a journal made request by request (header, then line after line) can be posted half
made. MS Learn ("Open Data Protocol (OData)", *Run multiple requests in a single transaction*,
https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/odata) says
F&O's OData supports batch requests and that a changeset is one atomic unit: either every request
in it runs or none does. The wire format is OData v4.0 Part 1 section 11.7 (multipart/mixed; a
changeset is a nested multipart/mixed whose parts are ``application/http`` with a ``Content-ID``;
a later request names an entity created earlier in the changeset as ``$<Content-ID>``). A
changeset that fails is answered by one response, the failing operation's, instead of one per
operation (section 11.7.4).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from revbridge.connectors.base import ConnectorUnavailable

BATCH = "/data/$batch"
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_STATUS = re.compile(r"^HTTP/1\.[01] (\d{3})(?: .*)?$")


@dataclass(frozen=True, slots=True)
class Operation:
    """One request of a changeset; ``url`` is relative to the service root (``/data/``) or starts
    with ``$<Content-ID>``."""

    content_id: str
    method: str
    url: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    """F&O's answer to one operation, as an httpx.Response so the usual failure mapping reads it."""

    content_id: str
    response: httpx.Response


def changeset(operations: Sequence[Operation]) -> tuple[str, bytes]:
    """The Content-Type and body of a ``$batch`` request holding ``operations`` as one changeset."""
    batch, change = f"batch_{uuid.uuid4().hex}", f"changeset_{uuid.uuid4().hex}"
    parts = [f"--{batch}", f"Content-Type: multipart/mixed; boundary={change}", ""]
    for op in operations:
        parts += [
            f"--{change}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {op.content_id}",
            "",
            f"{op.method} {op.url} HTTP/1.1",
            "Content-Type: application/json",
            "Accept: application/json",
            "",
            op.body.decode(),
        ]
    parts += [f"--{change}--", f"--{batch}--", ""]
    return f"multipart/mixed; boundary={batch}", "\r\n".join(parts).encode()


def answers(response: httpx.Response) -> list[Answer]:
    """Every operation's answer in a ``$batch`` answer, changesets opened up, in order. An answer
    we cannot read is uncertain: F&O may have made the journal."""
    found = _parts(response.headers.get("Content-Type", ""), response.content)
    if not found:
        raise _unreadable("no part")
    return found


def _parts(content_type: str, body: bytes) -> list[Answer]:
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/mixed") or match is None:
        raise _unreadable("not multipart/mixed")
    delimiter = b"--" + match.group(1).encode()
    if delimiter + b"--" not in body:
        raise _unreadable("no closing delimiter")
    found: list[Answer] = []
    for raw in body.split(delimiter + b"--")[0].split(delimiter)[1:]:
        headers, content = _split(raw.strip(b"\r\n"))
        kind = headers.get("content-type", "")
        if kind.lower().startswith("multipart/mixed"):
            found.extend(_parts(kind, content))
        elif kind.lower().startswith("application/http"):
            found.append(Answer(headers.get("content-id", ""), _response(content)))
        else:
            raise _unreadable(f"a part of type {kind[:40]!r}")
    return found


def _split(raw: bytes) -> tuple[dict[str, str], bytes]:
    """A MIME part (or an HTTP message after its first line) as its headers and its body."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode(errors="replace").split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, body


def _response(message: bytes) -> httpx.Response:
    first, _, rest = message.strip(b"\r\n").partition(b"\n")
    status = _STATUS.match(first.decode(errors="replace").strip())
    if status is None:
        raise _unreadable("an operation without a status line")
    headers, body = _split(rest) if rest.strip() else ({}, b"")
    return httpx.Response(int(status.group(1)), headers=headers, content=body.strip(b"\r\n"))


def _unreadable(what: str) -> ConnectorUnavailable:
    return ConnectorUnavailable(f"F&O answered a $batch that cannot be read ({what})", uncertain=True)
