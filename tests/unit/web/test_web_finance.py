"""The Finance page: each analytics report with its charts, its tables and a CSV download of
each table that is exactly the report's, over a demo day posted through the real pipeline."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from workbench import People

from revbridge.analytics import Period
from revbridge.bootstrap import Runtime
from revbridge.demo import generate
from revbridge.pipeline.analytics import Request, run
from revbridge.security.roles import Role

DAY = date(2025, 3, 3)
SPAN = f"from={DAY.isoformat()}&to={DAY.isoformat()}"


@pytest.fixture
def fed(rt: Runtime) -> Runtime:
    for message in generate(start=DAY, seed=7, scale=0.05).messages:
        rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
    rt.settle(close_windows=True)
    return rt


def _expected(rt: Runtime, name: str) -> str:
    request = Request(name=name, start=DAY, end=DAY, by=Period.DAY, now=rt.clock.now(), sla_seconds=60.0)
    return run(rt.db, request).as_csv()


def test_each_report_has_charts_tables_and_its_csv(fed: Runtime, people: People) -> None:
    viewer = people.browser(Role.VIEWER)
    assert 'href="/finance"' in viewer.get("/").text, "the navigation links the page"
    page = viewer.get(f"/finance?report=revenue&{SPAN}")
    assert page.status_code == 200
    html = page.text
    assert html.count('<svg class="chart"') == 2 and "Payer mix" in html
    assert "By facility" in html and "MHN-STJ" in html
    link = f"/finance/revenue.csv?from={DAY.isoformat()}&amp;to={DAY.isoformat()}&amp;by=day&amp;table=totals"
    assert link in html
    download = viewer.get(link.replace("&amp;", "&"))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert 'filename="revenue-totals-2025-03-03-2025-03-03.csv"' in download.headers["content-disposition"]
    expected = [r for r in csv.reader(io.StringIO(_expected(fed, "revenue"))) if r[0] in ("table", "totals")]
    got = list(csv.reader(io.StringIO(download.text)))
    assert [r[: len(got[0])] for r in expected] == got
    whole = viewer.get(f"/finance/revenue.csv?{SPAN}")
    assert whole.text == _expected(fed, "revenue")
    for name in ("denials", "ar-days", "operations"):
        shown = viewer.get(f"/finance?report={name}&{SPAN}")
        assert shown.status_code == 200, name
        assert '<svg class="chart"' in shown.text and "Download" in shown.text, name


def test_bad_choices_are_refused(fed: Runtime, people: People) -> None:
    viewer = people.browser(Role.VIEWER)
    backwards = viewer.get("/finance?report=revenue&from=2025-03-04&to=2025-03-03")
    assert backwards.status_code == 400 and "--from 2025-03-04 is after --to 2025-03-03" in backwards.text
    assert viewer.get("/finance?report=payroll").status_code == 422
    assert viewer.get(f"/finance/revenue.csv?{SPAN}&table=nope").status_code == 404
    assert viewer.get(f"/finance/payroll.csv?{SPAN}").status_code == 404
