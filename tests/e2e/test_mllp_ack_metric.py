"""The MLLP ACK latency the RevbridgeAckSlow alert reads: one observation per acknowledged frame,
covering the commit the ACK waits for (so it is never below the time the sender waited for)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hl7.client import MLLPClient
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.formats.hl7v2 import HL7V2
from revbridge.service import Service


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, Service]]:
    rt = build_runtime(f"sqlite:///{tmp_path / 'mllp.db'}", tmp_path, mllp_port=0, http_port=0)
    service = Service(rt, http=False, workers=1)
    service.start()
    yield rt, service
    service.stop()
    rt.close()


def test_every_ack_is_timed(served: tuple[Runtime, Service], corpus: Path) -> None:
    rt, service = served
    path = corpus / "hl7v2/redox__DFT_P03_parser_spec_cr.hl7"
    sent = [env.payload.decode() for env in HL7V2.split(path.read_bytes())][:1] * 3
    registry = rt.metrics.registry
    waited = 0.0
    with MLLPClient("127.0.0.1", service.mllp_port) as client:
        for message in sent:
            start = time.perf_counter()
            client.send_message(message)
            waited += time.perf_counter() - start
    deadline = time.monotonic() + 5  # the observation follows the write the client already read
    while registry.get_sample_value("revbridge_mllp_ack_seconds_count") != 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert registry.get_sample_value("revbridge_mllp_ack_seconds_count") == 3
    total = registry.get_sample_value("revbridge_mllp_ack_seconds_sum")
    assert total is not None and 0 < total <= waited
