"""The SFTP settings block: the documented example loads, defaults are the safe ones (host key
checked, files moved, taken when stable), and mistakes are refused with one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from revbridge.core.errors import ConfigurationError
from revbridge.settings import SftpSource, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config" / "sources" / "sftp.yaml"


def _block(**overrides: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "name": "ch",
        "host": "sftp.example.org",
        "username": "era",
        "folder": "/outbound/835",
        "client_key": "/etc/revbridge/key",
    }
    block.update(overrides)
    return block


def test_the_documented_example_loads() -> None:
    settings = load_settings(EXAMPLE)
    clearinghouse, payer = settings.sftp_sources
    assert (clearinghouse.name, clearinghouse.after, clearinghouse.ready) == (
        "clearinghouse",
        "move",
        "stable",
    )
    assert clearinghouse.done == "/outbound/done" and clearinghouse.rejected == "/outbound/rejected"
    assert (payer.after, payer.ready, payer.password_env) == ("remember", "marker", "PAYER_SFTP_PASSWORD")


def test_defaults_check_the_host_key_and_move_stable_files() -> None:
    source = SftpSource.model_validate(_block(done_folder="/done835"))
    assert source.check_host_key and source.known_hosts is None  # ~/.ssh/known_hosts
    assert (source.after, source.ready, source.port, source.marker_suffix) == ("move", "stable", 22, ".ready")
    assert source.done == "/done835" and source.rejected == "/outbound/rejected"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"folder": "outbound"}, "folder must be an absolute path"),
        ({"client_key": None}, "give client_key or password_env"),
        ({"after": "delete"}, "after"),
        ({"ready": "soon"}, "ready"),
        ({"marker_suffix": "ready"}, "marker_suffix"),
        ({"name": "Bad Name"}, "name"),
        ({"password": "s3cret-pw"}, "password"),  # a password is never a setting: only password_env
    ],
)
def test_mistakes_are_refused_with_one_line(
    tmp_path: Path, overrides: dict[str, Any], complaint: str
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"sftp_sources": [_block(**overrides)]}), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert complaint in message and "\n" not in message
    assert "s3cret-pw" not in message


def test_the_block_can_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv("REVBRIDGE_SFTP_SOURCES", json.dumps([_block(after="remember")]))
    (source,) = load_settings().sftp_sources
    assert (source.name, source.after) == ("ch", "remember")
