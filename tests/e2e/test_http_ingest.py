"""HL7 v2 and X12 over HTTP for senders that do not speak MLLP or drop files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from runtime import build_runtime

from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.store import apikeys

DFT = "hl7v2/redox__DFT_P03_parser_spec_cr.hl7"
ERA = "x12_835/lfh_x12__medicare-part-a.835"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    rt = build_runtime(
        f"sqlite:///{tmp_path / 'h.db'}",
        tmp_path,
        http_port=0,
        max_body_bytes=64 * 1024,
        max_x12_bytes=8 * 1024,
    )
    key = apikeys.create(
        rt.db, name="feed", roles=(Role.SYSTEM,), now=rt.clock.now(), actor="t", anchor=None
    )[1]
    service = Service(rt, mllp=False, workers=0, directory=False, post=False)
    service.start()
    with httpx.Client(
        base_url=f"http://127.0.0.1:{service.http_port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as c:
        c.rt = rt  # type: ignore[attr-defined]
        yield c
    service.stop()
    rt.close()


def test_hl7v2_over_http_answers_the_ack_after_the_commit(client: httpx.Client, corpus: Path) -> None:
    body = (corpus / DFT).read_bytes()
    first = client.post("/api/v1/ingest/hl7v2", content=body)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("x-application/hl7-v2+er7")
    assert b"MSA|AA|152210" in first.content
    again = client.post("/api/v1/ingest/hl7v2", content=body, headers={"Accept": "application/json"})
    (answer,) = again.json()
    assert answer["status"] == "duplicate"
    assert answer["ack"].encode() == first.content  # the stored ACK, byte for byte
    assert client.rt.status()["messages"]["duplicate"] == 1  # type: ignore[attr-defined]


def test_hl7v2_without_a_usable_msh_gets_an_ar_and_stores_nothing(client: httpx.Client) -> None:
    response = client.post("/api/v1/ingest/hl7v2", content=b"PID|1||123\r")
    assert response.status_code == 400
    assert b"MSA|AR|" in response.content and b"\rERR|" in response.content
    assert sum(client.rt.status()["messages"].values()) == 0  # type: ignore[attr-defined]


def test_x12_over_http_is_stored_per_interchange_and_bounded(client: httpx.Client, corpus: Path) -> None:
    response = client.post("/api/v1/ingest/x12", content=(corpus / ERA).read_bytes())
    assert response.status_code == 202
    (stored,) = response.json()
    assert stored["format"] == "x12" and stored["status"] == "pending"
    too_big = client.post("/api/v1/ingest/x12", content=b"ISA" + b"*" * (9 * 1024))
    assert too_big.status_code == 413
    not_x12 = client.post("/api/v1/ingest/x12", content=b"hello")  # kept, never lost: excepted later
    assert not_x12.status_code == 202
    assert [p["code"] for p in not_x12.json()[0]["problems"]] == ["MALFORMED_MESSAGE"]
    assert client.post("/api/v1/ingest/x12", content=b"").status_code == 400


def test_ingest_routes_need_the_ingest_permission(client: httpx.Client, corpus: Path) -> None:
    viewer = apikeys.create(
        client.rt.db,
        name="v",
        roles=(Role.VIEWER,),
        now=client.rt.clock.now(),  # type: ignore[attr-defined]
        actor="t",
        anchor=None,
    )[1]
    body = (corpus / DFT).read_bytes()
    assert (
        client.post(
            "/api/v1/ingest/hl7v2", content=body, headers={"Authorization": f"Bearer {viewer}"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/ingest/hl7v2", content=body, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
