"""Look-ups: values as sent -> master data, or a located problem. Never a guess."""

from __future__ import annotations

from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger import AccountRole
from revbridge.masterdata import Configuration, Department, Facility, Payer

WHERE = SourceRef("msg-1", "FT1[2]")


def test_facility_by_any_identifier(reference: Configuration) -> None:
    for sent, code in [
        ("NCA", "MHN-STJ"),
        ("5544667733", "MHN-STJ"),
        ("599944521", "MHN-STJ"),
        ("Organization/1", "MHN-STJ"),
        ("6543210903", "MHN-HOPE"),
        ("1", "MHS-BAY"),
        (" 346608640 ", "MHN-LAKE"),
    ]:
        found = reference.facility(sent, WHERE)
        assert isinstance(found, Facility)
        assert found.code == code
        assert reference.facility_code(sent) == code


def test_unknown_facility_is_a_located_problem_never_a_near_match(reference: Configuration) -> None:
    for sent in ("5544667734", "nca", ""):
        problem = reference.facility(sent, WHERE, "key-1")
        assert isinstance(problem, Problem)
        assert (problem.code, problem.where, problem.event_key) == (
            ProblemCode.UNMAPPED_FACILITY,
            WHERE,
            "key-1",
        )
    assert reference.facility_code("nca") is None


def test_department_facility_specific_then_shared(reference: Configuration) -> None:
    bay = reference.facility("1", WHERE)
    stj = reference.facility("NCA", WHERE)
    assert isinstance(bay, Facility)
    assert isinstance(stj, Facility)
    md = reference.department(bay, "MD", WHERE)
    ed = reference.department(bay, "ED", WHERE)
    assert isinstance(md, Department)
    assert (md.facility, md.cost_center) == ("MHS-BAY", "CC-4010")
    assert isinstance(ed, Department)
    assert ed.facility == ""
    missing = reference.department(stj, "MD", WHERE, "key-2")
    assert isinstance(missing, Problem)
    assert missing.code is ProblemCode.UNMAPPED_DEPARTMENT
    assert dict(missing.details) == {"facility": "MHN-STJ", "value": "MD"}


def test_payer_by_alias_and_payer_class(reference: Configuration) -> None:
    payer = reference.payer("636", WHERE)
    assert isinstance(payer, Payer)
    assert (payer.code, payer.payer_class) == ("NYS-MEDICAID", "MEDICAID")
    assert reference.payer_class_of("1512345678", WHERE) == "MEDICARE"
    assert reference.payer_class_of("", WHERE) == "SELF_PAY"
    unmapped = reference.payer_class_of("1935665544", WHERE, "key-3")
    assert isinstance(unmapped, Problem)
    assert unmapped.code is ProblemCode.UNMAPPED_PAYER


def test_carc_exact_reason_then_group_default_then_problem(reference: Configuration) -> None:
    denial = reference.carc("CO", "50", WHERE)
    contractual = reference.carc("co", "45", WHERE)
    transfer = reference.carc("PR", "3", WHERE)
    info = reference.carc("OA", "23", WHERE)
    assert not isinstance(denial, Problem)
    assert not isinstance(contractual, Problem)
    assert not isinstance(transfer, Problem)
    assert not isinstance(info, Problem)
    assert (denial.role, contractual.role, transfer.role, info.role) == (
        AccountRole.DENIAL_WRITEOFF,
        AccountRole.CONTRACTUAL_ALLOWANCE,
        AccountRole.AR_PATIENT,
        None,
    )
    other = reference.carc("OA", "A7", WHERE)
    assert isinstance(other, Problem)
    assert other.code is ProblemCode.UNMAPPED_ADJUSTMENT_REASON


def test_plb_reason_to_role(reference: Configuration) -> None:
    assert reference.plb("L6", WHERE) is AccountRole.INTEREST_INCOME
    assert reference.plb("wo", WHERE) is AccountRole.PAYER_CREDIT_BALANCE
    assert reference.plb("CV", WHERE) is AccountRole.THIRD_PARTY_SETTLEMENT
    problem = reference.plb("ZZ", WHERE)
    assert isinstance(problem, Problem)
    assert problem.code is ProblemCode.UNMAPPED_PLB_REASON


def test_account_most_specific_mapping_wins(reference: Configuration) -> None:
    north = reference.legal_entity("MHN")
    assert reference.account(AccountRole.AR_PAYER, north, payer_class="MEDICARE", where=WHERE) == "1211"
    assert reference.account(AccountRole.AR_PAYER, north, payer_class="SELF_PAY", where=WHERE) == "1220"
    assert reference.account(AccountRole.CASH_CLEARING, north, payer_class="MEDICARE", where=WHERE) == "1015"
    rad = reference.department(reference.facility("NCA", WHERE), "RAD", WHERE)  # type: ignore[arg-type]
    assert isinstance(rad, Department)
    assert reference.account(AccountRole.GROSS_REVENUE, north, department=rad, where=WHERE) == "4110"
    missing = reference.account(AccountRole.AR_PAYER, north, payer_class="", where=WHERE, event_key="k")
    assert isinstance(missing, Problem)
    assert missing.code is ProblemCode.UNMAPPED_ACCOUNT
    assert dict(missing.details)["role"] == "ar_payer"


def test_currency_must_be_the_legal_entitys(reference: Configuration) -> None:
    north = reference.legal_entity("MHN")
    assert reference.currency(Money.of("1.00", "USD"), north, WHERE) is None
    problem = reference.currency(Money.of("1.00", "EUR"), north, WHERE, "k")
    assert isinstance(problem, Problem)
    assert problem.code is ProblemCode.UNSUPPORTED_CURRENCY


def test_adjustment_category_by_stated_category_or_code(reference: Configuration) -> None:
    stated = reference.adjustment_category(code="X", stated="charity", where=WHERE)
    by_code = reference.adjustment_category(code="BADDEBT", stated="", where=WHERE)
    assert not isinstance(stated, Problem)
    assert not isinstance(by_code, Problem)
    assert (stated.role, by_code.role) == (AccountRole.CHARITY_CARE, AccountRole.BAD_DEBT)


def test_a_runaway_value_is_cut_short_in_the_problem(reference: Configuration) -> None:
    problem = reference.payer("9" * 5000, WHERE)
    assert isinstance(problem, Problem)
    assert len(problem.message) < 120
    assert len(dict(problem.details)["value"]) == 64
