"""Only ``store/`` knows SQL (DESIGN.md section 2). import-linter forbids SQLAlchemy and the tables
outside it (``make check``); this test closes the gap import rules leave: a ``Database`` or a
``Tx`` handed out by the store must not be used as the SQLAlchemy object underneath. Outside
``store/`` a transaction is only opened (``db.transaction()``, ``db.reading()``) and passed back
to store functions, never executed on, and the engine inside a ``Database`` is never touched.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "revbridge"
# What a SQLAlchemy Connection or Engine answers to and nothing else in the code base does.
UNDERNEATH = frozenset(
    {
        "execute",
        "exec_driver_sql",
        "begin",
        "begin_nested",
        "execution_options",
        "scalar_one",
        "scalar_one_or_none",
        "scalars",
        "engine",
        "raw_connection",
    }
)


def _outside_the_store() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "store" not in p.relative_to(SRC).parts)


def _uses(path: Path, root: Path = SRC) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(root)}:{node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in UNDERNEATH
    ]


def test_the_scan_covers_the_packages_above_the_store() -> None:
    packages = {p.relative_to(SRC).parts[0] for p in _outside_the_store()}
    assert {"pipeline", "web", "api", "cli", "connectors", "workqueue", "service", "demo"} <= packages


def test_nothing_outside_the_store_works_a_transaction_or_an_engine() -> None:
    found = [use for path in _outside_the_store() for use in _uses(path)]
    assert found == []


@pytest.mark.parametrize(
    "line",
    ["tx.execute(query)", "db.engine.dispose()", "with db.engine.begin() as conn: pass", "tx.begin_nested()"],
)
def test_the_scan_sees_a_use_underneath(tmp_path: Path, line: str) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(line + "\n", encoding="utf-8")
    assert _uses(module, root=tmp_path) != []
