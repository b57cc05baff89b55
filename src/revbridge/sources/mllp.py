"""The MLLP listener: HL7 v2 over TCP, framed as 0x0B <message> 0x1C 0x0D (HL7 v2 appendix C).

One connection carries many messages; each frame gets exactly one ACK, sent only after the
handler has committed the message, so a sender that got AA can forget the message. Bytes before a
start block are skipped and counted (senders that pad or send keep-alives). A frame over the size
limit gets an AR and the connection is closed, because the rest of the stream cannot be trusted to
be framed. Idle connections are closed after a timeout; each peer address may hold only so many
connections. TLS is optional, with an optional allowlist of client certificate subjects.

Concurrent connections share the store's group commit, so many senders cost few fsyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics

START = b"\x0b"
END = b"\x1c\x0d"

log = get_logger("revbridge.mllp")

# frame, peer -> the ACK bytes to send back
FrameHandler = Callable[[bytes, str], Awaitable[bytes]]
# an oversized frame's first bytes (for echoing its MSH), the limit -> the AR to send
RejectBuilder = Callable[[bytes, int], bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class MllpSettings:
    host: str = "127.0.0.1"
    port: int = 2575
    max_frame: int = 1024 * 1024
    idle_timeout: float = 300.0
    max_connections_per_peer: int = 16
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # require client certificates signed by this CA
    tls_client_allow: tuple[str, ...] = field(default=())  # allowed client certificate subject CNs


def server_tls(settings: MllpSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key) if settings.tls_key else None)
    if settings.tls_client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(settings.tls_client_ca))
    return context


def _subject_cn(writer: asyncio.StreamWriter) -> str | None:
    cert = writer.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class MllpServer:
    def __init__(
        self, settings: MllpSettings, handler: FrameHandler, reject: RejectBuilder, metrics: Metrics
    ) -> None:
        self.settings = settings
        self._handler = handler
        self._reject = reject
        self._metrics = metrics
        self._per_peer: Counter[str] = Counter()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the MLLP server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.settings.host, self.settings.port, ssl=server_tls(self.settings), limit=2**16
        )
        log.info(
            "mllp.listening", host=self.settings.host, port=self.port, tls=self.settings.tls_cert is not None
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if peername else "unknown"
        if self._per_peer[peer] >= self.settings.max_connections_per_peer:
            log.warning("mllp.refused", peer=peer, reason="too many connections from this peer")
            writer.close()
            return
        if self.settings.tls_client_allow:
            cn = _subject_cn(writer)
            if cn not in self.settings.tls_client_allow:
                log.warning("mllp.refused", peer=peer, reason="client certificate not on the allowlist")
                writer.close()
                return
        self._per_peer[peer] += 1
        self._metrics.mllp_connections.inc()
        try:
            await self._conversation(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.info("mllp.disconnected", peer=peer, reason=type(exc).__name__)
        finally:
            self._per_peer[peer] -= 1
            if not self._per_peer[peer]:
                del self._per_peer[peer]
            self._metrics.mllp_connections.dec()
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def _conversation(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        buffer = bytearray()
        limit = self.settings.max_frame
        while True:
            start = buffer.find(START)
            if start < 0:
                if buffer:
                    self._metrics.mllp_skipped_bytes.inc(len(buffer))
                    buffer.clear()
            elif start > 0:
                self._metrics.mllp_skipped_bytes.inc(start)
                del buffer[:start]
            end = buffer.find(END, 1) if buffer else -1
            # content so far: after the start block, not counting a 0x1C whose 0x0D is still to come
            pending = len(buffer) - len(START) - (1 if buffer.endswith(END[:1]) else 0)
            if end > limit + len(START) or (end < 0 and pending > limit):
                log.warning("mllp.frame_too_large", peer=peer, limit=limit)
                writer.write(START + self._reject(bytes(buffer[1:65537]), limit) + END)
                await writer.drain()
                return
            if end >= 0:
                frame = bytes(buffer[1:end])
                del buffer[: end + len(END)]
                received = time.perf_counter()
                ack = await self._handler(frame, peer)
                writer.write(START + ack + END)
                await writer.drain()
                self._metrics.mllp_ack.observe(time.perf_counter() - received)
                continue
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout=self.settings.idle_timeout)
            except TimeoutError:
                log.info("mllp.idle_timeout", peer=peer)
                return
            if not chunk:
                return
            buffer += chunk
