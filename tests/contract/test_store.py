"""The store contract, run on SQLite and PostgreSQL: accept, dedupe, encryption at rest."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime
from sqlalchemy import select, update

from revbridge.core.errors import DecryptionError
from revbridge.store import workitems
from revbridge.store.messages import Arrival
from revbridge.store.schema import message_keys, messages


def _arrival(payload: bytes, key: str = "", ack: bytes | None = None) -> Arrival:
    return Arrival(channel="test", format="lines", payload=payload, dedupe_key=key, ack=ack)


def test_accept_commits_and_seals_the_payload(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        acc = rt.store.accept(_arrival(b"ID A1\nCHARGE k1 10.00\nNAME Sentinel-Zebulon", "A1"))
        assert acc.status == "pending"
        with rt.db.reading() as conn:
            row = conn.execute(select(messages).where(messages.c.id == acc.message_id)).one()
        assert row.payload is not None
        assert b"Sentinel-Zebulon" not in row.payload
        assert row.key_id == rt.keyring.active
        assert rt.store.open_payload(row.id, row.key_id, row.payload).endswith(b"NAME Sentinel-Zebulon")
        assert row.status == "pending" and row.size == len(b"ID A1\nCHARGE k1 10.00\nNAME Sentinel-Zebulon")
    finally:
        rt.close()


def test_duplicate_returns_the_original_and_its_ack(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        first = rt.store.accept(_arrival(b"ID A1\nCHARGE k1 1", "A1", ack=b"ACK-1"))
        again = rt.store.accept(_arrival(b"ID A1\nCHARGE k1 1", "A1", ack=b"ACK-2"))
        assert again.status == "duplicate"
        assert again.message_id == first.message_id == again.duplicate_of
        assert again.ack == b"ACK-1"
        with rt.db.reading() as conn:
            rows = conn.execute(select(messages.c.status, messages.c.duplicate_of)).all()
        assert sorted(r.status for r in rows) == ["duplicate", "pending"]
        assert rt.status()["messages"]["duplicate"] == 1
    finally:
        rt.close()


def test_same_key_other_content_is_a_conflict_and_overwrites_nothing(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        first = rt.store.accept(_arrival(b"ID A1\nCHARGE k1 1", "A1"))
        other = rt.store.accept(_arrival(b"ID A1\nCHARGE k1 2", "A1"))
        assert other.conflict and other.status == "excepted"
        assert other.message_id != first.message_id
        items = workitems.list_items(rt.db, code="DUPLICATE_CONFLICT")
        assert [i.message_id for i in items] == [other.message_id]
        with rt.db.reading() as conn:
            key_row = conn.execute(select(message_keys)).one()
            kept = conn.execute(select(messages).where(messages.c.id == first.message_id)).one()
        assert key_row.message_id == first.message_id
        assert rt.store.open_payload(kept.id, kept.key_id, kept.payload) == b"ID A1\nCHARGE k1 1"
    finally:
        rt.close()


def test_messages_without_control_id_dedupe_on_content(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        a = rt.store.accept(_arrival(b"CHARGE k1 1"))
        b = rt.store.accept(_arrival(b"CHARGE k1 1"))
        c = rt.store.accept(_arrival(b"CHARGE k2 1"))
        assert b.status == "duplicate" and b.duplicate_of == a.message_id
        assert c.status == "pending"
    finally:
        rt.close()


def test_a_ciphertext_moved_or_edited_fails_to_open(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        a = rt.store.accept(_arrival(b"CHARGE a 1"))
        b = rt.store.accept(_arrival(b"CHARGE b 1"))
        with rt.db.reading() as conn:
            row_a = conn.execute(select(messages).where(messages.c.id == a.message_id)).one()
        # the same bytes under another row id: the associated data no longer matches
        with pytest.raises(DecryptionError, match="tampered or misplaced"):
            rt.store.open_payload(b.message_id, row_a.key_id, row_a.payload)
        flipped = bytes([row_a.payload[0]]) + bytes([row_a.payload[1] ^ 1]) + row_a.payload[2:]
        with rt.db.transaction() as conn:
            conn.execute(update(messages).where(messages.c.id == a.message_id).values(payload=flipped))
        with pytest.raises(DecryptionError):
            rt.store.open_payload(a.message_id, row_a.key_id, flipped)
        with pytest.raises(DecryptionError, match="not in the keyring"):
            rt.store.open_payload(a.message_id, "nope", row_a.payload)
    finally:
        rt.close()


def test_concurrent_accepts_from_8_threads_are_distinct_and_durable(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    ids: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def produce(worker: int) -> None:
        try:
            for n in range(125):
                acc = rt.store.accept(
                    _arrival(f"ID W{worker}-{n}\nCHARGE k{worker}-{n} 1".encode(), f"W{worker}-{n}")
                )
                with lock:
                    ids.append(acc.message_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rt.close()
    assert not errors
    assert len(ids) == 1000 and len(set(ids)) == 1000

    reopened = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        with reopened.db.reading() as conn:
            stored = {r.id for r in conn.execute(select(messages.c.id))}
        assert stored == set(ids)
    finally:
        reopened.close()


def test_accept_many_dedupes_inside_one_group(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        results = rt.store.accept_many(
            [_arrival(b"ID X\nCHARGE x 1", "X"), _arrival(b"ID X\nCHARGE x 1", "X")]
        )
        assert [r.status for r in results] == ["pending", "duplicate"]
        assert results[1].duplicate_of == results[0].message_id
    finally:
        rt.close()
