"""What the workbench tests share: people with one role each, signed-in browsers (TestClients
carrying the session cookie), the sample files they ingest and a way to read a form's CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.service.app import create_app
from revbridge.store import apikeys, journals

RUSHMORE = "x12_835/lfh_x12__managed-care.835"
MEDICARE_A = "x12_835/lfh_x12__medicare-part-a.835"
REDOX_DFT = "hl7v2/redox__DFT_P03_parser_spec_cr.hl7"
# An ADT^A01 for the Redox DFT's encounter (PV1-19 86210313010 at NCA) with a Medicare primary
# coverage, so the charge has its context and posts. Written for these tests.
REDOX_ADT = (
    b"MSH|^~\\&|HMS03|NCA|EPIC|NCA|200909231000||ADT^A01|ADT0001|T|2.5\r"
    b"EVN|A01|200909231000\r"
    b"PID|||11401562^^^1013^MRN||HALL^MARCUS^A||19341230|F\r"
    b"PV1|1|I|NW4^^^NCA||||2331^SEEGER^THOMAS|||MED|||||||||86210313010\r"
    b"IN1|1|MCR|1512345678|MEDICARE PART A\r"
)
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class People:
    """One API key per role, named after the role, so the audit trail and assignees read well."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.tokens: dict[Role, str] = {}
        self.ids: dict[Role, str] = {}
        for role in Role:
            key, token = apikeys.create(
                rt.db, name=role.value, roles=(role,), now=rt.clock.now(), actor="test", anchor=None
            )
            self.tokens[role] = token
            self.ids[role] = key.id

    def browser(self, role: Role) -> TestClient:
        """A client signed in through the login form, as a person's browser would be."""
        client = TestClient(create_app(self.rt), base_url="http://testserver")
        answer = client.post(
            "/login", data={"credential": self.tokens[role], "next": "/"}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        return client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)


def ingest(rt: Runtime, data: bytes, name: str) -> list[str]:
    """Receive and process one file; each sample file gets its own interchange identity (the
    third-party samples reuse control numbers)."""
    received = rt.intake.receive(data, channel="test", format="auto", dedupe_key=f"test:{name}")
    rt.settle(close_windows=True)
    return [r.accepted.message_id for r in received]


def posted(rt: Runtime) -> int:
    """Journals the ERP has acknowledged (``settle`` runs the outbox after processing)."""
    return journals.counts(rt.db)["posted"]
