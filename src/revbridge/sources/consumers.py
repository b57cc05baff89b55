"""The broker consumers by broker name: what bootstrap builds for each configured broker source,
and the one figure ``revbridge status`` asks a broker for (messages not yet delivered)."""

from __future__ import annotations

import asyncio

from revbridge.observability.metrics import Metrics
from revbridge.settings import BrokerSource
from revbridge.sources import jetstream, rabbitmq
from revbridge.sources.broker import BrokerIntake, IntakePort, with_password

Consumer = rabbitmq.RabbitConsumer | jetstream.JetStreamConsumer


def consumer(source: BrokerSource, intake: IntakePort, metrics: Metrics, password: str | None) -> Consumer:
    url = with_password(source.url, password)
    port = BrokerIntake(config=source, intake=intake, metrics=metrics)
    if source.broker == "rabbitmq":
        return rabbitmq.RabbitConsumer(config=source, intake=port, url=url)
    return jetstream.JetStreamConsumer(config=source, intake=port, url=url)


def waiting(source: BrokerSource, password: str | None, timeout: float = 10.0) -> int:
    """Messages in the queue or stream not yet delivered to revbridge (raises when the broker
    cannot be asked within ``timeout`` seconds)."""
    url = with_password(source.url, password)
    ask = rabbitmq.waiting if source.broker == "rabbitmq" else jetstream.waiting
    return asyncio.run(asyncio.wait_for(ask(url, source), timeout))
