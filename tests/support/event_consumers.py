"""Consumers of revbridge's events out for tests: a loopback webhook endpoint (a real HTTP server
in a thread) that records every delivery and can be told to fail, and the checks every consumer
applies to a CloudEvent (structured mode, PHI-free)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUIRED = {"specversion", "id", "source", "type", "time", "datacontenttype", "data"}


@dataclass
class Delivery:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Endpoint:
    url: str = ""
    fail_next: int = 0  # answer this many requests with HTTP 500
    delay: float = 0.0  # seconds before answering each request
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[dict[str, object]]:
        with self.lock:
            return [json.loads(d.body) for d in self.deliveries if d.status == 200]


@contextmanager
def webhook_endpoint() -> Iterator[Endpoint]:
    endpoint = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(endpoint.delay)
            with endpoint.lock:
                status = 500 if endpoint.fail_next > 0 else 200
                endpoint.fail_next = max(0, endpoint.fail_next - 1)
                endpoint.deliveries.append(Delivery(status, dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/revbridge"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def check_cloudevent(event: dict[str, object], *, source: str) -> None:
    """Structured-mode CloudEvents 1.0 with every attribute revbridge promises."""
    assert set(event) >= REQUIRED, sorted(event)
    assert event["specversion"] == "1.0"
    assert event["source"] == source
    assert event["datacontenttype"] == "application/json"
    assert isinstance(event["data"], dict)
    assert str(event["time"]).endswith("Z")
