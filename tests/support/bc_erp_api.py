"""The test Business Central's API: the v2.0 paths routed onto the ledger (bc_erp_ledger.py),
and the JSON ``$batch`` (OData 4.01 JSON batch as BC takes it: ``requests`` with id, method, url,
headers, body; at most 100; all or nothing under ``Isolation: snapshot``, where BC stops at the
first failed operation and rolls back the ones before it). ``generalLedgerEntries`` pages as BC
does (server-driven paging): at most ``ledger.page_size`` entries, then ``@odata.nextLink`` with a
``$skiptoken`` (the last entry number sent), relative here; bc_erp.py makes it absolute."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from bc_erp_ledger import BcError, Company, Ledger, odata_filter

MAX_OPERATIONS = 100


def batch(ledger: Ledger, body: Any, *, atomic: bool) -> tuple[int, Any]:
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list):
        return 400, BcError(400, "BadRequest", "A JSON batch needs a requests array.").body()
    if len(requests) > MAX_OPERATIONS:
        return 400, BcError(
            400,
            "BadRequest",
            f"The batch request contains {len(requests)} operations; the maximum is {MAX_OPERATIONS}.",
        ).body()
    saved = ledger.snapshot() if atomic else None
    responses = []
    for request in requests:
        target = urlsplit(str(request.get("url", "")))
        rest = unquote(target.path)
        rest = rest[rest.index("api/v2.0/") + 9 :] if "api/v2.0/" in rest else rest.lstrip("/")
        try:
            status, answer = route(
                ledger,
                str(request.get("method", "GET")).upper(),
                rest,
                target.query,
                request.get("body") or {},
            )
        except BcError as error:
            status, answer = error.status, error.body()
        responses.append({"id": request.get("id"), "status": status, "headers": {}, "body": answer})
        if status >= 400 and saved is not None:
            ledger.restore(saved)  # all or nothing: nothing of this batch stays
            break
    return 200, {"responses": responses}


def _entries_page(
    ledger: Ledger, company: Company, rest: str, params: dict[str, str], keep: Callable[[Any], bool]
) -> dict[str, Any]:
    """One page of the company's G/L entries that pass the filter, in entry-number order, after
    the ``$skiptoken``; a next link while more remain."""
    after = int(params.get("$skiptoken", "0"))
    entries = [
        {k: v for k, v in e.items() if not k.startswith("_")}
        for e in company.entries
        if e["entryNumber"] > after
    ]
    matching = [e for e in entries if keep(e)]
    page: dict[str, Any] = {"value": matching[: ledger.page_size]}
    if len(matching) > ledger.page_size:
        following = {k: v for k, v in params.items() if k != "$skiptoken"}
        following["$skiptoken"] = str(page["value"][-1]["entryNumber"])
        page["@odata.nextLink"] = f"{rest}?{urlencode(following)}"
    return page


def route(ledger: Ledger, method: str, rest: str, query: str, body: Any) -> tuple[int, Any]:
    params = {k: v[0] for k, v in parse_qs(query).items()}
    if rest == "companies" and method == "GET":
        return 200, {
            "value": [{"id": c.id, "name": c.name, "displayName": c.name} for c in ledger.companies.values()]
        }
    found = re.fullmatch(r"companies\(([^)]+)\)/(.+)", rest)
    if found is None:
        raise BcError(404, "BadRequest_NotFound", f"No resource at '{rest}'.")
    company, tail = ledger.company(found.group(1)), found.group(2)
    keep = odata_filter(params.get("$filter"))
    if tail == "journals" and method == "POST":
        return 201, ledger.create_batch(company, body)
    if tail == "journals" and method == "GET":
        views = [
            ledger.batch_view(b, expand=params.get("$expand") == "journalLines")
            for b in company.batches.values()
        ]
        return 200, {"value": [v for v in views if keep(v)]}
    if tail == "generalLedgerEntries" and method == "GET":
        return 200, _entries_page(ledger, company, rest, params, keep)
    batch_path = re.fullmatch(r"journals\(([^)]+)\)(?:/(.+))?", tail)
    if batch_path is None:
        raise BcError(404, "BadRequest_NotFound", f"No resource at '{tail}'.")
    batch, sub = ledger.batch(company, batch_path.group(1)), batch_path.group(2) or ""
    if sub == "" and method == "DELETE":
        del company.batches[batch.id]
        return 204, None
    if sub == "journalLines" and method == "POST":
        return 201, ledger.create_line(batch, body)
    if sub == "journalLines" and method == "GET":
        return 200, {"value": [dict(line) for line in batch.lines.values() if keep(line)]}
    if sub == "Microsoft.NAV.post" and method == "POST":
        ledger.post(company, batch)
        return 204, None
    dims = re.fullmatch(r"journalLines\(([^)]+)\)/dimensionSetLines", sub)
    if dims is not None and method == "POST":
        return 201, ledger.create_dimension(batch, dims.group(1), body)
    raise BcError(404, "BadRequest_NotFound", f"No resource at '{sub}'.")
