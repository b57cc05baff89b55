"""`revbridge export --format parquet` on bad input: one clear line on stderr and a non-zero exit,
before anything is written; and an empty store exports three empty datasets with a `--json`
summary."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime import build_runtime
from typer.testing import CliRunner

from revbridge.bootstrap import Runtime
from revbridge.cli.app import app, main


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    yield runtime
    runtime.close()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ["--format", "orc", "--out", "{tmp}/w"],
            "--format must be one of csv, fbdi, beancount, parquet, not 'orc'",
        ),
        (["--format", "parquet", "--out", "{tmp}/a-file"], "is a file, not a directory"),
        (["--format", "parquet", "--out", "{tmp}/w", "--from", "2026-13-01"], "--from must be an ISO date"),
        (
            ["--format", "parquet", "--out", "{tmp}/w", "--from", "2026-06-02", "--to", "2026-06-01"],
            "--from 2026-06-02 is after --to 2026-06-01",
        ),
        (
            ["--format", "parquet", "--out", "{tmp}/w", "--status", "lost"],
            "--status must be posted or staged",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    rt: Runtime,
    tmp_path: Path,
    args: list[str],
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    monkeypatch.setenv("REVBRIDGE_HOME", str(rt.settings.home))
    monkeypatch.setattr(sys, "argv", ["revbridge", "export", *argv, "--db", rt.settings.db_url])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code not in (0, None)
    err = capsys.readouterr().err
    assert reason in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "w").exists(), "nothing is written on bad input"
    assert (tmp_path / "a-file").read_text() == "not a directory"


def test_an_empty_store_exports_empty_datasets(rt: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = CliRunner().invoke(
        app,
        ["export", "--format", "parquet", "--out", str(out), "--json", "--db", rt.settings.db_url],
        env={"REVBRIDGE_HOME": str(rt.settings.home)},
    )
    assert result.exit_code == 0, (result.output, result.exception)
    summary = json.loads(result.stdout)
    assert summary["format"] == "parquet" and summary["out"] == str(out)
    assert summary["datasets"] == {
        name: {"rows": 0, "files": [], "removed": []} for name in ("events", "subledger", "journals")
    }
    assert out.is_dir() and not list(out.rglob("*.parquet"))
