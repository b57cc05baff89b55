"""serve: the listeners, with workers in their own processes; worker: processing in this process."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer

from revbridge.bootstrap import Runtime
from revbridge.cli.common import DbOption, SettingsOption, console, open_runtime
from revbridge.cli.messages import process_all
from revbridge.service.allocator import limit_arenas
from revbridge.service.processes import WorkerProcesses
from revbridge.service.runner import Service


def run_server(runtime: Runtime, *, workers: int, child_args: list[str]) -> None:
    """Serve HTTP and MLLP, with ``workers`` worker processes, until interrupted."""
    limit_arenas()  # before the threads start: the heap stays flat (service/allocator.py)
    processes = WorkerProcesses(workers, child_args) if workers else None
    service = Service(
        runtime,
        mllp=runtime.settings.mllp_port != 0,
        workers=0,
        post=False,  # the worker processes run the posting loop and the outbox
        events=True,  # this process publishes events out (when a sink is configured), not its workers
        processes=processes,
    )
    service.start()
    _stop_on_term(service)  # before the line a supervisor may wait for, then signal
    mllp = f", MLLP on {runtime.settings.mllp_host}:{service.mllp_port}" if service.mllp else ""
    doing = f"{workers} worker process(es)" if workers else "intake only (no workers)"
    console.print(
        f"revbridge serving http://{runtime.settings.http_host}:{service.http_port}{mllp}, {doing}; "
        "Ctrl-C to stop"
    )
    service.wait()


def serve(
    host: Annotated[str | None, typer.Option("--host", help="HTTP listen address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="HTTP port.")] = None,
    mllp_port: Annotated[int | None, typer.Option("--mllp-port", help="MLLP port (0 disables).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Worker processes (each also runs the posting loop and the ERP outbox); 0: intake only.",
        ),
    ] = 1,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Serve the HTTP API and MLLP and process messages until interrupted (upgrades the schema first)."""
    limit_arenas()  # first of all, before any thread allocates (service/allocator.py)
    with open_runtime(
        db, settings, upgrade=True, http_host=host, http_port=port, mllp_port=mllp_port
    ) as runtime:
        child_args = [
            *(["--db", db] if db else []),
            *(["--settings", str(settings.resolve())] if settings else []),
        ]
        run_server(runtime, workers=workers, child_args=child_args)


def worker(
    threads: Annotated[int, typer.Option("--threads", min=1, help="Worker threads in this process.")] = 1,
    no_post: Annotated[
        bool, typer.Option("--no-post", help="Do not run the ERP outbox in this process.")
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Process what is claimable now, then exit.")] = False,
    nice: Annotated[
        int, typer.Option("--nice", min=0, max=19, help="Lower this process's CPU priority by this much.")
    ] = 0,
    wake_fd: Annotated[int | None, typer.Option("--wake-fd", hidden=True)] = None,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Claim stored messages and process them, run the posting loop and the ERP outbox (until
    interrupted, or once with --once). Any number of these share a PostgreSQL database."""
    if nice:
        os.nice(nice)
    limit_arenas()
    with open_runtime(db, settings) as runtime:
        if once:
            n = process_all(runtime, quiet=False)
            console.print(f"processed {n} message(s)")
            return
        service = Service(
            runtime,
            http=False,
            mllp=False,
            directory=False,
            staging=False,
            brokers=False,  # `revbridge serve` consumes the brokers, not its worker processes
            sftp=False,  # and polls the SFTP folders
            workers=threads,
            post=not no_post,
            events=wake_fd is None,  # a child of `revbridge serve`: the parent publishes events
        )
        service.start()
        if wake_fd is None:
            console.print(f"worker {runtime.worker().config.owner} running; Ctrl-C to stop")
        else:
            _listen_to_parent(wake_fd, runtime, service)
        _stop_on_term(service)
        service.wait()


def _listen_to_parent(fd: int, runtime: Runtime, service: Service) -> None:
    """A child of ``revbridge serve``: each byte on ``fd`` is a wake-up for the workers; the end
    of the pipe means the parent is gone, and this process stops."""

    def listen() -> None:
        while os.read(fd, 4096):
            runtime.arrivals.notify()
        service.request_stop()

    threading.Thread(target=listen, name="revbridge-parent", daemon=True).start()


def _stop_on_term(service: Service) -> None:
    """SIGTERM and the first Ctrl-C ask the service to stop (in ``wait``, within its grace); a
    second Ctrl-C is Python's KeyboardInterrupt again. The handler only sets a flag: raising
    KeyboardInterrupt into the main thread, or setting an Event from the handler, can land
    while the main thread holds a threading lock the stop then needs."""

    def handle(signo: int, _frame: object) -> None:
        if signo == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        service.request_stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
