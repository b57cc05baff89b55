"""Broken configuration text never raises out of the loader: it becomes located errors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from revbridge.masterdata import FILES, load_texts

REFERENCE = Path(__file__).resolve().parents[3] / "examples" / "config"
TEXTS = {name: (REFERENCE / name).read_text() for name in FILES}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(FILES), st.text(max_size=300))
def test_arbitrary_text_in_any_file_gives_errors_not_exceptions(name: str, text: str) -> None:
    config, errors = load_texts({**TEXTS, name: text})
    if config is None:
        assert errors
        assert all(e.line >= 0 for e in errors)
    else:
        assert errors == ()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(FILES), st.data())
def test_dropping_or_duplicating_a_line_gives_errors_not_exceptions(name: str, data: st.DataObject) -> None:
    lines = TEXTS[name].splitlines(keepends=True)
    n = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    mutated = lines[:n] + lines[n + 1 :] if data.draw(st.booleans()) else lines[: n + 1] + lines[n:]
    config, errors = load_texts({**TEXTS, name: "".join(mutated)})
    assert (config is None) == bool(errors)
    assert all(error.file in FILES and error.message for error in errors)
