"""XML read from an ERP is read safely (issue 17): a hostile confirmation is refused without harm.

Each hostile document is one an attacker (or a broken proxy) could put in front of revbridge in
place of an ERP's answer: entity expansion (a billion laughs), an external entity reading a local
file, an external DTD fetched over the network, a 50 MB body. ``parse`` refuses each with
``UnsafeXml`` quickly and in bounded memory, and the message never quotes the document.
"""

from __future__ import annotations

import resource
import socket
import threading
import time

import pytest

from revbridge.connectors import xmldoc

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Confirmation><Note>&lol9;</Note></Confirmation>"""
EXTERNAL_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE c [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Confirmation><Note>&secret;</Note></Confirmation>"""


def _listener() -> tuple[socket.socket, list[bytes]]:
    """A TCP listener that records any connection made to it (an external DTD fetched)."""
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def accept() -> None:
        server.settimeout(2)
        try:
            conn, _ = server.accept()
            seen.append(conn.recv(1024))
            conn.close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    return server, seen


def test_an_erp_answer_is_read_with_its_namespaces_and_fault() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>
  <faultstring>Validation error occurred.
   Invalid ID value</faultstring><detail><x:Validation_Fault xmlns:x="urn:x">
  <x:Message>Ledger account 9999 is not valid</x:Message></x:Validation_Fault></detail>
 </soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
    found = xmldoc.fault(xmldoc.parse(body))
    assert found == xmldoc.Fault(
        "soapenv:Client", "Validation error occurred. Invalid ID value", "Ledger account 9999 is not valid"
    )
    assert found.client
    assert xmldoc.fault(xmldoc.parse(b"<Envelope><Body><ok/></Body></Envelope>")) is None


def test_a_soap12_fault_is_read_and_a_server_fault_is_not_the_senders() -> None:
    body = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault>'
        b"<e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text>down</e:Text></e:Reason>"
        b"</e:Fault></e:Body></e:Envelope>"
    )
    found = xmldoc.fault(xmldoc.parse(body))
    assert found is not None and found.message == "down" and not found.client


def test_entity_expansion_is_refused_fast_and_small() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(xmldoc.UnsafeXml, match="refused") as caught:
        xmldoc.parse(LAUGHS)
    assert time.perf_counter() - started < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    assert "lol" not in str(caught.value)


def test_an_external_entity_never_reads_the_file() -> None:
    with pytest.raises(xmldoc.UnsafeXml) as caught:
        xmldoc.parse(EXTERNAL_FILE)
    assert "root:" not in str(caught.value) and "passwd" not in str(caught.value)


def test_an_external_dtd_is_never_fetched() -> None:
    server, seen = _listener()
    port = server.getsockname()[1]
    body = f'<?xml version="1.0"?><!DOCTYPE c SYSTEM "http://127.0.0.1:{port}/evil.dtd"><c>x</c>'
    try:
        with pytest.raises(xmldoc.UnsafeXml):
            xmldoc.parse(body.encode())
        time.sleep(0.2)
        assert seen == []
    finally:
        server.close()


def test_a_50_mb_body_is_refused_unread() -> None:
    huge = b"<Confirmation>" + b"<Note>x</Note>" * (50 * 1024 * 1024 // 13) + b"</Confirmation>"
    started = time.perf_counter()
    with pytest.raises(xmldoc.UnsafeXml, match="over the"):
        xmldoc.parse(huge)
    assert time.perf_counter() - started < 0.1


def test_a_document_that_is_not_xml_is_one_line_that_quotes_nothing() -> None:
    with pytest.raises(xmldoc.UnsafeXml, match="not well formed") as caught:
        xmldoc.parse(b"<html><body>Bad Gateway MRN-SENTINEL-1</body>")
    assert "MRN-SENTINEL" not in str(caught.value) and "\n" not in str(caught.value)


def test_an_envelope_round_trips_through_parse() -> None:
    ns = "urn:example:journal"
    body = xmldoc.element(f"{{{ns}}}Request", nsmap={"j": ns})
    xmldoc.subs(body, ns, [("ID", "abc"), ("Empty", ""), ("Skipped", None), ("Amount", "12.50")])
    sent = xmldoc.envelope(body, header=xmldoc.element(f"{{{ns}}}Auth", "token"))
    assert sent.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = xmldoc.parse(sent)
    assert xmldoc.text(root, "Body", "Request", "Amount") == "12.50"
    assert xmldoc.text(root, "Header", "Auth") == "token"
    assert xmldoc.find(root, "Empty") is None and xmldoc.find(root, "Skipped") is None
    assert [xmldoc.local(e.tag) for e in xmldoc.every(root, "ID")] == ["ID"]
