"""Lineage: from a journal line to its events, their message and the HL7 segment behind them; the
raw message only for phi.read, audited, and never a patient's data anywhere else."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select
from workbench import REDOX_ADT, REDOX_DFT, People, ingest, posted

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.store import journals
from revbridge.store.schema import audit_log, journal_lines

# Patient data in the Redox DFT and the ADT: name, birth date, MRN, address, phone.
SENTINELS = ("HALL", "MARCUS", "19341230", "11401562", "Some Street", "800123456")


def _posted_charge(rt: Runtime, corpus: Path) -> tuple[str, str]:
    ingest(rt, REDOX_ADT, "adt")
    (dft,) = ingest(rt, (corpus / REDOX_DFT).read_bytes(), "dft")
    assert posted(rt) == 1
    return dft, journals.list_journals(rt.db)[0].journal.id


def test_a_journal_line_leads_to_the_hl7_segment_it_came_from(
    rt: Runtime, people: People, corpus: Path
) -> None:
    dft, journal_id = _posted_charge(rt, corpus)
    viewer = people.browser(Role.VIEWER)
    journal = viewer.get(f"/journals/{journal_id}").text
    assert "posted" in journal
    with rt.db.reading() as conn:
        revenue = conn.execute(
            select(journal_lines.c.id).where(
                journal_lines.c.journal_id == journal_id, journal_lines.c.role == "gross_revenue"
            )
        ).scalar_one()
    assert f'href="/journals/{journal_id}/lines/{revenue}"' in journal
    line = viewer.get(f"/journals/{journal_id}/lines/{revenue}").text
    assert "hl7v2:NCA:691234" in line and "125.10" in line
    assert f"/messages/{dft}?event=hl7v2%3ANCA%3A691234" in line
    lineage = viewer.get(f"/messages/{dft}?event=hl7v2:NCA:691234").text
    assert "ChargeCaptured" in lineage and "FT1[1]" in lineage
    stored = journals.get(rt.db, journal_id)
    assert stored is not None and stored.erp_document
    assert stored.erp_document in lineage  # the ERP document the journal became
    assert 'class="event focus"' in lineage


def test_a_phi_reader_sees_the_located_element_and_the_view_is_audited(
    rt: Runtime, people: People, corpus: Path
) -> None:
    dft, _journal = _posted_charge(rt, corpus)
    reader = people.browser(Role.PHI_READER)
    lineage = reader.get(f"/messages/{dft}").text
    assert f'action="/messages/{dft}/raw"' in lineage
    page = reader.get(f"/messages/{dft}/raw", params={"at": "FT1[1]-11", "reason": "billing query"})
    assert page.status_code == 200
    assert "<mark>125.10</mark>" in page.text
    assert re.search(r'<span class="row located" id="located">.*FT1\|1\|691234', page.text)
    assert "HALL^MARCUS" in page.text  # the raw message itself, for the one role that may see it
    with rt.db.reading() as conn:
        views = conn.execute(select(audit_log).where(audit_log.c.action == "phi.view")).all()
    assert [(v.actor, v.target) for v in views] == [
        ("apikey:" + people.ids[Role.PHI_READER], f"message/{dft}")
    ]
    assert json.loads(views[0].details)["reason"] == "billing query"


def test_a_viewer_sees_no_raw_content(rt: Runtime, people: People, corpus: Path) -> None:
    dft, journal_id = _posted_charge(rt, corpus)
    viewer = people.browser(Role.VIEWER)
    assert viewer.get(f"/messages/{dft}/raw").status_code == 403
    lineage = viewer.get(f"/messages/{dft}").text
    assert "phi.read" in lineage and f'action="/messages/{dft}/raw"' not in lineage
    for role in (Role.VIEWER, Role.OPERATOR, Role.PHI_READER):
        browser = people.browser(role)
        for path in (
            "/",
            "/workqueue?status=all",
            f"/messages/{dft}",
            f"/journals/{journal_id}",
            "/reconciliation",
            *(f"/finance?report={name}" for name in ("revenue", "denials", "ar-days", "operations")),
            "/finance/denials.csv",
        ):
            page = browser.get(path).text
            leaked = [s for s in SENTINELS if s in page]
            assert leaked == [], (role, path, leaked)
    with rt.db.reading() as conn:
        assert conn.execute(select(audit_log).where(audit_log.c.action == "phi.view")).all() == []


def test_an_unknown_message_is_a_404_page(rt: Runtime, people: People) -> None:
    answer = people.browser(Role.VIEWER).get("/messages/00000000-0000-0000-0000-000000000000")
    assert answer.status_code == 404
    assert "No message" in answer.text
