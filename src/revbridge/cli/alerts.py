"""alerts render: the Prometheus alerting rules for the SLAs, from the thresholds in settings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from revbridge.cli.common import SettingsOption, console
from revbridge.observability.alerts import render
from revbridge.settings import load_settings

alerts_app = typer.Typer(help="Prometheus alerting rules for the business SLAs.", no_args_is_help=True)

OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", help="Write the rules to this file (default: standard output).", show_default=False
    ),
]


@alerts_app.command("render")
def render_command(out: OutOption = None, settings: SettingsOption = None) -> None:
    """Write the rules file from the REVBRIDGE_ALERT_* settings; load it into Prometheus with
    rule_files (the thresholds stay in one place, the settings, instead of a hand-edited copy)."""
    text = render(load_settings(settings))
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")
