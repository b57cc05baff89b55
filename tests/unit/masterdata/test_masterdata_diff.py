"""diff(old, new): one readable line per change, nothing for equal configurations."""

from __future__ import annotations

import shutil
from pathlib import Path

from revbridge.masterdata import Configuration, diff, load

REFERENCE = Path(__file__).resolve().parents[3] / "examples" / "config"


def changed(tmp_path: Path, name: str, old: str, new: str) -> Configuration:
    target = tmp_path / "config"
    shutil.copytree(REFERENCE, target)
    path = target / name
    path.write_text(path.read_text().replace(old, new, 1))
    config, errors = load(target)
    assert errors == ()
    assert config is not None
    return config


def test_identical_configurations_have_no_diff(reference: Configuration) -> None:
    assert diff(reference, reference) == ()


def test_adding_a_payer_is_one_line(reference: Configuration, tmp_path: Path) -> None:
    new = changed(
        tmp_path,
        "payers.yaml",
        "payers:\n",
        'payers:\n  - {code: RUSHMORE, name: Rushmore Life, class: COMMERCIAL, aliases: ["1935665544"]}\n',
    )
    assert diff(reference, new) == ("payers.yaml: payers[RUSHMORE]: added",)
    assert diff(new, reference) == ("payers.yaml: payers[RUSHMORE]: removed",)


def test_changed_fields_and_aliases_are_named(reference: Configuration, tmp_path: Path) -> None:
    new = changed(
        tmp_path,
        "payers.yaml",
        'class: COMMERCIAL, aliases: ["600"]',
        'class: MEDICARE_ADV, aliases: ["600", "600-B"]',
    )
    assert diff(reference, new) == (
        "payers.yaml: payers[MVP].aliases: added '600-B'",
        "payers.yaml: payers[MVP].class: 'COMMERCIAL' -> 'MEDICARE_ADV'",
    )


def test_settings_and_rules_changes_are_named(reference: Configuration, tmp_path: Path) -> None:
    new = changed(tmp_path, "posting.yaml", "max_age_seconds: 300", "max_age_seconds: 600")
    assert diff(reference, new) == ("posting.yaml: batch_window.max_age_seconds: 300 -> 600",)
    new = changed(
        tmp_path / "2",
        "rulebook.yaml",
        "department revenue\n    lane: batch",
        "department revenue\n    lane: realtime",
    )
    assert diff(reference, new) == ("rulebook.yaml: rules.charge.lane: 'batch' -> 'realtime'",)


def test_carc_reason_changes_are_named(reference: Configuration, tmp_path: Path) -> None:
    new = changed(tmp_path, "adjustments.yaml", '"204", "16", "27"]', '"204", "16", "27", "B7"]')
    assert diff(reference, new) == ("adjustments.yaml: carc.reasons[CO/denial].reasons: added 'B7'",)
