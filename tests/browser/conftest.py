"""A real revbridge service on a free port, a headless Chromium driven by Playwright, and people
who sign in through the login page. Screenshots go to artifacts/screenshots/ (not committed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.store import apikeys

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Workbench:
    rt: Runtime
    base: str
    tokens: dict[Role, str]
    browser: Browser

    def person(self, role: Role) -> Page:
        """A fresh browser context (its own cookies) signed in with the role's key, by keyboard."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(self.base + "/")
        assert re.search(r"/login\?next=/$", page.url), page.url
        page.get_by_label("API key or access token").fill(self.tokens[role])
        page.keyboard.press("Enter")
        page.wait_for_url(self.base + "/")
        return page

    def shot(self, page: Page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# Module scope, not session: Playwright's sync API runs an event loop on this thread while it is
# open, and later tests that call asyncio.run() must not find one running.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def workbench(tmp_path: Path, browser: Browser) -> Iterator[Workbench]:
    rt = build_runtime(f"sqlite:///{tmp_path / 'browser.db'}", tmp_path, posting=True, http_port=0)
    tokens = {}
    for role in Role:
        _key, tokens[role] = apikeys.create(
            rt.db, name=role.value, roles=(role,), now=rt.clock.now(), actor="test", anchor=None
        )
    service = Service(rt, http=True, mllp=False, workers=1, directory=False)  # with its ERP outbox
    service.start()
    try:
        yield Workbench(rt=rt, base=f"http://127.0.0.1:{service.http_port}", tokens=tokens, browser=browser)
    finally:
        service.stop()
        rt.close()
