"""The workbench in a real browser (headless Chromium): sign in; take a work item from open to
resolved through a configuration change proposed by a steward, approved by a second person and
replayed; follow a journal line to its HL7 segment; a viewer never sees a raw message."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from conftest import Workbench
from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.store import journals, queue, workitems
from revbridge.store.schema import audit_log

pytestmark = pytest.mark.browser

RUSHMORE = "x12_835/lfh_x12__managed-care.835"
REDOX_DFT = "hl7v2/redox__DFT_P03_parser_spec_cr.hl7"
# An ADT^A01 for the Redox DFT's encounter (PV1-19 86210313010 at NCA), so its charge posts.
REDOX_ADT = (
    b"MSH|^~\\&|HMS03|NCA|EPIC|NCA|200909231000||ADT^A01|ADT0001|T|2.5\r"
    b"EVN|A01|200909231000\r"
    b"PID|||11401562^^^1013^MRN||HALL^MARCUS^A||19341230|F\r"
    b"PV1|1|I|NW4^^^NCA||||2331^SEEGER^THOMAS|||MED|||||||||86210313010\r"
    b"IN1|1|MCR|1512345678|MEDICARE PART A\r"
)
RUSHMORE_PAYER = (
    "- code: RUSHMORE\n  name: Rushmore Life\n  class: COMMERCIAL\n  aliases:\n  - '1935665544'\n"
)


def _until(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _receive(rt: Runtime, data: bytes, name: str) -> str:
    (received,) = rt.intake.receive(data, channel="test", format="auto", dedupe_key=f"browser:{name}")
    message_id = received.accepted.message_id

    def done() -> bool:
        with rt.db.reading() as conn:
            from revbridge.store.schema import messages

            status = conn.execute(select(messages.c.status).where(messages.c.id == message_id)).scalar_one()
        return status in queue.TERMINAL

    _until(done, f"message {name} to be processed")
    return message_id


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.context.close()


def test_sign_in_landmarks_and_keyboard(workbench: Workbench) -> None:
    page = workbench.person(Role.VIEWER)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    assert len(page.locator("svg.chart[role=img]").all()) == 4
    workbench.shot(page, "overview")
    _sign_out(page)


def test_an_unmapped_payer_from_open_to_resolved(workbench: Workbench, corpus: Path) -> None:
    rt = workbench.rt
    message_id = _receive(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    (item,) = [i for i in workitems.list_items(rt.db, message_id=message_id) if i.code == "UNMAPPED_PAYER"]

    # A steward sees the item, and proposes the payer mapping it needs.
    steward = workbench.person(Role.STEWARD)
    steward.get_by_role("navigation", name="Main").get_by_role("link", name="Work queue").click()
    steward.get_by_label("Code").select_option("UNMAPPED_PAYER")
    steward.get_by_role("button", name="Apply filters").click()
    expect(steward.locator(f"#item-{item.id}")).to_contain_text("1935665544")
    workbench.shot(steward, "workqueue-open")
    steward.get_by_role("navigation", name="Main").get_by_role("link", name="Configuration").click()
    steward.get_by_role("link", name="Propose a change").click()
    steward.get_by_label("File to change").select_option("payers.yaml")
    steward.get_by_role("button", name=re.compile("Load it from version")).click()
    editor = steward.get_by_label("payers.yaml", exact=True)
    text = editor.input_value()
    assert "\npayers:\n" in text
    editor.fill(text.replace("\npayers:\n", "\npayers:\n" + RUSHMORE_PAYER, 1))
    steward.get_by_label("Why (kept in the audit trail)").fill("map Rushmore Life (TRN03 1935665544)")
    steward.get_by_role("button", name="Propose").click()
    expect(steward.get_by_role("status")).to_contain_text("Version 2 proposed")
    expect(steward.get_by_text("You proposed this version")).to_be_visible()
    _sign_out(steward)

    # A second person, an approver, reads the difference and the what-if, then approves.
    approver = workbench.person(Role.APPROVER)
    approver.get_by_role("navigation", name="Main").get_by_role("link", name="Configuration").click()
    approver.get_by_role("link", name="2", exact=True).click()
    expect(approver.get_by_text("payers.yaml: payers[RUSHMORE]: added")).to_be_visible()
    whatif = approver.locator("table#whatif")
    expect(whatif.locator("tr", has_text="cash_clearing")).to_contain_text("945.00")
    workbench.shot(approver, "config-whatif")
    approver.get_by_label("Reason (kept in the audit trail)").fill(
        "what-if checked: 945.00 cash, AR by claim"
    )
    approver.get_by_role("button", name="Approve").click()
    expect(approver.get_by_role("status")).to_contain_text("Version 2 approved")
    _sign_out(approver)

    # An operator replays the messages with open UNMAPPED_PAYER items: the item is resolved.
    operator = workbench.person(Role.OPERATOR)
    operator.goto(workbench.base + "/workqueue?code=UNMAPPED_PAYER")
    operator.get_by_role("button", name="Replay all UNMAPPED_PAYER messages").click()
    expect(operator.get_by_role("status")).to_contain_text("1 message(s) replayed; 1 work item(s) cleared")
    expect(operator.get_by_text("No work items match these filters.")).to_be_visible()
    operator.get_by_label("Status").select_option("resolved")
    operator.get_by_role("button", name="Apply filters").click()
    expect(operator.locator(f"#item-{item.id}")).to_contain_text("cleared by replay")
    workbench.shot(operator, "workqueue-resolved")
    _sign_out(operator)

    assert workitems.get(rt.db, item.id).status == "resolved"  # type: ignore[union-attr]
    _until(lambda: journals.counts(rt.db)["posted"] == 1, "the remittance journal to post")
    (posted,) = journals.list_journals(rt.db)
    assert sum(ln.net.amount for ln in posted.journal.lines if ln.role.value == "cash_clearing") == 945


def _posted_charge(workbench: Workbench, corpus: Path) -> str:
    rt = workbench.rt
    _receive(rt, REDOX_ADT, "adt")
    dft = _receive(rt, (corpus / REDOX_DFT).read_bytes(), "dft")
    assert rt.posting is not None
    rt.posting.tick(force_windows=True)  # close the charge's batch window now
    _until(lambda: journals.counts(rt.db)["posted"] == 1, "the charge journal to post")
    return dft


def test_lineage_from_a_journal_line_to_its_hl7_segment(workbench: Workbench, corpus: Path) -> None:
    dft = _posted_charge(workbench, corpus)
    (journal,) = journals.list_journals(workbench.rt.db)
    page = workbench.person(Role.PHI_READER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Journals").click()
    # The accountant's filters: no remittance journal yet, the charge batch under "batch".
    page.get_by_label("Source").select_option("remittance")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No journal matches.")).to_be_visible()
    page.get_by_label("Source").select_option("batch")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=re.compile(r"^Batch window .* 2 subledger lines"))).to_be_visible()
    expect(page.locator("tr.journal-total")).to_contain_text("Total of 1 journal matching")
    expect(page.locator("tr.journal-total")).to_contain_text("125.10")
    workbench.shot(page, "journals-filtered")
    page.get_by_role("link", name=journal.journal.id).click()
    expect(page.get_by_text(journal.erp_document or "?", exact=True)).to_be_visible()
    revenue = page.locator("tr", has_text="gross_revenue")
    revenue.get_by_role("link", name=re.compile("event")).click()
    expect(page.get_by_role("heading", name="1 event behind it")).to_be_visible()
    page.get_by_role("link", name=dft).click()
    expect(page.get_by_role("heading", name=re.compile("ChargeCaptured"))).to_be_visible()
    expect(page.locator("article.focus")).to_contain_text("FT1[1]")
    workbench.shot(page, "lineage")
    page.get_by_label("Place to mark").select_option("FT1[1]")
    page.get_by_label("Reason for viewing").fill("charge query from finance")
    page.get_by_role("button", name="Show raw message (audited)").click()
    located = page.locator("#located")
    expect(located).to_contain_text("FT1|1|691234")
    expect(located.locator("mark")).to_contain_text("125.10")
    workbench.shot(page, "lineage-raw-ft1")
    with workbench.rt.db.reading() as conn:
        views = conn.execute(select(audit_log).where(audit_log.c.action == "phi.view")).all()
    assert [v.target for v in views] == [f"message/{dft}"]
    assert json.loads(views[0].details)["reason"] == "charge query from finance"
    _sign_out(page)


def test_a_viewer_cannot_see_raw_messages(workbench: Workbench, corpus: Path) -> None:
    dft = _posted_charge(workbench, corpus)
    page = workbench.person(Role.VIEWER)
    page.goto(f"{workbench.base}/messages/{dft}")
    expect(page.get_by_text("Raw content is shown only to people with the")).to_be_visible()
    expect(page.get_by_role("button", name="Show raw message (audited)")).to_have_count(0)
    content = page.content()
    for sentinel in ("HALL", "MARCUS", "19341230", "11401562", "Some Street"):
        assert sentinel not in content
    workbench.shot(page, "lineage-viewer")
    answer = page.goto(f"{workbench.base}/messages/{dft}/raw?at=FT1[1]")
    assert answer is not None and answer.status == 403
    assert "HALL" not in page.content()
    with workbench.rt.db.reading() as conn:
        assert conn.execute(select(audit_log).where(audit_log.c.action == "phi.view")).all() == []
    page.context.close()


def test_finance_reports_charts_tables_and_a_csv_download(workbench: Workbench, corpus: Path) -> None:
    """Issue 18: the Finance section, as a revenue-cycle director uses it: pick a report, see its
    charts and tables, download a table as CSV."""
    _receive(workbench.rt, REDOX_ADT, "finance-adt")
    _receive(workbench.rt, (corpus / REDOX_DFT).read_bytes(), "finance-dft")
    page = workbench.person(Role.VIEWER)
    page.get_by_role("link", name="Finance").click()
    expect(page.get_by_role("heading", name="Finance", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Finance")).to_have_attribute("aria-current", "page")
    assert page.locator("svg.chart[role=img]").count() >= 1
    page.get_by_label("Report").select_option("denials")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"/finance\?report=denials"))
    tables = page.locator("main table")
    assert tables.count() >= 1
    first = page.get_by_role("link", name=re.compile(r"^Download .* as CSV$")).first
    with page.expect_download() as download:
        first.click()
    body = Path(download.value.path()).read_text()
    header = body.splitlines()[0]
    shown = tables.first.locator("thead th").all_inner_texts()
    assert header == ",".join(["table", *shown])  # the CLI's --csv columns: the table's name first
    workbench.shot(page, "finance-denials")
    _sign_out(page)
