"""The ingest rate limit: a token bucket per principal, 429 with Retry-After, other routes untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lineformat import FORMATS
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.http.ratelimit import TokenBuckets
from revbridge.security.roles import Role
from revbridge.service.app import create_app
from revbridge.store import apikeys

HL7 = (
    b"MSH|^~\\&|LAB|F01|RB|RB|20261102120000||ADT^A08|{n}|P|2.5\r"
    b"EVN|A08|20261102120000\rPID|1||MRN{n}\rPV1|1|O\r"
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_one_per_interval() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # keys are independent
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refills only up to the burst


def test_bucket_memory_is_bounded_by_forgetting_full_buckets() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock, max_keys=10)
    for n in range(10):
        buckets.take(f"k{n}")
    clock.now += 5
    buckets.take("new")
    assert len(buckets._buckets) == 1


def test_bucket_rejects_a_nonsense_rate() -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate=0)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    # One token per 50 s: a slow moment of the host can never refill the bucket between two
    # requests of a test (at 2/s it did, and the third request of a burst passed).
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'rate.db'}", tmp_path, formats=FORMATS, ingest_rate_per_key=0.02
    )
    yield runtime
    runtime.close()


def key(rt: Runtime, *roles: Role) -> dict[str, str]:
    _, token = apikeys.create(rt.db, name="t", roles=roles, now=rt.clock.now(), actor="test", anchor=None)
    return {"X-API-Key": token}


def test_ingest_is_limited_per_key_with_retry_after(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    sender, other = key(rt, Role.SYSTEM), key(rt, Role.SYSTEM)
    codes = [
        client.post(
            "/api/v1/ingest/hl7v2", content=HL7.replace(b"{n}", str(n).encode()), headers=sender
        ).status_code
        for n in range(2)
    ]
    assert codes == [200, 429]
    limited = client.post("/api/v1/ingest/hl7v2", content=HL7.replace(b"{n}", b"9"), headers=sender)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 45
    assert "rate limit" in limited.json()["detail"]
    assert rt.status()["messages"]["pending"] == 1  # the refused ones were not stored
    assert (
        client.post("/api/v1/ingest/hl7v2", content=HL7.replace(b"{n}", b"5"), headers=other).status_code
        == 200
    )


def test_reading_routes_are_not_limited(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    viewer = key(rt, Role.VIEWER)
    assert {client.get("/api/v1/status", headers=viewer).status_code for _ in range(10)} == {200}


def test_unauthenticated_ingest_gets_401_not_429(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    assert {client.post("/api/v1/ingest/x12", content=b"ISA").status_code for _ in range(5)} == {401}


def test_a_rate_of_zero_turns_the_limit_off(tmp_path: Path) -> None:
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'free.db'}", tmp_path, formats=FORMATS, ingest_rate_per_key=0
    )
    try:
        client = TestClient(create_app(runtime))
        sender = key(runtime, Role.SYSTEM)
        codes = {
            client.post(
                "/api/v1/ingest/hl7v2", content=HL7.replace(b"{n}", str(n).encode()), headers=sender
            ).status_code
            for n in range(5)
        }
        assert codes == {200}
    finally:
        runtime.close()
