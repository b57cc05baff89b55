"""The demo health system's deliberate faults show on the work queue page, and fixing one through
the pages (a steward's mapping, an approver's decision, an operator's replay) clears it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from workbench import People, csrf_of

from revbridge.bootstrap import Runtime
from revbridge.demo import FaultKind, generate
from revbridge.security.roles import Role
from revbridge.store import workitems


@pytest.mark.slow
def test_a_demo_fault_is_fixed_through_the_pages(rt: Runtime, people: People) -> None:
    traffic = generate(start=rt.clock.now().date() - timedelta(days=2), days=2, seed=3, scale=0.1)
    unknown = [f for f in traffic.faults if f.kind is FaultKind.UNKNOWN_PAYER]
    assert unknown and {f.code for f in unknown} == {"UNMAPPED_PAYER"}
    for message in traffic.messages:
        rt.intake.receive(message.payload, channel="demo", format=message.format)
    rt.settle(close_windows=True)

    operator = people.browser(Role.OPERATOR)
    queue = operator.get("/workqueue").text
    for fault in traffic.faults:
        if fault.code:
            assert fault.code in queue, fault.kind
    payer_items = [i for i in workitems.list_items(rt.db) if i.code == "UNMAPPED_PAYER"]
    assert payer_items and {i.details["value"] for i in payer_items} == {f.value for f in unknown}

    steward = people.browser(Role.STEWARD)
    form = steward.get("/config/propose?file=payers.yaml").text
    document = yaml.safe_load(
        form.split('name="text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0].replace("&#39;", "'")
    )
    for payer in document["payers"]:
        if payer["code"] == "AETNA":
            payer["aliases"] += sorted({f.value for f in unknown})
    proposed = steward.post(
        "/config/propose",
        data={
            "csrf": csrf_of(form),
            "file": "payers.yaml",
            "text": yaml.safe_dump(document, sort_keys=False),
            "note": "the demo's new payer id is Aetna's",
        },
        follow_redirects=False,
    )
    assert proposed.status_code == 303, proposed.text
    version = proposed.headers["location"].split("/")[3].split("?")[0]

    approver = people.browser(Role.APPROVER)
    page = approver.get(f"/config/versions/{version}").text
    assert "UNMAPPED_PAYER" in page.split('id="whatif"', 1)[1]  # the what-if counts them as cleared
    decided = approver.post(
        f"/config/versions/{version}/decide", data={"csrf": csrf_of(page), "decision": "approve"}
    )
    assert decided.status_code == 200 and f"Version {version} approved" in decided.text

    replayed = operator.post(
        "/workqueue/replay", data={"csrf": csrf_of(operator.get("/workqueue").text), "code": "UNMAPPED_PAYER"}
    )
    assert replayed.status_code == 200
    assert f"{len(payer_items)} work item(s) cleared by the replay" in replayed.text
    assert "UNMAPPED_PAYER" not in operator.get("/workqueue").text
    assert [i for i in workitems.list_items(rt.db) if i.code == "UNMAPPED_PAYER"] == []
