"""The broker-sources settings block: the documented example loads, mistakes are refused with one
clear line (never a password), and the pieces a consumer derives from it (the URL with the
password put in, the dedupe key) are what the docs promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from revbridge.core.errors import ConfigurationError
from revbridge.settings import BrokerSource, load_settings
from revbridge.sources.broker import BrokerIntake, Delivery, with_password

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config" / "sources" / "brokers.yaml"


def _block(**overrides: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"name": "feed", "broker": "rabbitmq", "url": "amqp://rb@mq/", "queue": "q1"}
    block.update(overrides)
    return {k: v for k, v in block.items() if v is not None}


def test_the_documented_example_loads() -> None:
    rabbit, jet = load_settings(EXAMPLE).broker_sources
    assert (rabbit.broker, rabbit.queue, rabbit.format, rabbit.prefetch) == (
        "rabbitmq",
        "hl7.adt.dft",
        "hl7v2",
        200,
    )
    assert (jet.broker, jet.stream, jet.consumer, jet.ack_wait_seconds) == (
        "nats",
        "CLEARINGHOUSE",
        "revbridge-remits",
        60,
    )


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"url": "amqp://rb:s3cret-pw@mq/"}, "must not hold a password"),
        ({"url": "nats://mq:4222"}, "a rabbitmq url starts with amqp://"),
        ({"queue": None}, "names a queue"),
        ({"broker": "nats", "url": "nats://mq:4222"}, "names a stream"),
        ({"format": "csv"}, "format"),
        ({"prefetch": 0}, "prefetch"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_mistakes_are_refused_with_one_line(
    tmp_path: Path, overrides: dict[str, Any], complaint: str
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"broker_sources": [_block(**overrides)]}), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert complaint in message and "\n" not in message
    assert "s3cret-pw" not in message


def test_the_password_goes_into_the_url_quoted() -> None:
    assert with_password("amqp://rb@mq:5672/vh", "p@ss/w:rd") == "amqp://rb:p%40ss%2Fw%3Ard@mq:5672/vh"
    assert with_password("nats://mq:4222", None) == "nats://mq:4222"


def test_the_dedupe_key_is_the_broker_message_id_else_the_content_hash() -> None:
    from revbridge.observability.metrics import Metrics

    rabbit = BrokerIntake(config=BrokerSource.model_validate(_block()), intake=None, metrics=Metrics())  # type: ignore[arg-type]
    nats = BrokerIntake(
        config=BrokerSource.model_validate(
            _block(broker="nats", url="nats://mq:4222", queue=None, stream="S1")
        ),
        intake=None,  # type: ignore[arg-type]
        metrics=Metrics(),
    )
    assert rabbit.dedupe_key(Delivery(body=b"x", message_id="m-1", deliveries=1)) == "amqp:q1:m-1"
    assert nats.dedupe_key(Delivery(body=b"x", message_id="m-1", deliveries=3)) == "nats:S1:m-1"
    hashed = rabbit.dedupe_key(Delivery(body=b"x", message_id=None, deliveries=1))
    assert hashed == "amqp:q1:sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    long = rabbit.dedupe_key(Delivery(body=b"x", message_id="i" * 600, deliveries=1))
    assert long.startswith("amqp:q1:id-sha256:") and len(long) < 512
