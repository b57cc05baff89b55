"""Restarting the broker under a consumer: the shared RabbitMQ node's application, or a NATS
server of the test's own (natsd.py).

RabbitMQ runs once on the machine (a node takes long to boot and its Erlang cookie and name are
the system's): ``rabbitmqctl stop_app`` closes every connection and stops the broker inside the
node, ``start_app`` starts it again with its quorum queues and persistent messages. Other tests
on the machine lose their connections for those seconds, as they would on a real restart, so
``restarted`` always starts the application again, whatever happened while it was down.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import aio_pika
from brokers import RABBIT, RABBITMQCTL


class Restartable(Protocol):
    @property
    def url(self) -> str: ...
    def stop(self, *, kill: bool = False) -> None: ...
    def start(self, timeout: float = 30) -> None: ...


class RabbitNode:
    """The shared node at 127.0.0.1:5672. It cannot be SIGKILLed (every test on the machine
    uses it): ``kill`` stops its application all the same, and its connections drop at once."""

    url = RABBIT

    def stop(self, *, kill: bool = False) -> None:
        _ctl("stop_app")

    def start(self, timeout: float = 120) -> None:
        """Start the application and return once it takes connections again."""
        _ctl("start_app")
        deadline = time.monotonic() + timeout
        while not asyncio.run(_accepts()):
            if time.monotonic() > deadline:
                raise RuntimeError("RabbitMQ did not take connections again in time")
            time.sleep(0.2)


def _ctl(command: str) -> None:
    subprocess.run([RABBITMQCTL, command], check=True, capture_output=True, timeout=120)


async def _accepts() -> bool:
    try:
        connection = await aio_pika.connect(RABBIT, timeout=5)
    except Exception:  # refused, or the node is still booting the application
        return False
    try:
        await connection.channel()
        return True
    finally:
        await connection.close()


@contextmanager
def restarted(server: Restartable, *, kill: bool = False) -> Iterator[None]:
    """The broker is down inside the block; it is started again on leaving it, even when the
    block (or the stop itself) fails."""
    try:
        server.stop(kill=kill)
        yield
    finally:
        server.start()
