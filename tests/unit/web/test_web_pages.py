"""The overview, journals and reconciliation pages over real postings."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

from workbench import MEDICARE_A, REDOX_ADT, REDOX_DFT, RUSHMORE, People, ingest, posted

from revbridge.bootstrap import Runtime
from revbridge.pipeline import golive
from revbridge.security.roles import Role
from revbridge.store import journals


def _books(rt: Runtime, corpus: Path) -> None:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    ingest(rt, (corpus / MEDICARE_A).read_bytes(), "medicare")
    ingest(rt, REDOX_ADT, "adt")
    ingest(rt, (corpus / REDOX_DFT).read_bytes(), "dft")
    assert posted(rt) == 2


def test_the_overview_counts_and_charts(rt: Runtime, people: People, corpus: Path) -> None:
    _books(rt, corpus)
    page = people.browser(Role.VIEWER).get("/").text
    row = re.search(r"<th scope=\"row\">x12</th>(.*?)</tr>", page, re.S)
    assert row is not None
    cells = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row.group(1))]
    assert cells[:2] == [1, 1] and cells[-1] == 2  # processed 1, excepted 1 (Rushmore); 2 today
    assert re.search(
        r'<th scope="row"><a href="/workqueue\?code=UNMAPPED_PAYER">UNMAPPED_PAYER</a></th>', page
    )
    assert page.count('<svg class="chart"') == 4
    for title in (
        "Cash by day",
        "Work items over the last 30 days",
        "Receipt to posting latency",
        "AR roll-forward",
    ):
        assert title in page
    assert "150,000.00" in page  # the Medicare ERA's BPR02 in the cash-by-day table
    assert "2 journals posted in the last 30 days" in page
    assert "MHN-STJ" in page  # reconciliation status per facility


def test_journal_search_filters(rt: Runtime, people: People, corpus: Path) -> None:
    _books(rt, corpus)
    viewer = people.browser(Role.VIEWER)
    everything = viewer.get("/journals").text
    ids = [j.journal.id for j in journals.list_journals(rt.db)]
    assert all(i in everything for i in ids)
    batch = [j.journal.id for j in journals.list_journals(rt.db, lane="batch")]
    assert len(batch) == 1
    by_lane = viewer.get("/journals?lane=batch").text
    assert batch[0] in by_lane and all(i not in by_lane for i in ids if i not in batch)
    by_account = viewer.get("/journals?account=4010").text  # gross revenue: only the charge batch
    assert batch[0] in by_account and all(i not in by_account for i in ids if i not in batch)
    assert "No journal matches" in viewer.get("/journals?status=failed").text
    assert "No journal matches" in viewer.get("/journals?date_from=2030-01-01").text
    assert "No journal matches" not in viewer.get("/journals?legal_entity=MHN&status=posted").text
    bad = viewer.get("/journals?date_from=yesterday")
    assert bad.status_code == 422 and "is not a date" in bad.text


def test_reconciliation_per_day_and_facility_with_drill_down(
    rt: Runtime, people: People, corpus: Path
) -> None:
    _books(rt, corpus)
    viewer = people.browser(Role.VIEWER)
    page = viewer.get("/reconciliation").text
    assert "AR roll-forward" in page and "Daily tie-out" in page
    assert "150,000.00" in page  # the remittance's BPR02
    link = re.search(r'href="(/reconciliation/ar\?legal_entity=MHN&amp;payer_class=MEDICARE[^"]*)"', page)
    assert link is not None
    drill = viewer.get(link.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200
    assert "hl7v2:NCA:691234" in drill.text  # the charge is Medicare receivable at MHN
    event = viewer.get("/events?key=hl7v2:NCA:691234", follow_redirects=False)
    assert event.status_code == 303 and event.headers["location"].startswith("/messages/")
    one_day = viewer.get("/reconciliation?date=2009-09-23&facility=MHN-STJ")
    assert one_day.status_code == 200 and "ChargeCaptured" in one_day.text
    assert viewer.get("/events?key=nope", follow_redirects=False).status_code == 404


def test_an_opening_balance_row_drills_down_to_its_go_live_journal(rt: Runtime, people: People) -> None:
    """A go-live row was loaded from a file, not brought by a message: its event key lands on the
    opening journal that carries its lines, not on a 404."""
    text = "legal_entity,facility,payer_class,account,amount\nMHN,MHN-STJ,MEDICARE,STJ0100231,12450.00\n"
    loaded = golive.load(rt.db, text, as_of=date(2009, 9, 1), actor="test", now=rt.clock.now())
    (load,) = loaded.loads
    key = "golive:2009-09-01:MHN-STJ:MEDICARE:STJ0100231"
    found = people.browser(Role.VIEWER).get(f"/events?key={key}", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/journals/{load.journal_id}"
    assert people.browser(Role.VIEWER).get(found.headers["location"]).status_code == 200


def test_kept_results_follow_the_store(rt: Runtime, people: People, corpus: Path) -> None:
    viewer = people.browser(Role.VIEWER)
    assert "150,000.00" not in viewer.get("/reconciliation").text
    assert "No posting events to reconcile yet." in viewer.get("/").text
    ingest(rt, (corpus / MEDICARE_A).read_bytes(), "medicare")
    # The store changed: the kept report is served, marked, while a new one is computed.
    stale = viewer.get("/reconciliation").text
    assert "150,000.00" not in stale and "a new reconciliation is being computed" in stale
    deadline = time.monotonic() + 30
    page = stale
    while "150,000.00" not in page and time.monotonic() < deadline:
        time.sleep(0.05)
        page = viewer.get("/reconciliation").text
    assert "150,000.00" in page and "being computed" not in page
    assert "MHN-HOPE" in viewer.get("/").text
