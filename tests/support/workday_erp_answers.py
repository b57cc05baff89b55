"""What the Workday test ERP answers, as Workday writes it: SOAP 1.1 envelopes in the
``urn:com.workday/bsvc`` namespace, faults with a ``Validation_Fault`` detail (``Validation_Error``
with ``Message``, ``Detail_Message``, ``Xpath``: the generated ``Validation_ErrorType``), and the
request schema (tests/support/xsd/workday/bsvc.xsd) every request body is checked against.
Hostile bodies for the connector's XML safety tests are here too."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xmlschema

from revbridge.connectors import xmldoc

BSVC = "urn:com.workday/bsvc"
XSD = Path(__file__).resolve().parent / "xsd" / "workday" / "bsvc.xsd"


@dataclass(frozen=True)
class Error:
    """One Validation_Error: Workday's message, its detail and the Xpath of what it refused."""

    message: str
    detail: str
    xpath: str


@functools.cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def schema_errors(body: Any, root_name: str) -> list[Error]:
    """The request body's departures from the schema, as Workday reports them."""
    found = []
    for error in schema().iter_errors(body):
        path = error.path or f"/wd:{root_name}[1]"
        reason = " ".join(str(error.reason or error.message).split())
        found.append(
            Error("Validation error occurred. The request is not valid for the schema.", reason, path)
        )
        if len(found) >= 5:
            break
    return found


def tag(name: str) -> str:
    return f"{{{BSVC}}}{name}"


def ref(parent: Any, name: str, ids: Iterable[tuple[str, str]]) -> Any:
    made = xmldoc.sub(parent, tag(name))
    for id_type, value in ids:
        xmldoc.sub(made, tag("ID"), value).set(tag("type"), id_type)
    return made


def document(name: str, version: str = "v43.0") -> Any:
    root = xmldoc.element(tag(name), nsmap={"wd": BSVC})
    root.set(tag("version"), version)
    return root


def envelope(body: Any) -> bytes:
    return xmldoc.envelope(body)


def results(parent: Any, total: int, page: int, count: int) -> None:
    pages = max(1, -(-total // count))
    block = xmldoc.sub(parent, tag("Response_Results"))
    on_page = max(0, min(count, total - (page - 1) * count))
    for name, value in (
        ("Total_Results", total),
        ("Total_Pages", pages),
        ("Page_Results", on_page),
        ("Page", page),
    ):
        xmldoc.sub(block, tag(name), value)


def validation_fault(errors: Sequence[Error]) -> bytes:
    """Workday's answer to a request it refuses: HTTP 500, faultcode Client.validationError."""
    fault = xmldoc.element(f"{{{xmldoc.SOAP11}}}Fault")
    xmldoc.sub(fault, "faultcode", "SOAP-ENV:Client.validationError")
    xmldoc.sub(fault, "faultstring", "Validation error occurred. " + errors[0].message if errors else "")
    detail = xmldoc.sub(fault, "detail")
    validation = xmldoc.sub(detail, tag("Validation_Fault"))
    for error in errors:
        item = xmldoc.sub(validation, tag("Validation_Error"))
        xmldoc.sub(item, tag("Message"), error.message)
        xmldoc.sub(item, tag("Detail_Message"), error.detail)
        xmldoc.sub(item, tag("Xpath"), error.xpath)
    return xmldoc.envelope(fault)


def plain_fault(code: str, message: str, *, processing: bool = False) -> bytes:
    """A fault without validation errors: ``Client.authenticationError`` (wrong user or
    password), or a ``Processing_Fault`` (``processing``)."""
    fault = xmldoc.element(f"{{{xmldoc.SOAP11}}}Fault")
    xmldoc.sub(fault, "faultcode", code)
    xmldoc.sub(fault, "faultstring", message)
    if processing:
        detail = xmldoc.sub(fault, "detail")
        xmldoc.sub(xmldoc.sub(detail, tag("Processing_Fault")), tag("Detail_Message"), message)
    return xmldoc.envelope(fault)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode()
        for n in range(1, 10)
    )
    + b']><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<wd:Put_Import_Process_Response xmlns:wd="urn:com.workday/bsvc">&lol9;</wd:Put_Import_Process_Response>'
    b"</soapenv:Body></soapenv:Envelope>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<wd:Put_Import_Process_Response xmlns:wd="urn:com.workday/bsvc"><wd:Import_Process_Reference>'
    b'<wd:ID wd:type="WID">&x;</wd:ID></wd:Import_Process_Reference></wd:Put_Import_Process_Response>'
    b"</soapenv:Body></soapenv:Envelope>"
)
HUGE_BYTES = 50 * 1024 * 1024


def huge_chunks(chunk: int = 1024 * 1024) -> Iterable[bytes]:
    """A 50 MB answer, well formed as far as it goes, sent a megabyte at a time."""
    head = b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><x>'
    yield head
    sent = len(head)
    while sent < HUGE_BYTES:
        yield b"a" * chunk
        sent += chunk
