"""XML to and from the SOAP and XML ERPs (SAP S/4HANA, Workday, Infor ION), safely.

Every XML document revbridge reads from an ERP goes through ``parse``: defusedxml over expat with
DTDs, entity declarations and external references all forbidden, after a size check, so a hostile
confirmation (a billion laughs, an external entity, a 50 MB body) is refused with ``UnsafeXml``
before it can cost memory or reach the network. SOAP answers never carry a DTD (SOAP 1.1 section
3: "A SOAP message MUST NOT contain a Document Type Declaration"), so refusing one loses nothing.

Documents revbridge sends are built with lxml (``element``/``sub``) and wrapped by ``envelope``
in a SOAP 1.1 or 1.2 envelope; ``fault`` reads a SOAP fault of either version. Tests check every
document built here against the ERP's schema (tests/support/xsd/).
"""

from __future__ import annotations

import xml.etree.ElementTree as StdTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException
from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
MAX_BYTES = 8 * 1024 * 1024  # an ERP's answer to one call; a larger one is refused unread
CONTENT_TYPES = {SOAP11: "text/xml; charset=utf-8", SOAP12: "application/soap+xml; charset=utf-8"}

Element = StdTree.Element  # what ``parse`` returns: a plain ElementTree element


class UnsafeXml(ValueError):
    """An XML document revbridge will not read: too large, not well formed, or carrying a DTD,
    an entity declaration or an external reference. The message names which, never the content."""


def parse(body: bytes | str, *, limit: int = MAX_BYTES) -> Element:
    """The root element of ``body``, read with DTDs, entities and external references forbidden."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > limit:
        raise UnsafeXml(f"the XML document is {len(raw)} bytes, over the {limit}-byte limit")
    try:
        root: Element = SafeTree.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        return root
    except DefusedXmlException as exc:
        raise UnsafeXml(f"the XML document was refused: {type(exc).__name__}") from None
    except StdTree.ParseError as exc:
        raise UnsafeXml(f"the XML document is not well formed ({exc})") from None


def local(tag: str) -> str:
    """A tag without its namespace: ``{ns}Name`` -> ``Name``."""
    return tag.rpartition("}")[2]


def find(root: Element, *names: str) -> Element | None:
    """The first descendant along a path of local names, whatever their namespaces
    (``find(root, "Body", "Fault")``): ERPs qualify the same element differently."""
    current: Element | None = root
    for name in names:
        if current is None:
            return None
        current = next((e for e in current.iter() if e is not current and local(e.tag) == name), None)
    return current


def text(root: Element, *names: str, default: str = "") -> str:
    found = find(root, *names)
    return (found.text or "").strip() if found is not None and found.text is not None else default


def every(root: Element, name: str) -> list[Element]:
    """Every descendant with this local name, in document order."""
    return [e for e in root.iter() if local(e.tag) == name]


def element(
    tag: str, value: object = None, nsmap: Mapping[str | None, str] | None = None, **attrs: str
) -> Any:
    """A new lxml element (``{ns}name`` tags), its text ``value`` when given."""
    made = etree.Element(tag, attrib=attrs or None, nsmap=dict(nsmap) if nsmap else None)
    if value is not None:
        made.text = str(value)
    return made


def sub(parent: Any, tag: str, value: object = None, **attrs: str) -> Any:
    """A child of ``parent``, its text ``value`` when given (nothing added for ``None`` children
    built by ``subs``)."""
    made = etree.SubElement(parent, tag, attrib=attrs or None)
    if value is not None:
        made.text = str(value)
    return made


def subs(parent: Any, namespace: str, pairs: Iterable[tuple[str, object]]) -> None:
    """Children in order from (name, value) pairs; a pair whose value is None or "" is left out."""
    for name, value in pairs:
        if value is not None and value != "":
            sub(parent, f"{{{namespace}}}{name}" if namespace else name, value)


def envelope(body: Any, *, header: Any = None, soap: str = SOAP11) -> bytes:
    """``body`` (and ``header`` elements) in a SOAP envelope, as UTF-8 bytes with a declaration."""
    root = etree.Element(f"{{{soap}}}Envelope", nsmap={"soapenv": soap})
    if header is not None:
        head = etree.SubElement(root, f"{{{soap}}}Header")
        for part in header if isinstance(header, list | tuple) else [header]:
            head.append(part)
    etree.SubElement(root, f"{{{soap}}}Body").append(body)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def serialize(root: Any) -> bytes:
    """An lxml element as a UTF-8 document with its declaration."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@dataclass(frozen=True, slots=True)
class Fault:
    """A SOAP fault of either version: its code (``soapenv:Client``, ``env:Sender``...), its text
    and the text of its detail, whitespace collapsed."""

    code: str
    message: str
    detail: str = ""

    @property
    def client(self) -> bool:
        """The sender's fault (the request was refused): SOAP 1.1 Client, SOAP 1.2 Sender."""
        return self.code.rpartition(":")[2].split(".")[0] in ("Client", "Sender")


def fault(root: Element) -> Fault | None:
    """The SOAP fault in an envelope, or None when its body holds none."""
    found = find(root, "Body", "Fault")
    if found is None:
        return None
    if find(found, "Code") is not None:  # SOAP 1.2: Code/Value, Reason/Text, Detail
        code, message = text(found, "Code", "Value"), text(found, "Reason", "Text")
        detail = find(found, "Detail")
    else:  # SOAP 1.1: faultcode, faultstring, detail
        code, message = text(found, "faultcode"), text(found, "faultstring")
        detail = find(found, "detail")
    words = " ".join(" ".join(detail.itertext()).split()) if detail is not None else ""
    return Fault(code=code, message=" ".join(message.split()), detail=words)
