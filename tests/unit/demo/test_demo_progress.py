"""The demo's stage bars: counts from the store's status, drawn on a terminal, silent in a pipe."""

from __future__ import annotations

import io

from rich.console import Console

from revbridge.demo.progress import Stages


def _status() -> dict[str, dict[str, int]]:
    return {
        "messages": {
            "pending": 1,
            "processing": 2,
            "waiting": 0,
            "processed": 270,
            "excepted": 2,
            "duplicate": 4,
        },
        "journals": {"staged": 3, "submitting": 0, "accepted": 1, "posted": 88},
        "work_items": {"open": 3},
    }


def _run(terminal: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=terminal, color_system=None)
    with Stages(console, 280, _status, every=0.01) as stages:
        for _ in range(280):
            stages.sent(None)
    return out.getvalue()


def test_each_stage_shows_what_is_through_it_on_a_terminal() -> None:
    shown = _run(terminal=True)
    assert "280/280" in shown  # sent
    assert "276/279" in shown  # stored and processed: pending, processing are under way
    assert "88/92" in shown  # journals: staged and accepted are under way


def test_nothing_is_drawn_in_a_pipe() -> None:
    assert _run(terminal=False) == ""
