"""Structured JSON logs (structlog) bound to correlation and message ids.

Log events name what happened and carry ids, counts, codes and durations, never payload content:
a payload may hold PHI. ``bind`` puts ids in a context variable so every line of one message's
processing carries them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import structlog

_configured = False
_stream: TextIO | None = None


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured: a
    stream swapped in for a while (a test's capture, click's CliRunner) and closed afterwards
    must not take every later log line down with it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR: Any = _CurrentStderr()
_level = "INFO"
_json_lines = True


def configure(level: str = "INFO", *, json_lines: bool = True, stream: TextIO | None = None) -> None:
    global _configured, _stream, _level, _json_lines
    _stream, _level, _json_lines = stream, level, json_lines
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), 20)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream or _STDERR),
        cache_logger_on_first_use=False,
    )
    _configured = True


def apply_settings(level: str, *, json_lines: bool) -> None:
    """The level and rendering settings ask for (REVBRIDGE_LOG_LEVEL, REVBRIDGE_LOG_JSON), written
    where logs went so far (stderr, or a stream a test captures)."""
    configure(level, json_lines=json_lines, stream=_stream)


@contextmanager
def to_file(path: Path) -> Iterator[None]:
    """Log lines appended to ``path`` for the block (at the level set so far or by settings
    applied inside it), then written where they went before. For the demo, whose terminal
    shows progress and a summary instead."""
    before = _stream
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        configure(_level, json_lines=_json_lines, stream=handle)
        try:
            yield
        finally:
            configure(_level, json_lines=_json_lines, stream=before)


def get_logger(name: str) -> Any:
    if not _configured:
        configure()
    return structlog.get_logger(name)


@contextmanager
def bind(**ids: str) -> Iterator[None]:
    tokens = structlog.contextvars.bind_contextvars(**ids)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
