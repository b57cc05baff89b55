"""Every journal revbridge makes comes out of the posting stage (rules/posting.py): ``post`` makes
realtime journals and ``close_window`` makes a batch window's. Elsewhere journals are only read
back from the store. This test keeps it so: outside ``ledger/`` (where the makers are defined),
only rules/posting.py calls them, and drafts are only built by the rules (an event's booking, and
the go-live's opening position, which comes from no event) and rehydrated by the store."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "revbridge"
MAKERS = {"realtime_journal", "batch_journals"}
BUILDERS = {"Journal", "JournalDraft", "JournalLine"}


def _calls(names: set[str]) -> dict[str, set[str]]:
    """Module (relative to src/revbridge) -> the names it calls from ``names``."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        module = str(path.relative_to(SRC))
        if module.startswith("ledger/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in names:
                found.setdefault(module, set()).add(name)
    return found


def test_only_the_posting_stage_makes_journals() -> None:
    assert _calls(MAKERS) == {"rules/posting.py": MAKERS}


def test_drafts_and_lines_are_built_by_rules_and_read_back_by_the_store() -> None:
    builders = _calls(BUILDERS)
    assert set(builders) == {"rules/booking.py", "rules/golive.py", "store/subledger.py", "store/journals.py"}
    assert "Journal" not in builders["rules/booking.py"]
    assert "Journal" not in builders["rules/golive.py"]
