"""TLS on both listeners, with certificates made here: a CA, a server certificate, client
certificates for an allowed and an unknown sender, and one from a CA nobody trusts.

HTTPS serves the API (clients authenticate with keys or tokens on top); MLLP over TLS requires a
client certificate from the configured CA and, with an allowlist, one of the named subjects.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from runtime import build_runtime
from sqlalchemy import func, select

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.store import apikeys
from revbridge.store.schema import messages

SB, EB = b"\x0b", b"\x1c\x0d"
ALLOWED_CN = "lab-interface.f01.example"
NOW = dt.datetime.now(dt.UTC)


def message(control_id: str) -> bytes:
    return (
        f"MSH|^~\\&|LAB|F01|RB|RB|20261102120000||ADT^A08|{control_id}|P|2.5\r"
        "EVN|A08|20261102120000\rPID|1||MRN-TLS\rPV1|1|O\r"
    ).encode()


@dataclass
class Issued:
    cert: Path
    key: Path


class Authority:
    def __init__(self, directory: Path, name: str) -> None:
        self.dir = directory
        self.label = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.path = directory / f"{name}.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        stem = f"{self.label}--{common_name}"  # the rogue CA issues the same name: keep files apart
        cert_path, key_path = self.dir / f"{stem}.crt", self.dir / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return Issued(cert_path, key_path)


@dataclass
class Pki:
    ca: Authority
    server: Issued
    allowed: Issued
    unlisted: Issued
    rogue: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = Authority(directory, "revbridge-test-ca")
    rogue_ca = Authority(directory, "rogue-ca")
    return Pki(
        ca=ca,
        server=ca.issue("localhost", server=True),
        allowed=ca.issue(ALLOWED_CN, server=False),
        unlisted=ca.issue("someone-else.example", server=False),
        rogue=rogue_ca.issue(ALLOWED_CN, server=False),  # right name, wrong issuer
    )


@pytest.fixture(scope="module")
def served(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Service]]:
    home = tmp_path_factory.mktemp("tls")
    rt = build_runtime(
        f"sqlite:///{home / 'tls.db'}",
        home,
        http_port=0,
        mllp_port=0,
        tls_cert=pki.server.cert,
        tls_key=pki.server.key,
        tls_client_ca=pki.ca.path,
        tls_client_allow=[ALLOWED_CN],
    )
    service = Service(rt, workers=0)
    service.start()
    try:
        yield rt, service
    finally:
        service.stop()
        rt.close()


def client_context(pki: Pki, identity: Issued | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca.path))
    if identity is not None:
        context.load_cert_chain(str(identity.cert), str(identity.key))
    return context


def mllp_exchange(port: int, payload: bytes, context: ssl.SSLContext | None) -> bytes:
    """Send one frame and return the reply; b'' when the listener refused the conversation."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname="localhost")
        sock.sendall(SB + payload + EB)
        reply = b""
        while not reply.endswith(EB):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply
    except (ssl.SSLError, ConnectionError):
        return b""
    finally:
        sock.close()


def stored(rt: Runtime) -> int:
    with rt.db.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())


def test_https_serves_the_api_to_clients_that_trust_the_ca(served: tuple[Runtime, Service], pki: Pki) -> None:
    rt, service = served
    _, key = apikeys.create(
        rt.db, name="tls", roles=(Role.VIEWER,), now=rt.clock.now(), actor="t", anchor=None
    )
    base = f"https://127.0.0.1:{service.http_port}"
    with httpx.Client(verify=client_context(pki, None)) as client:
        assert client.get(f"{base}/healthz").json() == {"status": "ok"}
        assert client.get(f"{base}/api/v1/status", headers={"X-API-Key": key}).status_code == 200
        assert client.get(f"{base}/api/v1/status").status_code == 401


def test_https_is_refused_by_clients_that_do_not_trust_the_server(served: tuple[Runtime, Service]) -> None:
    _, service = served
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://127.0.0.1:{service.http_port}/healthz")


def test_plain_http_to_the_tls_port_gets_no_api(served: tuple[Runtime, Service]) -> None:
    _, service = served
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{service.http_port}/healthz", timeout=5)


def test_mllp_over_tls_accepts_the_allowed_client(served: tuple[Runtime, Service], pki: Pki) -> None:
    rt, service = served
    before = stored(rt)
    reply = mllp_exchange(service.mllp_port, message("TLS-OK-1"), client_context(pki, pki.allowed))
    assert reply.startswith(SB) and b"MSA|AA|TLS-OK-1" in reply
    assert stored(rt) == before + 1


@pytest.mark.parametrize("who", ["unlisted", "rogue", "no_certificate", "plain_tcp"])
def test_mllp_over_tls_refuses_everyone_else(served: tuple[Runtime, Service], pki: Pki, who: str) -> None:
    rt, service = served
    before = stored(rt)
    context = {
        "unlisted": lambda: client_context(pki, pki.unlisted),
        "rogue": lambda: client_context(pki, pki.rogue),
        "no_certificate": lambda: client_context(pki, None),
        "plain_tcp": lambda: None,
    }[who]()
    assert mllp_exchange(service.mllp_port, message(f"TLS-NO-{who}"), context) == b""
    assert stored(rt) == before


def test_mllp_client_refuses_a_server_it_does_not_trust(served: tuple[Runtime, Service], pki: Pki) -> None:
    _, service = served
    stranger = ssl.create_default_context()  # system CAs only: our test CA is not among them
    stranger.load_cert_chain(str(pki.allowed.cert), str(pki.allowed.key))
    with (
        socket.create_connection(("127.0.0.1", service.mllp_port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        stranger.wrap_socket(raw, server_hostname="localhost")
