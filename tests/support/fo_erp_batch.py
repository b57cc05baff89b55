"""The fake F&O's OData v4 ``$batch``: reading a multipart/mixed request, writing the answer.

As OData v4.0 Part 1 section 11.7 has it (and MS Learn's "Open Data Protocol (OData)" says F&O
supports batch requests with changesets run as one atomic unit): the body is a multipart/mixed
document whose parts are single requests (``application/http``) or changesets (a nested
multipart/mixed of ``application/http`` parts, each with a Content-ID unique in the batch, no GET,
no changeset inside). A request inside a changeset may name an entity made earlier in it as
``$<Content-ID>``. Anything else is malformed: ``parse`` raises Malformed and the server answers
400 for the whole batch. Running the operations is fo_erp.py's business; ``answer`` writes the
multipart answer, one part per operation, or one for a changeset that failed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fo_erp_ledger import Ledger

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_REQUEST = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1$")
_REFERENCE = re.compile(r"^\$([^/?]+)")
HEADERS = "/data/LedgerJournalHeaders"
NAVIGATION = "/JournalLines"  # a header's lines: POST LedgerJournalHeaders(..)/JournalLines
Entities = Callable[[str, str, dict[str, str], Any], tuple[int, Any]]  # method, path, params, payload


class Malformed(ValueError):
    """The batch is not an OData v4 multipart batch F&O would read."""


@dataclass(frozen=True)
class Op:
    content_id: str  # "" outside a changeset when none was given
    method: str
    url: str
    body: bytes


@dataclass(frozen=True)
class Done:
    content_id: str
    status: int
    body: bytes  # JSON, or b"" for none


Item = Op | list[Op]  # a single request, or a changeset


def parse(content_type: str, body: bytes) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for headers, content in _parts(content_type, body):
        kind = headers.get("content-type", "").lower()
        if kind.startswith("multipart/mixed"):
            items.append(_read_changeset(headers["content-type"], content, seen))
        elif kind.startswith("application/http"):
            items.append(_op(headers, content, seen, in_changeset=False))
        else:
            raise Malformed(f"a batch part must be application/http or multipart/mixed, not {kind!r}")
    if not items:
        raise Malformed("the batch holds no request")
    return items


def _read_changeset(content_type: str, body: bytes, seen: set[str]) -> list[Op]:
    ops: list[Op] = []
    for headers, content in _parts(content_type, body):
        if not headers.get("content-type", "").lower().startswith("application/http"):
            raise Malformed("a changeset part must be application/http (changesets do not nest)")
        op = _op(headers, content, seen, in_changeset=True)
        reference = _REFERENCE.match(op.url)
        if reference and reference.group(1) not in {o.content_id for o in ops}:
            raise Malformed(f"${reference.group(1)} names no earlier request of the changeset")
        ops.append(op)
    if not ops:
        raise Malformed("a changeset holds no request")
    return ops


def _op(headers: dict[str, str], content: bytes, seen: set[str], *, in_changeset: bool) -> Op:
    content_id = headers.get("content-id", "")
    if in_changeset and not content_id:
        raise Malformed("a request in a changeset needs a Content-ID")
    if content_id and content_id in seen:
        raise Malformed(f"Content-ID {content_id} is used twice")
    seen.add(content_id)
    first, _, rest = content.partition(b"\n")
    request = _REQUEST.match(first.decode(errors="replace").strip())
    if request is None:
        raise Malformed("a request must start with '<method> <url> HTTP/1.1'")
    method, url = request.groups()
    if in_changeset and method == "GET":
        raise Malformed("a changeset may not hold a GET")
    if rest.startswith(b"\n"):  # no headers: a blank line, then the body
        body = rest
    else:
        _headers, body = _split(rest) if rest.strip() else ({}, b"")
    if _REFERENCE.match(url) and not in_changeset:
        raise Malformed("$<Content-ID> is only meaningful inside a changeset")
    return Op(content_id, method, url, body.strip())


def _parts(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/mixed") or match is None:
        raise Malformed("Content-Type must be multipart/mixed with a boundary")
    delimiter = b"--" + match.group(1).encode()
    text = body.replace(b"\r\n", b"\n")
    if delimiter + b"--" not in text or not text.lstrip(b"\n").startswith(delimiter):
        raise Malformed("the multipart body must open and close with its boundary")
    return [_split(raw.strip(b"\n")) for raw in text.split(delimiter + b"--")[0].split(delimiter)[1:]]


def _split(raw: bytes) -> tuple[dict[str, str], bytes]:
    head, blank, body = raw.partition(b"\n\n")
    if not blank and b":" not in head:  # no headers at all
        return {}, raw
    headers: dict[str, str] = {}
    for line in head.decode(errors="replace").split("\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise Malformed(f"not a header line: {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers, body


def run(
    items: Sequence[Item], ledger: Ledger, entities: Entities, encode: Callable[[Any], bytes]
) -> list[Done | list[Done]]:
    """Every item in order (the caller holds the server's lock)."""
    return [
        _changeset(item, ledger, entities, encode)
        if isinstance(item, list)
        else _operation(item, {}, entities, encode)
        for item in items
    ]


def _changeset(
    ops: list[Op], ledger: Ledger, entities: Entities, encode: Callable[[Any], bytes]
) -> list[Done]:
    """Every operation, or (one failing) none: the ledger is put back and the answer is that
    operation's alone, as OData answers a failed changeset."""
    held = ledger.snapshot()
    made: dict[str, str] = {}
    done: list[Done] = []
    for op in ops:
        result = _operation(op, made, entities, encode)
        if result.status >= 400:
            ledger.restore(held)
            return [result]
        done.append(result)
    return done


def _operation(op: Op, made: dict[str, str], entities: Entities, encode: Callable[[Any], bytes]) -> Done:
    """One operation; ``made`` maps the Content-IDs of entities made so far to their paths."""
    url = urlsplit(op.url)
    path = unquote(url.path)
    if path.startswith("$"):
        reference, _, rest = path[1:].partition("/")
        if reference not in made:
            return Done(op.content_id, 404, encode({"error": {"message": f"${reference} made nothing"}}))
        path = made[reference] + ("/" + rest if rest else "")
    elif not path.startswith("/"):
        path = "/data/" + path
    try:
        payload = json.loads(op.body, parse_float=Decimal) if op.body else {}
    except ValueError:
        return Done(op.content_id, 400, encode({"error": {"message": "The body is not JSON."}}))
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    status, answer = entities(op.method, path, params, payload)
    if status == 201 and path == HEADERS and isinstance(answer, dict):
        made[op.content_id] = HEADERS + _key(answer)
    return Done(op.content_id, status, encode(answer) if answer is not None else b"")


def _key(header: dict[str, Any]) -> str:
    company, number = header["dataAreaId"], header["JournalBatchNumber"]
    return f"(dataAreaId='{company}',JournalBatchNumber='{number}')"


def answer(results: Sequence[Done | list[Done]]) -> tuple[str, bytes]:
    """The multipart answer: a changeset's answers in a nested multipart (just the failing one
    when it failed), a single request's answer as one part."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    lines: list[bytes] = []
    for result in results:
        lines.append(f"--{boundary}".encode())
        if isinstance(result, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            lines += [f"Content-Type: multipart/mixed; boundary={inner}".encode(), b""]
            for done in result:
                lines += [f"--{inner}".encode(), *_part(done)]
            lines.append(f"--{inner}--".encode())
        else:
            lines += _part(result)
    lines += [f"--{boundary}--".encode(), b""]
    return f"multipart/mixed; boundary={boundary}", b"\r\n".join(lines)


def _part(done: Done) -> list[bytes]:
    head = [b"Content-Type: application/http", b"Content-Transfer-Encoding: binary"]
    if done.content_id:
        head.append(f"Content-ID: {done.content_id}".encode())
    reason = HTTPStatus(done.status).phrase
    message = [f"HTTP/1.1 {done.status} {reason}".encode()]
    if done.body:
        message += [b"Content-Type: application/json; odata.metadata=minimal", b"", done.body]
    else:
        message += [b""]
    return [*head, b"", *message]
