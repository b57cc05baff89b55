"""Configuration through the pages: propose (validated with file and line), the difference and
the what-if on the version page, maker-checker approval, then replay from the work queue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from workbench import RUSHMORE, People, csrf_of, ingest

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.store import configs, journals, workitems
from revbridge.store.schema import audit_log
from revbridge.web.configuration import file_text


def _payers_with_rushmore(text: str) -> str:
    document = yaml.safe_load(text)
    document["payers"].append(
        {"code": "RUSHMORE", "name": "Rushmore Life", "class": "COMMERCIAL", "aliases": ["1935665544"]}
    )
    return yaml.safe_dump(document, sort_keys=False)


def _propose(people: People, role: Role, text: str, *, upload: bool = False) -> tuple[int, str, str]:
    browser = people.browser(role)
    form_page = browser.get("/config/propose?file=payers.yaml")
    assert form_page.status_code == 200
    data = {"csrf": csrf_of(form_page.text), "file": "payers.yaml", "note": "map Rushmore Life"}
    if upload:
        answer = browser.post(
            "/config/propose",
            data=data,
            files={"upload": ("payers.yaml", text.encode(), "text/yaml")},
            follow_redirects=False,
        )
    else:
        answer = browser.post("/config/propose", data=data | {"text": text}, follow_redirects=False)
    return answer.status_code, answer.headers.get("location", ""), answer.text


def _actions(rt: Runtime, prefix: str) -> list[tuple[str, str]]:
    with rt.db.reading() as conn:
        rows = conn.execute(select(audit_log.c.action, audit_log.c.actor).order_by(audit_log.c.seq))
        return [(a, actor) for a, actor in rows if a.startswith(prefix)]


def test_the_propose_form_starts_from_the_file_in_effect(rt: Runtime, people: People) -> None:
    page = people.browser(Role.STEWARD).get("/config/propose?file=payers.yaml").text
    text = re.search(r'<textarea id="p-text" name="text"[^>]*>(.*?)</textarea>', page, re.S)
    assert text is not None
    document = yaml.safe_load(text.group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&"))
    assert {p["code"] for p in document["payers"]} >= {"MEDICARE-A", "AETNA"}


def test_an_invalid_file_is_refused_with_file_and_line(rt: Runtime, people: People) -> None:
    status, _location, page = _propose(
        people, Role.STEWARD, "payers:\n  - {code: X, class: NOPE, name: X}\n  - [\n"
    )
    assert status == 422
    assert re.search(r"payers\.yaml:\d+: not valid YAML", page)
    text = people.browser(Role.STEWARD).get("/config/propose?file=payers.yaml").text
    current = re.search(r'<textarea id="p-text" name="text"[^>]*>(.*?)</textarea>', text, re.S)
    assert current is not None
    bad = current.group(1).replace("class: COMMERCIAL", "class: NO_SUCH_CLASS", 1)
    status, _location, page = _propose(people, Role.STEWARD, bad.replace("&#34;", '"').replace("&#39;", "'"))
    assert status == 422
    assert re.search(r"payers\.yaml:\d+: .*NO_SUCH_CLASS", page)
    assert len(configs.versions(rt.db)) == 1  # nothing was proposed


def test_a_proposal_that_changes_nothing_is_refused(rt: Runtime, people: People) -> None:
    config = configs.load_version(rt.db, 1)
    status, _location, page = _propose(people, Role.STEWARD, file_text(config, "payers.yaml"))
    assert status == 422
    assert "no change from version 1" in page


def test_propose_preview_approve_replay(rt: Runtime, people: People, corpus: Path) -> None:
    (message_id,) = ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    text = _payers_with_rushmore(file_text(configs.load_version(rt.db, 1), "payers.yaml"))
    status, location, _page = _propose(people, Role.STEWARD, text, upload=True)
    assert (status, location) == (303, "/config/versions/2?notice=proposed")
    assert configs.versions(rt.db)[-1].status == "proposed"
    approver = people.browser(Role.APPROVER)
    _check_the_approver_sees_the_difference_and_the_whatif(people, approver)
    _check_the_maker_may_not_approve(people, approver, text)
    _check_the_approver_approves(rt, people, approver)
    _check_the_replay_clears_the_item(rt, people, message_id)


def _check_the_approver_sees_the_difference_and_the_whatif(people: People, approver: TestClient) -> None:
    """The approver reads the difference and the what-if before deciding."""
    page = approver.get("/config/versions/2?days=7").text
    assert "payers.yaml: payers[RUSHMORE]: added" in page
    whatif = page[page.index('<table id="whatif">') :]
    whatif = whatif[: whatif.index("</table>")]
    assert re.search(r"<td>cash_clearing</td>.*?<td class=\"num\">945\.00</td>", whatif, re.S)
    assert people.browser(Role.VIEWER).get("/config?a=1&b=2").text.count("payers[RUSHMORE]: added") == 1


def _check_the_maker_may_not_approve(people: People, approver: TestClient, text: str) -> None:
    """Maker-checker: whoever proposed may not approve, whatever their roles. The approver then
    rejects that second proposal."""
    admin = people.browser(Role.ADMIN)
    _status, location, _page = _propose(people, Role.ADMIN, text.replace("Rushmore Life", "Rushmore"))
    own = int(location.split("/")[3].split("?")[0])
    own_page = admin.get(f"/config/versions/{own}").text
    assert "You proposed this version" in own_page and 'value="approve"' not in own_page
    token = csrf_of(admin.get("/config/propose").text)  # the server refuses even a hand-made form
    refused = admin.post(f"/config/versions/{own}/decide", data={"csrf": token, "decision": "approve"})
    assert refused.status_code == 409 and "maker-checker" in refused.text
    token = csrf_of(approver.get(f"/config/versions/{own}").text)
    approver.post(
        f"/config/versions/{own}/decide", data={"csrf": token, "decision": "reject", "reason": "dup"}
    )


def _check_the_approver_approves(rt: Runtime, people: People, approver: TestClient) -> None:
    token = csrf_of(approver.get("/config/versions/2").text)
    decided = approver.post(
        "/config/versions/2/decide",
        data={"csrf": token, "decision": "approve", "reason": "checked the what-if"},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    assert [v.status for v in configs.versions(rt.db)] == ["approved", "approved", "rejected"]
    assert ("config.approve", f"apikey:{people.ids[Role.APPROVER]}") in _actions(rt, "config.")
    assert ("config.propose", f"apikey:{people.ids[Role.STEWARD]}") in _actions(rt, "config.")


def _check_the_replay_clears_the_item(rt: Runtime, people: People, message_id: str) -> None:
    """The operator replays the messages with open UNMAPPED_PAYER items: the item clears."""
    operator = people.browser(Role.OPERATOR)
    queue = operator.get("/workqueue?code=UNMAPPED_PAYER").text
    answer = operator.post(
        "/workqueue/replay",
        data={"csrf": csrf_of(queue), "code": "UNMAPPED_PAYER", "back": "/workqueue?code=UNMAPPED_PAYER"},
    )
    assert answer.status_code == 200
    assert "1 message(s) replayed" in answer.text
    items = workitems.list_items(rt.db, status=None, message_id=message_id)
    payer = [i for i in items if i.code == "UNMAPPED_PAYER"]
    assert [i.status for i in payer] == ["resolved"]
    posted = journals.list_journals(rt.db)
    assert len(posted) == 1
    cash = sum(ln.net.amount for ln in posted[0].journal.lines if ln.role.value == "cash_clearing")
    assert str(cash) == "945.00"
    replays = _actions(rt, "replay")
    assert replays == [("replay", f"apikey:{people.ids[Role.OPERATOR]}")]
    with rt.db.reading() as conn:
        details = conn.execute(select(audit_log.c.details).where(audit_log.c.action == "replay")).scalar_one()
    assert json.loads(details)["status"] == "processed"
