"""The keyring: AES-256-GCM sealing bound to the row id, clear errors, and a ring that follows its
key file so that rotation by another process reaches running services."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from revbridge.core.errors import ConfigurationError, DecryptionError
from revbridge.security.keys import Keyring, load_keyring, new_keyring, read_key_file, write_key_file


def loaded(path: Path, active: str | None = None) -> Keyring:
    ring, _ = load_keyring(key_file=path, keys_spec=None, active=active, token_key=None, create=True)
    return ring


def age(ring: Keyring) -> None:
    """Let the ring's next use look at its key file (it checks at most once a second)."""
    assert ring.follow is not None
    ring.follow._checked -= 10


def rotate_elsewhere(path: Path, key_id: str) -> Keyring:
    rotated = read_key_file(path).with_new_key(key_id)
    write_key_file(path, rotated)
    return rotated


def test_seal_and_open_round_trip_bound_to_the_row() -> None:
    ring = new_keyring()
    kid, blob = ring.seal(b"MSH|...", aad="m-1")
    assert kid == "k1" and b"MSH" not in blob
    assert ring.open(kid, blob, aad="m-1") == b"MSH|..."
    with pytest.raises(
        DecryptionError, match="m-2 failed authentication under key 'k1': tampered or misplaced"
    ):
        ring.open(kid, blob, aad="m-2")  # moved to another row


@pytest.mark.parametrize("position", [0, 5, 12, 20, -1])
def test_any_flipped_bit_is_a_clear_decryption_error(position: int) -> None:
    ring = new_keyring()
    kid, blob = ring.seal(b"payload bytes", aad="m-1")
    tampered = bytearray(blob)
    tampered[position] ^= 0x80
    with pytest.raises(DecryptionError, match="tampered"):
        ring.open(kid, bytes(tampered), aad="m-1")


def test_truncated_and_unknown_key_payloads_are_clear_errors() -> None:
    ring = new_keyring()
    kid, blob = ring.seal(b"payload", aad="m-1")
    with pytest.raises(DecryptionError, match="truncated"):
        ring.open(kid, blob[:10], aad="m-1")
    with pytest.raises(DecryptionError, match="key 'k9', which is not in the keyring"):
        ring.open("k9", blob, aad="m-1")


def test_the_key_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    _, created = load_keyring(key_file=path, keys_spec=None, active=None, token_key=None, create=True)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_running_ring_opens_payloads_under_a_key_added_after_it_loaded(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    running = loaded(path)
    rotated = rotate_elsewhere(path, "k2")
    kid, blob = rotated.seal(b"sealed by the new key", aad="m-7")
    assert kid == "k2"
    assert running.open(kid, blob, aad="m-7") == b"sealed by the new key"  # re-read at once


def test_a_running_ring_seals_with_the_new_active_key_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    running = loaded(path)
    assert running.seal(b"x", aad="a")[0] == "k1"
    rotate_elsewhere(path, "k2")
    age(running)
    kid, blob = running.seal(b"x", aad="b")
    assert kid == "k2"
    assert read_key_file(path).open(kid, blob, aad="b") == b"x"
    assert running.current().active == "k2"


def test_following_never_forgets_a_key_nor_changes_the_token_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    running = loaded(path)
    token_before = running.tokenizer()("mrn", "12345")
    kid, old_blob = running.seal(b"old", aad="m-1")
    replaced = Keyring({"k5": os.urandom(32)}, "k5", os.urandom(32))  # a file with other keys entirely
    write_key_file(path, replaced)
    age(running)
    assert running.current().active == "k5"
    assert running.open(kid, old_blob, aad="m-1") == b"old"
    assert running.current().tokenizer()("mrn", "12345") == token_before


def test_a_pinned_active_key_stays_pinned(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_key_file(path, new_keyring("k1").with_new_key("k2"))
    running = loaded(path, active="k1")
    rotate_elsewhere(path, "k3")
    age(running)
    assert running.seal(b"x", aad="a")[0] == "k1"


def test_a_damaged_key_file_leaves_the_running_ring_working(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    running = loaded(path)
    path.write_text("{ not json")
    age(running)
    kid, blob = running.seal(b"still fine", aad="a")
    assert running.open(kid, blob, aad="a") == b"still fine"


def test_environment_keys_do_not_follow_anything() -> None:
    spec = f"k1:{base64.b64encode(os.urandom(32)).decode()},k2:{base64.b64encode(os.urandom(32)).decode()}"
    token = base64.b64encode(os.urandom(32)).decode()
    ring, created = load_keyring(
        key_file=Path("/nonexistent"), keys_spec=spec, active=None, token_key=token, create=True
    )
    assert not created and ring.follow is None
    assert ring.active == "k2" and ring.current() is ring


def test_key_ids() -> None:
    ring = new_keyring("k1")
    assert ring.next_key_id() == "k2"
    assert ring.with_new_key("k7").next_key_id() == "k8"
    assert Keyring({"prod-2026": os.urandom(32)}, "prod-2026", os.urandom(32)).next_key_id() == "k1"
    with pytest.raises(ConfigurationError):
        ring.with_new_key("k1")
    with pytest.raises(ConfigurationError):
        ring.with_new_key("bad id!")
    with pytest.raises(ConfigurationError, match="active key"):
        ring.without_key("k1")
    assert ring.with_new_key("k2").without_key("k1").keys.keys() == {"k2"}
