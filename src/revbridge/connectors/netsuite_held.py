"""What NetSuite holds from revbridge over a date range, whether or not revbridge's store has it.

Reconciliation reads NetSuite back per journal id, which finds journals NetSuite is missing; this
finds the other side: journal entries NetSuite holds with revbridge's mark (the header ``memo``
starts with ``memo_prefix`` and a space, as netsuite_records.journal_entry writes it) that the
store may not know: a journal entered twice by hand, one from another revbridge database, a test
left in production.

NetSuite's documented way to list records by a condition is SuiteQL over REST
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html):
``POST /services/rest/query/v1/suiteql`` with ``Prefer: transient`` and ``{"q": ...}``, paged by
``limit`` (at most 1000) and ``offset``, the answer saying ``hasMore``
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html). The
query is ordered by internal id, as NetSuite asks of a paged query, so no row is skipped or seen
twice. Each row found is then read as ``read_back`` reads a record (``expandSubResources=true``,
by internal id so a record entered without an external id can be read too) and mapped by the same
function, so its lines are exactly what ``read_back`` gives.

The key is the external id, which NetSuite keeps whole: our journal id. A marked record with no
external id (typed in by hand, memo copied) is keyed ``id:<internal id>``, NetSuite's own name for
it, which can never equal one of our journal ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from revbridge.connectors.base import ConnectorUnavailable, ErpJournal
from revbridge.connectors.netsuite_jobs import NetsuiteHttp
from revbridge.connectors.netsuite_records import read_back

if TYPE_CHECKING:
    from revbridge.connectors.netsuite import NetsuiteSettings

SUITEQL = "/services/rest/query/v1/suiteql"
RECORD = "/services/rest/record/v1/journalentry"
MAX_PAGE = 1000  # NetSuite's largest page


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like_prefix(prefix: str) -> str:
    """``LIKE '<prefix> %'`` with the prefix's own ``%`` and ``_`` taken literally."""
    if not any(c in prefix for c in "%_\\"):
        return f"LIKE {_literal(prefix + ' %')}"
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"LIKE {_literal(escaped + ' %')} ESCAPE '\\'"


def held_query(memo_prefix: str, date_from: date, date_to: date) -> str:
    """The SuiteQL of revbridge's journal entries dated in [date_from, date_to] (``trandate`` is
    the posting date; the period follows from it or from ``posting_periods``)."""
    return (
        "SELECT t.id, t.externalid, t.memo FROM transaction t"
        f" WHERE t.type = 'Journal' AND t.memo {_like_prefix(memo_prefix)}"
        f" AND t.trandate BETWEEN TO_DATE('{date_from.isoformat()}', 'YYYY-MM-DD')"
        f" AND TO_DATE('{date_to.isoformat()}', 'YYYY-MM-DD')"
        " ORDER BY t.id"
    )


def _rows(http: NetsuiteHttp, query: str, page_size: int) -> Iterator[dict[str, Any]]:
    """Every row of a SuiteQL query, page after page while NetSuite says ``hasMore``."""
    limit = max(1, min(page_size, MAX_PAGE))
    body = json.dumps({"q": query})
    offset = 0
    while True:
        page = http.post_json(
            SUITEQL,
            body,
            params={"limit": str(limit), "offset": str(offset)},
            headers={"Prefer": "transient"},
        )
        items = page.get("items")
        if not isinstance(items, list):
            raise ConnectorUnavailable("NetSuite answered a SuiteQL query without items", uncertain=True)
        yield from (item for item in items if isinstance(item, dict))
        if page.get("hasMore") is not True or not items:
            return
        offset += limit


def held(
    http: NetsuiteHttp, settings: NetsuiteSettings, date_from: date, date_to: date
) -> Mapping[str, ErpJournal]:
    """Every journal entry NetSuite holds with revbridge's mark dated in [date_from, date_to],
    keyed by external id (see the module's docstring), its lines as ``read_back`` gives them."""
    if not settings.memo_prefix.strip():
        raise ConnectorUnavailable("NetSuite held needs memo_prefix: without it nothing marks our journals")
    found: dict[str, ErpJournal] = {}
    query = held_query(settings.memo_prefix, date_from, date_to)
    for row in _rows(http, query, settings.query_page_size):
        internal_id = str(row.get("id") or "")
        if not internal_id.isdigit():
            raise ConnectorUnavailable("NetSuite answered a SuiteQL row without an internal id")
        key = str(row.get("externalid") or "") or f"id:{internal_id}"
        record = http.get_json(
            f"{RECORD}/{internal_id}", params={"expandSubResources": "true"}, missing_ok=True
        )
        journal = read_back(key, record, settings) if record is not None else None
        if journal is not None:  # None: deleted between the query and the read
            found[key] = journal
    return found
