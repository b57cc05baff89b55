"""Events out (issue 19): what revbridge announces to downstream consumers (a data warehouse,
denial analytics, patient engagement) without their polling it.

The store writes each announcement into the event outbox in the same transaction as the change
it announces (store/announcements.py); the ``Publisher`` here claims unsent ones, sends them as
CloudEvents 1.0 (structured JSON, ``cloudevent.py``) to one sink (RabbitMQ, NATS JetStream or a
signed webhook, ``sinks.py``) and marks them sent: at least once, each with a stable id that
consumers dedupe on. Nothing here decides what is announced or reads a raw message.
"""

from revbridge.events.cloudevent import envelope, serialise
from revbridge.events.publisher import Publisher, PublisherConfig
from revbridge.events.sinks import SINKS, Sink, SinkError, sign

__all__ = ["SINKS", "Publisher", "PublisherConfig", "Sink", "SinkError", "envelope", "serialise", "sign"]
