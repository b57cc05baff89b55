"""Settings precedence, the embedded key file, and structured logs without payload content."""

from __future__ import annotations

import io
import json
import stat
import sys
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime

from revbridge.core.errors import ConfigurationError
from revbridge.observability import logging as rblog
from revbridge.settings import load_settings
from revbridge.store.messages import Arrival


def test_precedence_is_flags_then_environment_then_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = tmp_path / "settings.yaml"
    yaml_file.write_text("http_port: 9001\nmllp_port: 2600\nlease_seconds: 12\n")
    monkeypatch.setenv("REVBRIDGE_MLLP_PORT", "2700")
    monkeypatch.delenv("REVBRIDGE_DB", raising=False)
    s = load_settings(yaml_file, http_port=None, lease_seconds=30.0)
    assert s.http_port == 9001  # from YAML (the flag was not given)
    assert s.mllp_port == 2700  # the environment beats YAML
    assert s.lease_seconds == 30.0  # a flag beats both
    assert s.db_url.startswith("sqlite:///") and s.db_url.endswith(".revbridge/revbridge.db")


def test_a_broken_settings_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "settings.yaml"
    bad.write_text("http_port: [oops\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_settings(bad)


def test_the_embedded_key_file_is_private_and_announced_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    build_runtime(url, tmp_path, formats=FORMATS).close()
    first = capsys.readouterr().err
    build_runtime(url, tmp_path, formats=FORMATS).close()
    second = capsys.readouterr().err
    key_file = tmp_path / "keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "created a local encryption key file" in first
    assert "created a local encryption key file" not in second


def test_worker_logs_are_json_with_ids_and_never_payload(tmp_path: Path) -> None:
    stream = io.StringIO()
    rblog.configure("INFO", json_lines=True, stream=stream)
    try:
        rt = build_runtime(f"sqlite:///{tmp_path / 'l.db'}", tmp_path, formats=FORMATS)
        mid = rt.store.accept(
            Arrival(channel="t", format="lines", payload=b"CHARGE c1 1\nNAME Sentinel-Pomegranate")
        ).message_id
        rt.store.accept(Arrival(channel="t", format="lines", payload=b"RAISE\nNAME Sentinel-Pomegranate"))
        rt.worker().drain()
        rt.close()
    finally:
        rblog.configure("INFO", json_lines=True)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    assert any(entry.get("message_id") == mid and entry["event"] == "message.done" for entry in lines)
    assert all("timestamp" in entry and "level" in entry for entry in lines)
    assert "Sentinel-Pomegranate" not in stream.getvalue()


def test_the_log_level_setting_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    rblog.configure("INFO", json_lines=True, stream=stream)
    monkeypatch.setenv("REVBRIDGE_LOG_LEVEL", "WARNING")
    try:
        rt = build_runtime(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, formats=FORMATS)
        rt.store.accept(Arrival(channel="t", format="lines", payload=b"CHARGE c1 1"))
        rt.store.accept(Arrival(channel="t", format="lines", payload=b"RAISE"))
        rt.worker().drain()
        rt.close()
    finally:
        rblog.configure("INFO", json_lines=True)
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines() if line.strip()]
    assert events == ["message.retry"]  # the warning, in the stream chosen before; no message.done


def test_an_invalid_setting_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVBRIDGE_WORKBENCH_IDLE_MINUTES", "-5")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "invalid setting workbench_idle_minutes: Input should be greater than or equal to 0"
    )


def test_logs_go_to_a_file_for_a_block_then_back_where_they_went(tmp_path: Path) -> None:
    """The demo's terminal shows progress: its log lines go to a file, at the level in force."""
    before = io.StringIO()
    rblog.configure("WARNING", json_lines=True, stream=before)
    log = tmp_path / "demo" / "revbridge.log"
    try:
        with rblog.to_file(log):
            rblog.get_logger("t").warning("inside.block", n=1)
            rblog.get_logger("t").info("below.the.level")
        rblog.get_logger("t").warning("after.block")
    finally:
        rblog.configure("INFO", json_lines=True)
    assert [json.loads(line)["event"] for line in log.read_text().splitlines()] == ["inside.block"]
    assert [json.loads(line)["event"] for line in before.getvalue().splitlines()] == ["after.block"]


def test_the_events_out_examples_are_valid_settings() -> None:
    """examples/config/events: each documented sink's example loads as it is written."""
    folder = Path(__file__).resolve().parents[2] / "examples" / "config" / "events"
    sinks = {}
    for path in sorted(folder.glob("*.yaml")):
        loaded = load_settings(path)
        sinks[path.stem] = loaded.events_sink
        assert loaded.events_url and loaded.events_source == "/revbridge/mercy-health"
    assert sinks == {"nats": "nats", "rabbitmq": "rabbitmq", "webhook": "webhook"}


def test_logging_configured_while_stderr_was_swapped_survives_that_stream_closing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A command run under click's CliRunner configures logging while sys.stderr is the runner's
    stream, which is closed afterwards; later log lines go to the stderr of their own time."""
    swapped = io.StringIO()
    real = sys.stderr
    sys.stderr = swapped
    try:
        rblog.configure("INFO", json_lines=True)
        rblog.get_logger("t").info("while.swapped")
    finally:
        sys.stderr = real
    swapped.close()
    try:
        rblog.get_logger("t").info("after.close")  # raised "I/O operation on closed file" before
    finally:
        rblog.configure("INFO", json_lines=True)
    assert "after.close" in capsys.readouterr().err
