"""Loading configuration directories: the reference configuration, and located errors for broken ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from revbridge.ledger import AccountRole, ClosedPeriodPolicy, Lane
from revbridge.masterdata import FILES, ConfigError, EventKind, from_json, load, to_json

REFERENCE = Path(__file__).resolve().parents[3] / "examples" / "config"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REFERENCE, target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> int:
    """Replace text in a file; return the 1-based line where the replacement starts."""
    path = directory / name
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    path.write_text(text.replace(old, new))
    return text[: text.index(old)].count("\n") + 1


def errors_of(directory: Path) -> tuple[ConfigError, ...]:
    config, errors = load(directory)
    assert config is None
    assert errors
    return errors


def test_reference_configuration_loads_without_errors() -> None:
    config, errors = load(REFERENCE)

    assert errors == ()
    assert config is not None
    m = config.master
    assert [e.code for e in m.legal_entities] == ["MHN", "MHS"]
    assert len(m.facilities) == 6
    assert sorted({f.legal_entity for f in m.facilities}) == ["MHN", "MHS"]
    assert [f.legal_entity for f in m.facilities].count("MHN") == 3
    assert {c.code for c in m.payer_classes} >= {"MEDICARE", "MEDICAID", "COMMERCIAL", "SELF_PAY"}
    assert m.self_pay_class == "SELF_PAY"
    assert {d.code for d in m.departments} >= {"ED", "RAD", "LAB", "PHARM", "SURG", "ICU"}
    assert m.posting.closed_period_policy is ClosedPeriodPolicy.NEXT_OPEN_DAY
    assert config.rulebook.rule(EventKind.REMITTANCE).lane is Lane.REALTIME
    assert config.rulebook.rule(EventKind.CHARGE).lane is Lane.BATCH
    assert AccountRole.AR_PATIENT in config.rulebook.patient_roles


def test_reference_configuration_leaves_rushmore_life_unmapped_on_purpose() -> None:
    config, _errors = load(REFERENCE)
    assert config is not None
    assert all("1935665544" not in p.aliases for p in config.master.payers)


def test_canonical_json_round_trips_and_is_stable() -> None:
    config, _ = load(REFERENCE)
    assert config is not None
    text = to_json(config)
    again, errors = from_json(text)

    assert errors == ()
    assert again == config
    assert to_json(again) == text


def test_reordering_a_list_does_not_change_the_canonical_form(copy: Path) -> None:
    original, _ = load(copy)
    path = copy / "legal_entities.yaml"
    text = path.read_text()
    north, south = text.split("  - code: MHS")
    path.write_text(
        north.split("legal_entities:\n")[0]
        + "legal_entities:\n  - code: MHS"
        + south
        + north.split("legal_entities:\n")[1]
    )
    reordered, errors = load(copy)

    assert errors == ()
    assert original is not None
    assert reordered is not None
    assert to_json(reordered) == to_json(original)


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "facilities.yaml",
            "    legal_entity: MHN\n    name: Mercy Hope",
            "    legal_entity: MHX\n    name: Mercy Hope",
            "unknown legal entity 'MHX'",
        ),
        ("facilities.yaml", "    name: Lake Area", "    nmae: Lake Area", "unknown key 'nmae'"),
        (
            "legal_entities.yaml",
            "    currency: USD\n    chart: MERCY-US\n    connector:\n      name: embedded        #",
            "    currency: ZZZ\n    chart: MERCY-US\n    connector:\n      name: embedded        #",
            "unknown currency 'ZZZ'",
        ),
        (
            "legal_entities.yaml",
            "      name: embedded        #",
            "      name: sap        #",
            "unknown connector 'sap'",
        ),
        (
            "payers.yaml",
            "class: WORKERS_COMP, aliases",
            "class: WORKERS, aliases",
            "unknown payer class 'WORKERS'",
        ),
        (
            "payers.yaml",
            'aliases: ["608"]',
            'aliases: ["636"]',
            "alias '636' already names payer 'NYS-MEDICAID'",
        ),
        (
            "departments.yaml",
            'revenue_account: "4110"',
            'revenue_account: "4999"',
            "account '4999' is not in chart 'MERCY-US'",
        ),
        (
            "departments.yaml",
            "facility: MHS-BAY, name: Medicine",
            "facility: MHS-XXX, name: Medicine",
            "unknown facility 'MHS-XXX'",
        ),
        (
            "accounts.yaml",
            '{role: interest_income, account: "7100"}',
            '{role: interest_income, account: "7999"}',
            "account '7999' is not in chart",
        ),
        (
            "accounts.yaml",
            "{role: suspense, account:",
            "{role: limbo, account:",
            "'limbo' is not a known account role",
        ),
        (
            "adjustments.yaml",
            "category: payer_overpayment}",
            "category: overpaid}",
            "unknown category 'overpaid'",
        ),
        (
            "adjustments.yaml",
            "{reason: CS, role: suspense",
            "{reason: CS, role: purgatory",
            "'purgatory' is not a known account role",
        ),
        (
            "rulebook.yaml",
            "    cash: {role: cash_clearing,",
            "    cash: {role: cash_drawer,",
            "'cash_drawer' is not a known account role",
        ),
        (
            "rulebook.yaml",
            "    receivable: {role: ar_payer, dimensions: [facility, payer_class]}",
            "    receivable: {role: ar_payer, dimensions: [facility, cost_center]}",
            "cannot carry cost_center",
        ),
        (
            "rulebook.yaml",
            "    lane: realtime\n    cash:",
            "    lane: someday\n    cash:",
            "'someday' is not a known lane",
        ),
        ("posting.yaml", "max_lines: 5000", "max_lines: lots", "expected a whole number for max_lines"),
        (
            "posting.yaml",
            "closed_period_policy: next_open_day",
            "closed_period_policy: ignore",
            "'ignore' is not a known closed period policy",
        ),
        (
            "payers.yaml",
            "self_pay_class: SELF_PAY",
            "self_pay_class: UNINSURED",
            "self_pay_class 'UNINSURED' is not one of the payer classes",
        ),
    ],
)
def test_broken_files_give_errors_with_file_and_line(
    copy: Path, name: str, old: str, new: str, message: str
) -> None:
    line = edit(copy, name, old, new)
    errors = errors_of(copy)

    matching = [e for e in errors if message in e.message]
    assert matching, [str(e) for e in errors]
    assert matching[0].file == name
    assert matching[0].line in range(line, line + new.count("\n") + 1)
    assert str(matching[0]).startswith(f"{name}:{matching[0].line}: ")


def test_missing_key_is_reported_at_the_entry(copy: Path) -> None:
    line = edit(
        copy,
        "facilities.yaml",
        "    legal_entity: MHN\n    name: St. Joseph Medical Center\n",
        "    name: St. Joseph Medical Center\n",
    )
    (error,) = [e for e in errors_of(copy) if "missing key 'legal_entity'" in e.message]
    assert (error.file, error.line) == ("facilities.yaml", line - 1)


def test_wrong_type_is_reported_where_it_is(copy: Path) -> None:
    line = edit(copy, "payers.yaml", 'aliases: ["600"]', "aliases: 600")
    (error,) = [e for e in errors_of(copy) if "expected a list" in e.message]
    assert (error.file, error.line) == ("payers.yaml", line)


def test_a_boolean_where_text_belongs_says_to_quote_it(copy: Path) -> None:
    line = edit(copy, "payers.yaml", 'aliases: ["NYSIF"]', "aliases: [NO]")
    (error,) = [e for e in errors_of(copy) if "quote it" in e.message]
    assert (error.file, error.line) == ("payers.yaml", line)


def test_unquoted_numbers_are_read_as_their_text(copy: Path) -> None:
    edit(copy, "payers.yaml", 'aliases: ["61101"]', "aliases: [0061101]")
    config, errors = load(copy)
    assert errors == ()
    assert config is not None
    assert "0061101" in next(p for p in config.master.payers if p.code == "HUMANA-MA").aliases


def test_yaml_syntax_error_is_located(copy: Path) -> None:
    line = edit(copy, "posting.yaml", "  max_lines: 5000", "  max_lines: [5000")
    (error,) = errors_of(copy)
    assert error.file == "posting.yaml"
    assert error.line >= line
    assert "not valid YAML" in error.message


def test_duplicate_keys_and_codes_are_errors(copy: Path) -> None:
    line = edit(copy, "posting.yaml", "  max_lines: 5000\n", "  max_lines: 5000\n  max_lines: 6000\n")
    errors = errors_of(copy)
    assert [(e.file, e.line) for e in errors if "duplicate key 'max_lines'" in e.message] == [
        ("posting.yaml", line + 1)
    ]

    line = edit(copy, "facilities.yaml", "  - code: MHN-HOPE", "  - code: MHN-STJ")
    assert [
        (e.file, e.line) for e in errors_of(copy) if "facility 'MHN-STJ' is defined twice" in e.message
    ] == [("facilities.yaml", line)]


def test_anchors_and_aliases_are_refused(copy: Path) -> None:
    edit(copy, "posting.yaml", "batch_window:", "batch_window: &w")
    path = copy / "posting.yaml"
    path.write_text(path.read_text() + "extra: *w\n")
    errors = errors_of(copy)
    assert any("anchors and aliases are not supported" in e.message for e in errors)


def test_missing_and_unknown_files_are_reported(copy: Path) -> None:
    (copy / "payers.yaml").rename(copy / "payer.yaml")
    errors = errors_of(copy)

    assert ConfigError("payers.yaml", 0, 0, "file is missing") in errors
    assert any(e.file == "payer.yaml" and "unknown configuration file" in e.message for e in errors)


def test_a_broken_upstream_file_does_not_bury_the_directory_in_follow_on_errors(copy: Path) -> None:
    (copy / "legal_entities.yaml").write_text("legal_entities: 7\n")
    errors = errors_of(copy)
    assert [e.file for e in errors] == ["legal_entities.yaml"]


def test_a_role_without_an_account_is_caught_where_the_role_is_named(copy: Path) -> None:
    edit(copy, "accounts.yaml", '  - {role: third_party_settlement, account: "4570"}\n', "")
    line = edit(
        copy,
        "adjustments.yaml",
        "{reason: CV, role: third_party_settlement",
        "{reason: CV, role: third_party_settlement",
    )
    errors = errors_of(copy)
    assert [(e.file, e.line) for e in errors] == [("adjustments.yaml", line)] * 2
    assert [e.message.split(" for ")[0] for e in errors] == [
        "role third_party_settlement has no account in legal entity MHN",
        "role third_party_settlement has no account in legal entity MHS",
    ]


def test_the_rulebook_must_cover_every_event_kind(copy: Path) -> None:
    path = copy / "rulebook.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("  claim_submitted:")])
    errors = errors_of(copy)
    assert any(e.file == "rulebook.yaml" and "missing key 'claim_submitted'" in e.message for e in errors)


def test_mapped_slots_must_not_name_a_role(copy: Path) -> None:
    line = edit(
        copy,
        "rulebook.yaml",
        "    adjustment: {dimensions: [facility, payer_class]}",
        "    adjustment: {role: contractual_allowance, dimensions: [facility, payer_class]}",
    )
    (error,) = errors_of(copy)
    assert (error.file, error.line) == ("rulebook.yaml", line)
    assert "unknown key 'role'" in error.message


def test_every_reference_file_is_known() -> None:
    assert sorted(p.name for p in REFERENCE.glob("*.yaml")) == sorted(FILES)


def test_a_directory_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    config, errors = load(tmp_path / "nope")
    assert config is None
    assert errors[0].message == "not a configuration directory"
