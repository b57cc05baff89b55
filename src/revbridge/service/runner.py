"""The running service: HTTP API, MLLP listener and background loops.

``revbridge serve``, ``revbridge worker`` and ``revbridge demo`` run this; so do the end-to-end
tests, against real sockets. The HTTP server and the MLLP listener share one asyncio loop in a
thread; workers and the other background loops (batch windows, the ERP outbox) are threads with a
shared stop event, or, with ``processes``, child processes of their own (service/processes.py:
what ``revbridge serve`` does, so the listeners never wait for the workers' interpreter lock).
Ports may be 0 (pick a free one); the bound ports are known once ``start`` returns.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from revbridge.bootstrap import Runtime
from revbridge.connectors.base import Connector
from revbridge.observability.logging import get_logger
from revbridge.pipeline.dispatcher import Dispatcher
from revbridge.service.app import create_app
from revbridge.service.processes import STOP_SECONDS, WorkerProcesses
from revbridge.sources.directory import DirectorySource
from revbridge.sources.mllp import MllpServer, MllpSettings

log = get_logger("revbridge.service")

HTTP_GRACE_SECONDS = 5


@dataclass
class Service:
    runtime: Runtime
    http: bool = True
    mllp: bool = True
    workers: int = 1
    directory: bool = True
    staging: bool = True  # poll the configured database staging tables (settings.staging_sources)
    brokers: bool = True  # consume the configured RabbitMQ queues / NATS streams (settings.broker_sources)
    sftp: bool = True  # poll the configured SFTP folders (settings.sftp_sources)
    post: bool = True  # run the ERP outbox
    events: bool = True  # run the events-out publisher, when the settings configure a sink
    connector_for: Callable[[str], Connector] | None = None  # default: the configuration's connector
    loops: list[Callable[[threading.Event], None]] = field(default_factory=list)
    processes: WorkerProcesses | None = None  # workers in child processes (besides ``workers``)
    http_port: int = 0
    inbox: Path | None = None
    mllp_port: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _requested: bool = False  # set by request_stop, from a signal handler too
    _threads: list[threading.Thread] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _uvicorn: uvicorn.Server | None = None
    _mllp: MllpServer | None = None
    _dispatcher: Dispatcher | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._start_background()
        if not (self.http or self.mllp):
            return
        self._start_listeners(timeout)
        log.info("service.started", http_port=self.http_port, mllp_port=self.mllp_port, workers=self.workers)

    def _start_background(self) -> None:
        """The threads: workers, the posting loop, the ERP outbox, the drop folder, extra loops."""
        for n in range(self.workers):
            worker = self.runtime.worker(owner=f"{self.runtime.worker().config.owner}:{n}")
            self._spawn(f"worker-{n}", worker.run)
        if self.runtime.posting is not None and self.workers:
            self._spawn("posting", self.runtime.posting.run)
        if self.post:
            self._dispatcher = self.runtime.dispatcher(connector_for=self.connector_for)
            self._spawn("outbox", self._dispatcher.run)
        if self.directory:
            self._start_directory()
        if self.staging:
            for source in self.runtime.settings.staging_sources:
                self._spawn(f"staging-{source.name}", self.runtime.staging_poller(source).run)
        if self.brokers:  # each consumer runs its own asyncio loop in its thread
            for broker in self.runtime.settings.broker_sources:
                self._spawn(f"broker-{broker.name}", self.runtime.broker_consumer(broker).run)
        if self.sftp:
            for sftp in self.runtime.settings.sftp_sources:
                self._spawn(f"sftp-{sftp.name}", self.runtime.sftp_poller(sftp).run)
        publisher = self.runtime.publisher() if self.events else None
        if publisher is not None:
            self._spawn("events", publisher.run)
        for n, loop in enumerate(self.loops):
            self._spawn(f"loop-{n}", loop)
        if self.processes is not None:
            self.processes.start()
            self.runtime.arrivals.forward_to(self.processes.ring)
            self._spawn("supervisor", self.processes.supervise)

    def _start_directory(self) -> None:
        s = self.runtime.settings
        source = DirectorySource(
            inbox=s.resolved_inbox,
            handler=lambda data, name: self.runtime.intake.receive(data, channel=f"file:{name}"[:64]),
            stable_seconds=s.inbox_stable_seconds,
            poll_seconds=s.inbox_poll_seconds,
        )
        source.prepare()
        self.inbox = source.inbox
        self._spawn("directory", source.run)

    def _start_listeners(self, timeout: float) -> None:
        """MLLP and HTTP on one asyncio loop in a thread; returns once both listen (their ports
        known), or raises what stopped them from starting."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run_loop(_stop: threading.Event) -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._listen(ready, failure))
            self._loop.close()

        self._spawn("listeners", run_loop)
        if not ready.wait(timeout):
            raise RuntimeError("the listeners did not start in time")
        if failure:
            self.stop()
            raise failure[0]

    async def _listen(self, ready: threading.Event, failure: list[BaseException]) -> None:
        serving: asyncio.Future[None] | None = None
        try:
            if self.mllp:
                await self._open_mllp()
            if self.http:
                serving = await self._open_http()
        except BaseException as exc:  # handed to start()'s caller
            failure.append(exc)
            ready.set()
            return
        ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.1)
        if self._uvicorn is not None and serving is not None:
            self._uvicorn.should_exit = True
            await serving
        if self._mllp is not None:
            await self._mllp.stop()

    async def _open_mllp(self) -> None:
        s = self.runtime.settings
        self._mllp = MllpServer(
            MllpSettings(
                host=s.mllp_host,
                port=s.mllp_port,
                max_frame=s.mllp_max_frame,
                idle_timeout=s.mllp_idle_timeout,
                max_connections_per_peer=s.mllp_max_connections_per_peer,
                tls_cert=s.tls_cert,
                tls_key=s.tls_key,
                tls_client_ca=s.tls_client_ca,
                tls_client_allow=tuple(s.tls_client_allow),
            ),
            self.runtime.hl7.mllp_frame,
            self.runtime.hl7.oversized,
            self.runtime.metrics,
        )
        await self._mllp.start()
        self.mllp_port = self._mllp.port

    async def _open_http(self) -> asyncio.Future[None]:
        """Serve the application; the returned future ends when the server has shut down."""
        s = self.runtime.settings
        config = uvicorn.Config(
            create_app(self.runtime),
            host=s.http_host,
            port=s.http_port,
            log_level="warning",
            ssl_certfile=str(s.tls_cert) if s.tls_cert else None,
            ssl_keyfile=str(s.tls_key) if s.tls_key else None,
            lifespan="off",
            # requests still open at a stop get this long to be answered, then are cancelled
            # (the stop must not wait on a client that keeps its connection busy)
            timeout_graceful_shutdown=HTTP_GRACE_SECONDS,
        )
        self._uvicorn = uvicorn.Server(config)
        serving = asyncio.ensure_future(self._uvicorn.serve())
        while not self._uvicorn.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the HTTP server stopped while starting")
            await asyncio.sleep(0.02)
        self.http_port = int(self._uvicorn.servers[0].sockets[0].getsockname()[1])
        return serving

    def _spawn(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=f"revbridge-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def request_stop(self) -> None:
        """Ask ``wait`` to return and stop everything. Safe from a signal handler because it takes
        no lock: ``Event.set`` takes the event's lock, and a handler that runs while the main
        thread holds that very lock (inside ``Event.wait``) waits for itself forever, with every
        thread that waits on the event behind it (a serve that ignored Ctrl-C and SIGTERM)."""
        self._requested = True

    def stop(self, grace: float = STOP_SECONDS) -> None:
        """Stop everything within about ``grace`` seconds. The worker processes are asked first
        and stop while this process stops its threads (one deadline for all, not a wait per
        thread one after another); a child still busy at the deadline is killed (its leases
        make that safe), so Ctrl-C never waits for a worker's large remittance."""
        deadline = time.monotonic() + grace
        self._stop.set()
        if self.processes is not None:
            self.processes.terminate()
        self.runtime.arrivals.notify()  # the loops waiting on them look at the stop flag now
        self.runtime.staged.notify()
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.processes is not None:
            self.processes.stop(timeout=max(0.0, deadline - time.monotonic()))
        if self._dispatcher is not None:
            self._dispatcher.close()

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C) or asked (``request_stop``), then stop everything."""
        try:
            while not self._requested and not self._stop.wait(0.25):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
