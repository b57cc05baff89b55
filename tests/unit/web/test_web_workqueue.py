"""The work queue: filters, assign, resolve and ignore with a reason, bulk retry and replay,
lineage links."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from workbench import MEDICARE_A, REDOX_ADT, REDOX_DFT, RUSHMORE, People, csrf_of, ingest, posted

from revbridge.bootstrap import Runtime
from revbridge.connectors.base import ConnectorRejected, Limits, Receipt
from revbridge.ledger.journal import Journal
from revbridge.security.roles import Role
from revbridge.store import journals, workitems
from revbridge.store.schema import work_items


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="item-(\d+)">', html)]


def _queue(rt: Runtime, corpus: Path) -> tuple[workitems.WorkItem, list[workitems.WorkItem]]:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    ingest(rt, (corpus / MEDICARE_A).read_bytes(), "medicare")
    items = workitems.list_items(rt.db)
    payer = next(i for i in items if i.code == "UNMAPPED_PAYER")
    return payer, items


def test_filters_by_code_facility_age_and_assignee(rt: Runtime, people: People, corpus: Path) -> None:
    payer, items = _queue(rt, corpus)
    assert len(items) >= 2
    viewer = people.browser(Role.VIEWER)
    assert sorted(_ids(viewer.get("/workqueue").text)) == sorted(i.id for i in items)
    assert _ids(viewer.get("/workqueue?code=UNMAPPED_PAYER").text) == [payer.id]
    assert payer.facility == "5544667733"  # the payee NPI the ERA names (N1*PE)
    by_facility = _ids(viewer.get("/workqueue", params={"facility": payer.facility}).text)
    assert sorted(by_facility) == sorted(i.id for i in items if i.facility == payer.facility)
    assert _ids(viewer.get("/workqueue", params={"facility": "NOWHERE"}).text) == []
    assert _ids(viewer.get("/workqueue?age=3d").text) == []
    with rt.db.transaction() as conn:  # the payer item was opened four days ago
        conn.execute(
            update(work_items)
            .where(work_items.c.id == payer.id)
            .values(created_at=rt.clock.now() - timedelta(days=4))
        )
    assert _ids(viewer.get("/workqueue?age=3d").text) == [payer.id]
    assert _ids(viewer.get("/workqueue?assignee=operator").text) == []
    unassigned = _ids(viewer.get("/workqueue", params={"assignee": "(unassigned)"}).text)
    assert sorted(unassigned) == sorted(i.id for i in items)


def test_assign_resolve_and_ignore(rt: Runtime, people: People, corpus: Path) -> None:
    payer, items = _queue(rt, corpus)
    other = next(i for i in items if i.id != payer.id)
    operator = people.browser(Role.OPERATOR)
    token = csrf_of(operator.get("/workqueue").text)
    mine = operator.post(
        "/workqueue/actions",
        data={"csrf": token, "action": "assign_me", "item": [str(payer.id), str(other.id)]},
        follow_redirects=False,
    )
    assert mine.status_code == 303 and "notice=assigned" in mine.headers["location"]
    assert _ids(operator.get("/workqueue?assignee=operator").text) == sorted([payer.id, other.id])
    named = operator.post(
        "/workqueue/actions",
        data={"csrf": token, "action": "assign", "item": str(other.id), "assignee": "kim"},
    )
    assert "1 work item(s) assigned." in named.text
    assert workitems.get(rt.db, other.id).assignee == "kim"  # type: ignore[union-attr]

    no_reason = operator.post(
        "/workqueue/actions", data={"csrf": token, "action": "resolve", "item": str(payer.id), "reason": " "}
    )
    assert no_reason.status_code == 409 and "reason is required" in no_reason.text
    resolved = operator.post(
        "/workqueue/actions",
        data={"csrf": token, "action": "resolve", "item": str(payer.id), "reason": "payer set up by phone"},
    )
    assert "1 work item(s) resolved." in resolved.text
    ignored = operator.post(
        "/workqueue/actions",
        data={"csrf": token, "action": "ignore", "item": str(other.id), "reason": "known sample quirk"},
    )
    assert "1 work item(s) ignored." in ignored.text
    done = {i.id: i for i in workitems.list_items(rt.db, status=None)}
    assert (done[payer.id].status, done[payer.id].resolution) == ("resolved", "payer set up by phone")
    assert done[other.id].status == "ignored"
    assert done[payer.id].resolved_by == f"apikey:{people.ids[Role.OPERATOR]}"
    again = operator.post(
        "/workqueue/actions", data={"csrf": token, "action": "ignore", "item": str(payer.id), "reason": "x"}
    )
    assert again.status_code == 409 and "not open" in again.text
    assert payer.id in _ids(operator.get("/workqueue?status=resolved").text)


def test_nothing_selected_is_refused(rt: Runtime, people: People, corpus: Path) -> None:
    _queue(rt, corpus)
    operator = people.browser(Role.OPERATOR)
    token = csrf_of(operator.get("/workqueue").text)
    answer = operator.post("/workqueue/actions", data={"csrf": token, "action": "replay"})
    assert answer.status_code == 422 and "Select at least one" in answer.text


def test_replaying_selected_items_without_a_fix_keeps_them_open(
    rt: Runtime, people: People, corpus: Path
) -> None:
    payer, _items = _queue(rt, corpus)
    operator = people.browser(Role.OPERATOR)
    token = csrf_of(operator.get("/workqueue").text)
    answer = operator.post(
        "/workqueue/actions", data={"csrf": token, "action": "replay", "item": str(payer.id)}
    )
    assert "1 message(s) replayed; 0 work item(s) cleared" in answer.text
    assert workitems.get(rt.db, payer.id).status == "open"  # type: ignore[union-attr]


def test_every_item_links_to_its_lineage(rt: Runtime, people: People, corpus: Path) -> None:
    payer, items = _queue(rt, corpus)
    page = people.browser(Role.VIEWER).get("/workqueue").text
    for item in items:
        if item.message_id:
            assert f'href="/messages/{item.message_id}?item={item.id}"' in page
    lineage = people.browser(Role.VIEWER).get(f"/messages/{payer.message_id}?item={payer.id}").text
    assert f'<tr id="item-{payer.id}" class="focus"' in lineage
    assert payer.locator in lineage


class Refusing:
    """An ERP that refuses every journal (a blocked account, say) until the cause is fixed."""

    name = "refusing"
    limits = Limits(backoff_base=0.01, backoff_cap=0.02)

    def submit(self, journal: Journal) -> Receipt:
        raise ConnectorRejected("account is blocked")

    def lookup(self, reference: str) -> Receipt | None:
        return None

    def close(self) -> None:
        pass


def test_retry_sends_the_journals_the_erp_refused_again(rt: Runtime, people: People, corpus: Path) -> None:
    for data, name in ((REDOX_ADT, "adt"), ((corpus / REDOX_DFT).read_bytes(), "dft")):
        rt.intake.receive(data, channel="test", format="auto", dedupe_key=f"test:{name}")
    rt.settle(close_windows=True, post=False)
    refusing = rt.dispatcher(connector_for=lambda _le: Refusing())
    refusing.drain()
    refusing.close()
    failed = workitems.list_items(rt.db, code="ERP_REJECTED")
    assert failed and journals.counts(rt.db)["failed"] == len(failed)
    operator = people.browser(Role.OPERATOR)
    page = operator.get("/workqueue").text
    assert '<button type="submit" name="action" value="retry"' in page
    answer = operator.post(
        "/workqueue/actions",
        data={"csrf": csrf_of(page), "action": "retry", "item": [str(i.id) for i in failed]},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "notice=retried" in answer.headers["location"]
    assert f"{len(failed)} work item(s) put back for retry." in operator.get(answer.headers["location"]).text
    assert journals.counts(rt.db)["failed"] == 0 and workitems.list_items(rt.db, code="ERP_REJECTED") == []
    rt.settle(close_windows=True)  # the ERP takes them now
    assert posted(rt) == len(failed)


def test_retry_refuses_what_needs_a_replay(rt: Runtime, people: People, corpus: Path) -> None:
    payer, _items = _queue(rt, corpus)
    operator = people.browser(Role.OPERATOR)
    token = csrf_of(operator.get("/workqueue").text)
    answer = operator.post(
        "/workqueue/actions", data={"csrf": token, "action": "retry", "item": str(payer.id)}
    )
    assert answer.status_code == 409 and "cannot be retried" in answer.text
    assert workitems.get(rt.db, payer.id).status == "open"  # type: ignore[union-attr]
