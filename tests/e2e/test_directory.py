"""The directory source: complete files only, moved after commit, rejects kept with a reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime import build_runtime

from revbridge.core.errors import StoreUnavailable
from revbridge.sources.directory import DirectorySource
from revbridge.store import queue

ERA = "x12_835/lfh_x12__medicare-part-a.835"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[DirectorySource]:
    rt = build_runtime(f"sqlite:///{tmp_path / 'dir.db'}", tmp_path)
    src = DirectorySource(
        inbox=tmp_path / "drop" / "inbox",
        handler=lambda data, name: rt.intake.receive(data, channel=f"file:{name}"),
        stable_seconds=0.3,
    )
    src.prepare()
    src.rt = rt  # type: ignore[attr-defined]
    yield src
    rt.close()


def test_a_growing_file_waits_until_its_size_is_stable(source: DirectorySource, corpus: Path) -> None:
    data = (corpus / ERA).read_bytes()
    target = source.inbox / "era.835"
    target.write_bytes(data[:300])
    assert source.scan_once() == 0
    with target.open("ab") as fh:
        fh.write(data[300:])
    assert source.scan_once() == 0  # changed since the last look
    time.sleep(0.35)
    assert source.scan_once() == 1
    assert (source.done / "era.835").read_bytes() == data
    assert not target.exists()
    assert queue.counts(source.rt.db)["pending"] == 1  # type: ignore[attr-defined]


def test_a_ready_marker_means_complete_and_temporary_names_are_never_read(
    source: DirectorySource, corpus: Path
) -> None:
    (source.inbox / "era.835.part").write_bytes(b"half a file")
    (source.inbox / "era.835").write_bytes((corpus / ERA).read_bytes())
    (source.inbox / "era.835.ready").write_text("")
    assert source.scan_once() == 1
    assert not (source.inbox / "era.835.ready").exists()
    assert (source.inbox / "era.835.part").exists()


def test_an_unrecognisable_file_is_rejected_with_its_reason(source: DirectorySource) -> None:
    (source.inbox / "notes.txt").write_text("remember to call the payer")
    (source.inbox / "notes.txt.ready").write_text("")
    assert source.scan_once() == 1
    assert (source.rejected / "notes.txt").exists()
    assert "cannot tell the format" in (source.rejected / "notes.txt.reason").read_text()


def test_a_file_stays_in_the_inbox_when_the_store_fails(tmp_path: Path, corpus: Path) -> None:
    def failing(data: bytes, name: str) -> None:
        raise StoreUnavailable("database unreachable")

    src = DirectorySource(inbox=tmp_path / "inbox", handler=failing, stable_seconds=0)
    src.prepare()
    (src.inbox / "era.835").write_bytes((corpus / ERA).read_bytes())
    (src.inbox / "era.835.ready").write_text("")
    with pytest.raises(StoreUnavailable):
        src.scan_once()
    assert (src.inbox / "era.835").exists()
    assert (src.inbox / "era.835.ready").exists()


def test_the_same_file_dropped_twice_is_a_duplicate(source: DirectorySource, corpus: Path) -> None:
    for name in ("a.835", "b.835"):
        (source.inbox / name).write_bytes((corpus / ERA).read_bytes())
        (source.inbox / f"{name}.ready").write_text("")
    assert source.scan_once() == 2
    assert queue.counts(source.rt.db)["duplicate"] == 1  # type: ignore[attr-defined]
