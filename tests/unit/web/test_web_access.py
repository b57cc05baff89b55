"""Who may see and do what on the workbench: every page route declares a permission, each role
gets exactly its pages and actions, and an anonymous page request is sent to the sign-in page."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from workbench import RUSHMORE, People, csrf_of, ingest

from revbridge.bootstrap import Runtime
from revbridge.http.permissions import permission_of
from revbridge.security.roles import Permission, Role, allows
from revbridge.service.app import create_app
from revbridge.store import workitems
from revbridge.web import site

P = Permission
PAGES = {
    "/": P.READ,
    "/workqueue": P.READ,
    "/journals": P.READ,
    "/reconciliation": P.READ,
    "/finance": P.READ,
    "/config": P.READ,
    "/config/versions/1": P.READ,
    "/config/propose": P.CONFIG_PROPOSE,
}


def test_every_workbench_route_declares_a_permission() -> None:
    routes = [r for router in site.routers for r in router.routes]
    assert len(routes) >= 17
    undeclared = [r.path for r in routes if isinstance(r, APIRoute) and permission_of(r.endpoint) is None]
    assert undeclared == []


def test_only_sign_in_out_and_assets_are_public() -> None:
    public = sorted(
        {
            r.path
            for router in site.routers
            for r in router.routes
            if isinstance(r, APIRoute) and permission_of(r.endpoint) is P.PUBLIC
        }
    )
    assert public == ["/login", "/logout", "/static/{name}"]


def test_every_change_needs_more_than_read() -> None:
    for router in site.routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            if "POST" in route.methods and route.path not in ("/login", "/logout"):
                assert permission_of(route.endpoint) not in (P.READ, P.PUBLIC), route.path


def test_the_raw_message_page_needs_phi_read() -> None:
    raw = [
        r
        for router in site.routers
        for r in router.routes
        if isinstance(r, APIRoute) and r.path.endswith("/raw")
    ]
    assert [permission_of(r.endpoint) for r in raw] == [P.PHI_READ]


def test_an_anonymous_page_request_goes_to_the_sign_in_page(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    for path in PAGES:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"/login?next={path}"
    assert client.get("/api/v1/status", follow_redirects=False).status_code == 401  # the API keeps its 401
    assert client.post("/workqueue/actions", data={"action": "resolve"}).status_code == 401
    page = client.get("/login")
    assert page.status_code == 200
    assert '<label for="credential">' in page.text


def test_each_role_sees_its_pages_and_is_refused_the_others(rt: Runtime, people: People) -> None:
    for role in (Role.VIEWER, Role.OPERATOR, Role.STEWARD, Role.APPROVER, Role.PHI_READER, Role.ADMIN):
        browser = people.browser(role)
        for path, needed in PAGES.items():
            status = browser.get(path).status_code
            assert status == (200 if allows((role,), needed) else 403), (role, path, status)


def test_navigation_and_actions_shown_follow_the_role(rt: Runtime, people: People, corpus: Path) -> None:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    viewer = people.browser(Role.VIEWER).get("/workqueue").text
    operator = people.browser(Role.OPERATOR).get("/workqueue").text
    assert "UNMAPPED_PAYER" in viewer and "UNMAPPED_PAYER" in operator
    assert 'value="resolve"' not in viewer and 'name="item"' not in viewer
    assert 'value="resolve"' in operator and 'name="item"' in operator
    steward = people.browser(Role.STEWARD).get("/config").text
    assert 'href="/config/propose"' in steward
    assert 'href="/config/propose"' not in people.browser(Role.APPROVER).get("/config").text


def test_a_viewer_cannot_act_on_work_items(rt: Runtime, people: People, corpus: Path) -> None:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    item = next(i for i in workitems.list_items(rt.db) if i.code == "UNMAPPED_PAYER")
    operator = people.browser(Role.OPERATOR)
    token = csrf_of(operator.get("/workqueue").text)
    viewer = people.browser(Role.VIEWER)
    form = {"csrf": token, "action": "ignore", "item": str(item.id), "reason": "not ours"}
    assert viewer.post("/workqueue/actions", data=form, follow_redirects=False).status_code == 403
    assert workitems.get(rt.db, item.id).status == "open"  # type: ignore[union-attr]


def test_a_system_key_cannot_sign_in(rt: Runtime, people: People) -> None:
    client = TestClient(create_app(rt))
    answer = client.post("/login", data={"credential": people.tokens[Role.SYSTEM]}, follow_redirects=False)
    assert answer.status_code == 422
    assert "may only send messages" in answer.text
    assert "set-cookie" not in answer.headers


def test_pages_are_served_with_a_strict_content_security_policy(rt: Runtime, people: People) -> None:
    answer = people.browser(Role.VIEWER).get("/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["cache-control"] == "no-store"
    # Air-gapped: every asset the page names is served by revbridge itself.
    for url in re.findall(r'(?:href|src)="([^"#]+)"', answer.text):
        assert url.startswith("/"), url
    client = TestClient(create_app(rt))
    for asset in ("/static/workbench.css", "/static/workbench.js"):
        assert client.get(asset).status_code == 200
    assert client.get("/static/..%2Fsession.py").status_code == 404
