"""One SOAP call to a Workday web service, and Workday's answers as connector outcomes.

The envelope is SOAP 1.1 (``text/xml``), posted to ``/ccx/service/{tenant}/{service}/{version}``
with the WS-Security header or a Bearer token (workday_auth.py). The answer is read in pieces and
abandoned past xmldoc's size cap, then parsed by ``xmldoc.parse`` (no DTD, no entities, no
external references): a hostile or unreadable answer is ``ConnectorUnavailable``, uncertain, as
the call may have been applied.

Workday answers a refused request with a SOAP fault (HTTP 500), its ``detail`` holding a
``Validation_Fault`` (``Validation_Error`` elements, each with ``Message``, ``Detail_Message`` and
the ``Xpath`` of the offending element: the generated ``Validation_ErrorType``) or a
``Processing_Fault`` (``Detail_Message``). A validation fault rejects the journal in Workday's
words, and each ``Journal_Entry_Line_Replacement_Data[n]`` in an Xpath names our line n (one
element per line, in our order). ``Client.authenticationError`` (a wrong user or password) and
401/403 are refused credentials; a processing fault, any other server fault, 429, 5xx and a lost
answer are unavailable (429/503 certainly not applied, the rest uncertain).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from revbridge.connectors import xmldoc
from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.http import retry_after

_LINE = re.compile(r"Journal_Entry_Line_Replacement_Data\[(\d+)\]")
HEADERS = {"Content-Type": xmldoc.CONTENT_TYPES[xmldoc.SOAP11], "Accept": "text/xml"}


def validation_words(detail: xmldoc.Element | None) -> tuple[str, tuple[int, ...]]:
    """Workday's words and our line numbers from a fault's ``Validation_Fault`` detail."""
    if detail is None:
        return "", ()
    words: list[str] = []
    lines: set[int] = set()
    for error in xmldoc.every(detail, "Validation_Error"):
        message = xmldoc.text(error, "Message")
        more = xmldoc.text(error, "Detail_Message")
        words.append(f"{message} ({more})" if more and more != message else message)
        lines.update(int(n) for n in _LINE.findall(xmldoc.text(error, "Xpath")))
    return " ".join("; ".join(w for w in words if w).split())[:500], tuple(sorted(lines))


def outcome(
    status: int, root: xmldoc.Element | None, response: httpx.Response, now: Callable[[], datetime]
) -> ConnectorUnavailable | ConnectorRejected:
    """The outcome of an answer that is not a plain success (see the module's docstring)."""
    wait = retry_after(response, now)
    found = xmldoc.fault(root) if root is not None else None
    if found is not None and ("authenticationError" in found.code or status in (401, 403)):
        return ConnectorUnavailable(f"Workday refused our credentials ({found.code}): {found.message}")
    if status in (429, 503):
        return ConnectorUnavailable(f"Workday answered {status} (throttled or busy)", retry_after=wait)
    if status in (401, 403):
        return ConnectorUnavailable(f"Workday refused our credentials ({status})")
    if found is None:
        return ConnectorUnavailable(f"Workday answered {status} without a SOAP fault", uncertain=True)
    validation = xmldoc.find(root, "Validation_Fault") if root is not None else None
    if validation is not None:
        words, lines = validation_words(validation)
        return ConnectorRejected(f"Workday rejected the journal: {words or found.message}", lines=lines)
    if found.client and xmldoc.find(root, "Processing_Fault") is None:  # type: ignore[arg-type]
        return ConnectorRejected(f"Workday rejected the journal ({found.code}): {found.message}")
    words = xmldoc.text(root, "Processing_Fault", "Detail_Message") or found.message  # type: ignore[arg-type]
    return ConnectorUnavailable(
        f"Workday could not process the request ({found.code}): {words}", uncertain=True
    )


class WorkdaySoap:
    """SOAP calls to one tenant's services, every answer read safely and mapped."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        tenant: str,
        version: str,
        now: Callable[[], datetime],
        header: Callable[[], Any] | None = None,
        limit: int = xmldoc.MAX_BYTES,
    ) -> None:
        self._client = client
        self._tenant = tenant
        self._version = version
        self._now = now
        self._header = header
        self._limit = limit

    def close(self) -> None:
        self._client.close()

    def call(self, service: str, body: Any, *, read: bool = False) -> xmldoc.Element:
        """The answer's body element. ``read``: a query, whose refusal is never the journal's
        fault (a setup problem: unavailable)."""
        content = xmldoc.envelope(body, header=self._header() if self._header else None)
        path = f"/ccx/service/{self._tenant}/{service}/{self._version}"
        response, raw = self._post(path, content)
        try:
            root = xmldoc.parse(raw) if raw else None
        except xmldoc.UnsafeXml as exc:
            if response.status_code in (429, 503):
                raise outcome(response.status_code, None, response, self._now) from None
            raise ConnectorUnavailable(f"Workday's answer was refused: {exc}", uncertain=True) from None
        answer = xmldoc.find(root, "Body") if root is not None else None
        if response.status_code != 200 or (root is not None and xmldoc.fault(root) is not None):
            refused = outcome(response.status_code, root, response, self._now)
            if read and isinstance(refused, ConnectorRejected):
                raise ConnectorUnavailable(f"Workday refused a {service} query: {refused}")
            raise refused
        first = next(iter(answer), None) if answer is not None else None
        if first is None:
            raise ConnectorUnavailable("Workday answered 200 without a SOAP body", uncertain=True)
        return first

    def _post(self, path: str, content: bytes) -> tuple[httpx.Response, bytes]:
        """The answer and at most ``limit`` bytes of its body (a larger one is abandoned unread)."""
        request = self._client.build_request("POST", path, content=content, headers=HEADERS)
        try:
            response = self._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectorUnavailable(f"Workday unreachable: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise ConnectorUnavailable(f"Workday answer lost: {type(exc).__name__}", uncertain=True) from None
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self._limit:
                raise _too_large(int(declared), self._limit)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self._limit:
                    raise _too_large(size, self._limit)
                chunks.append(chunk)
            return response, b"".join(chunks)
        except httpx.TransportError as exc:
            raise ConnectorUnavailable(f"Workday answer lost: {type(exc).__name__}", uncertain=True) from None
        finally:
            response.close()


def _too_large(size: int, limit: int) -> ConnectorUnavailable:
    return ConnectorUnavailable(
        f"Workday's answer was refused: over {limit} bytes (at least {size})", uncertain=True
    )
