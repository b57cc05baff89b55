"""The whole report over hand-made facts: it ties, its JSON shape, and one break makes it not tie."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from reconcile_facts import DAY, NOW, R, era_events, era_lines, era_remittance, gl_document, journal, message

from revbridge.reconcile import ArBalance, Inputs, reconcile
from revbridge.reconcile.rollforward import AR_ROLES


def inputs(*, drop: tuple[str, ...] = ()) -> Inputs:
    fact, rows = journal("J-ERA", era_lines(journal=None))
    ar = [
        ArBalance(legal_entity=r.legal_entity, payer_class=r.payer_class, role=r.role, amount=r.net)
        for r in rows
        if r.role in AR_ROLES
    ]
    return Inputs(
        day=DAY,
        events=era_events(),
        remittances=[era_remittance()],
        lines=rows,
        journals=[fact],
        documents={fact.id: gl_document(fact, drop=drop)},
        read_back=frozenset({"embedded"}),
        messages=[message("M-ERA", "processed", channel="file:era.835")],
        codes={},
        facilities={"6543210903": "MHN-HOPE"},
        ar_start=DAY,
        ar_end=DAY,
        ar_opening=[],
        ar_movements=rows,
        ar_closing=ar,
        ar_journals=ar,
        kinds={e.key: e.kind for e in era_events()},
    )


def test_a_consistent_store_ties_and_the_json_says_so() -> None:
    report = reconcile(inputs(), now=NOW)
    assert report.ties and report.breaks == ()
    shown: Any = report.as_json(keys=True)
    json.dumps(shown)  # plain JSON all the way down
    assert set(shown) == {
        "date",
        "generated_at",
        "ties",
        "breaks",
        "remittances",
        "daily",
        "journals",
        "ar_rollforward",
        "completeness",
    }
    assert shown["date"] == "2026-06-15" and shown["ties"] is True
    assert [r["status"] for r in shown["remittances"]] == ["ties"]
    assert {r["kind"] for r in shown["daily"]} == {
        "RemittanceReceived",
        "ClaimAdjudicated",
        "ProviderAdjustment",
    }
    assert shown["journals"]["by_delivery"]["acknowledged"] == 1
    rows = shown["ar_rollforward"]["rows"]
    assert {(r["payer_class"], r["closing"]) for r in rows} == {
        ("MEDICARE", "-1250.00"),
        ("SELF_PAY", "150.00"),
    }


def test_one_deleted_erp_entry_is_reported_by_every_control_that_sees_it() -> None:
    report = reconcile(inputs(drop=("1015",)), now=NOW)
    assert not report.ties
    controls = [b.control.value for b in report.breaks]
    assert controls == ["remittance", "daily", "erp"]
    shown: Any = report.as_json()
    assert shown["ties"] is False
    assert shown["breaks"][0]["subject"] == "remittance MEDICARE:TRN1"
    assert shown["breaks"][0]["difference"] == "-595.25"
    assert shown["journals"]["not_acknowledged"][0]["delivery"] == "mismatch"


def test_a_message_in_an_unknown_state_breaks_completeness() -> None:
    found = replace(inputs(), messages=[message("M-ERA", "archived")])
    report = reconcile(found, now=NOW)
    assert [str(b) for b in report.breaks] == [
        "completeness: message M-ERA: unknown message state 'archived'"
    ]


def test_an_ar_line_changed_in_the_journals_breaks_the_rollforward() -> None:
    base = inputs()
    journal_ar = [replace(b, amount=-b.amount) if b.role is R.AR_PATIENT else b for b in base.ar_journals]
    report = reconcile(replace(base, ar_journals=journal_ar), now=NOW)
    assert [b.subject for b in report.breaks] == ["AR MHN SELF_PAY"]
