"""The Tryton connector: ``account.move`` create + post over JSON-RPC (trytond 8.x).

Protocol (erp-apis.md A.10): POST ``/<db>/rpc/`` with ``{"id", "method", "params"}``; log in with
``common.db.login``, then send ``Authorization: Session base64(login:uid:session)``; every model
call takes the user's context last. Decimals and dates travel as ``{"__class__": ...}`` objects.

A journal becomes one move in the configured journal (``MISC`` by default) whose ``description``
is our journal id: Tryton has no unique external reference, so ``lookup`` searches it. Each line
goes to the Tryton account whose code the ``accounts`` mapping gives for our account number (the
same code when unmapped); a line on an account that requires a party (receivables) gets a party
by its role (``role_parties``: patient balances go to "Patients"), else by its payer class
(``parties`` mapping, else a party named after the payer class), else ``default_party``, created
on first use; an income-statement line with a cost centre gets one
analytic line on the analytic account with that code (``analytic_accounts`` mapping, else the
same code).

Create and post are two calls. Once the create has answered, any later failure is *uncertain*,
because a draft move with our reference exists; ``lookup`` posts such a draft rather than let the
outbox create a second one. A post Tryton refuses (closed period, unbalanced) deletes the draft and
rejects the journal.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, Limits, Receipt
from revbridge.connectors.exports import ExportLine, exact_lines
from revbridge.ledger.journal import Journal

DEFAULT_LIMITS = Limits(rate_per_second=20.0, burst=20, concurrency=2, backoff_base=1.0, backoff_cap=60.0)
_REJECTING = ("UserError", "UserWarning", "AccessError")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrytonSettings:
    url: str  # http://host:8000
    database: str
    password: str
    user: str = "admin"
    journal: str = "MISC"  # code of the account.journal moves go to
    accounts: Mapping[str, str] = field(default_factory=dict)  # our account -> Tryton account code
    analytic_accounts: Mapping[str, str] = field(default_factory=dict)  # cost centre -> analytic code
    parties: Mapping[str, str] = field(default_factory=dict)  # payer class -> party name
    role_parties: Mapping[str, str] = field(
        default_factory=lambda: {"ar_patient": "Patients", "patient_credit_balance": "Patients"}
    )  # account role -> party name; wins over the payer class
    default_party: str = "Patients"
    company: int | None = None  # company id; default: the user's current company
    timeout: float = 30.0
    language: str = "en"


def encode(value: Any) -> Any:
    """Python values to Tryton's JSON-RPC encoding."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("__class__")
        if kind == "Decimal":
            return Decimal(value["decimal"])
        if kind == "date":
            return date(value["year"], value["month"], value["day"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class TrytonConnector:
    def __init__(
        self,
        settings: TrytonSettings,
        *,
        limits: Limits = DEFAULT_LIMITS,
        transport: httpx.BaseTransport | None = None,
        name: str = "tryton",
    ) -> None:
        self._name = name
        self.settings = settings
        self._limits = limits
        self._client = httpx.Client(
            base_url=settings.url.rstrip("/"),
            timeout=settings.timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )
        self._path = f"/{settings.database}/rpc/"
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._auth: str | None = None
        self._context: dict[str, Any] | None = None
        self._accounts: dict[str, tuple[int, bool, bool]] = {}  # code -> (id, party_required, income)
        self._analytic: dict[str, int] = {}
        self._parties: dict[str, int] = {}
        self._periods: dict[tuple[int, int], int] = {}
        self._journal_id: int | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def limits(self) -> Limits:
        return self._limits

    # -- JSON-RPC ----------------------------------------------------------------------------------

    def _post(self, method: str, params: list[Any], *, auth: str | None, writes: bool) -> httpx.Response:
        body = {"id": next(self._ids), "method": method, "params": encode(params)}
        headers = {"Authorization": auth} if auth else {}
        try:
            return self._client.post(self._path, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectorUnavailable(f"Tryton unreachable: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise ConnectorUnavailable(
                f"Tryton answer lost: {type(exc).__name__}", uncertain=writes
            ) from None

    def _login(self) -> str:
        s = self.settings
        response = self._post(
            "common.db.login", [s.user, {"password": s.password}, s.language], auth=None, writes=False
        )
        if response.status_code != 200:
            raise ConnectorUnavailable(f"Tryton login answered {response.status_code}")
        uid, session = self._result(response, method="common.db.login")[:2]
        token = base64.b64encode(f"{s.user}:{uid}:{session}".encode()).decode("ascii")
        return f"Session {token}"

    def call(self, method: str, *args: Any, writes: bool = False) -> Any:
        """Call ``model.<model>.<method>`` with the session context appended."""
        with self._lock:
            if self._auth is None:
                self._auth = self._login()
            auth = self._auth
        context = self.context()
        response = self._post(method, [*args, context], auth=auth, writes=writes)
        if response.status_code in (401, 403):
            with self._lock:
                if self._auth == auth:
                    self._auth = self._login()
                auth = self._auth
            response = self._post(method, [*args, context], auth=auth, writes=writes)
        return self._result(response, method=method, writes=writes)

    def context(self) -> dict[str, Any]:
        with self._lock:
            if self._context is None:
                if self._auth is None:
                    self._auth = self._login()
                response = self._post(
                    "model.res.user.get_preferences", [True, {}], auth=self._auth, writes=False
                )
                prefs = self._result(response, method="get_preferences")
                company = self.settings.company or prefs.get("company")
                self._context = {
                    "company": company,
                    "companies": [company],
                    "language": prefs.get("language", self.settings.language),
                }
            return dict(self._context)

    def _result(self, response: httpx.Response, *, method: str, writes: bool = False) -> Any:
        status = response.status_code
        if status == 429 or status == 503:
            raise ConnectorUnavailable(f"Tryton answered {status} to {method}", retry_after=_after(response))
        if status != 200:
            raise ConnectorUnavailable(f"Tryton answered {status} to {method}", uncertain=writes)
        try:
            payload = response.json()
        except ValueError:
            raise ConnectorUnavailable(f"Tryton answered {method} with no JSON", uncertain=writes) from None
        if payload.get("error"):
            kind, detail = payload["error"][0], payload["error"][1] if len(payload["error"]) > 1 else ""
            message = detail[0] if isinstance(detail, list) and detail else str(detail)[:300]
            if kind in _REJECTING:
                raise ConnectorRejected(f"Tryton refused {method}: {message}")
            # the RPC ran in a transaction Tryton rolled back: nothing was written
            raise ConnectorUnavailable(f"Tryton failed {method}: {str(kind)[:200]}")
        return decode(payload.get("result"))

    # -- master data lookups (cached) --------------------------------------------------------------

    def _journal(self) -> int:
        if self._journal_id is None:
            ids = self.call(
                "model.account.journal.search", [["code", "=", self.settings.journal]], 0, 1, None
            )
            if not ids:
                raise ConnectorRejected(f"Tryton has no journal with code {self.settings.journal!r}")
            self._journal_id = int(ids[0])
        return self._journal_id

    def _account(self, ours: str) -> tuple[int, bool, bool]:
        code = self.settings.accounts.get(ours, ours)
        if code not in self._accounts:
            found = self.call(
                "model.account.account.search_read",
                [["code", "=", code], ["closed", "!=", True]],
                0,
                2,
                None,
                ["id", "party_required", "type.statement"],
            )
            if len(found) != 1:
                raise ConnectorRejected(
                    f"Tryton has {len(found)} open accounts with code {code!r} (ours {ours})"
                )
            row = found[0]
            statement = (row.get("type.") or {}).get("statement")
            self._accounts[code] = (int(row["id"]), bool(row["party_required"]), statement == "income")
        return self._accounts[code]

    def _analytic_account(self, cost_center: str) -> int:
        code = self.settings.analytic_accounts.get(cost_center, cost_center)
        if code not in self._analytic:
            ids = self.call(
                "model.analytic_account.account.search",
                [["code", "=", code], ["type", "=", "normal"]],
                0,
                2,
                None,
            )
            if len(ids) != 1:
                raise ConnectorRejected(f"Tryton has {len(ids)} analytic accounts with code {code!r}")
            self._analytic[code] = int(ids[0])
        return self._analytic[code]

    def _party(self, line: ExportLine) -> int:
        s = self.settings
        name = (
            s.role_parties.get(line.role.value)
            or s.parties.get(line.payer_class)
            or line.payer_class
            or s.default_party
        )
        with self._lock:
            if name not in self._parties:
                ids = self.call("model.party.party.search", [["name", "=", name]], 0, 1, None)
                if not ids:
                    ids = self.call("model.party.party.create", [{"name": name}], writes=True)
                self._parties[name] = int(ids[0])
            return self._parties[name]

    def _period(self, day: date) -> int:
        key = (day.year, day.month)
        if key not in self._periods:
            ids = self.call(
                "model.account.period.search",
                [["start_date", "<=", day], ["end_date", ">=", day], ["type", "=", "standard"]],
                0,
                1,
                None,
            )
            if not ids:
                raise ConnectorRejected(f"Tryton has no period for {day.isoformat()}")
            self._periods[key] = int(ids[0])
        return self._periods[key]

    # -- the protocol ------------------------------------------------------------------------------

    def move_values(self, journal: Journal) -> dict[str, Any]:
        return {
            "journal": self._journal(),
            "period": self._period(journal.posting_date),
            "date": journal.posting_date,
            "description": journal.id,
            "lines": [["create", [self._line(journal, line) for line in exact_lines(journal)]]],
        }

    def _line(self, journal: Journal, line: ExportLine) -> dict[str, Any]:
        account, party_required, income = self._account(line.account)
        values: dict[str, Any] = {
            "account": account,
            "debit": line.debit,
            "credit": line.credit,
            "description": line.role.value,
        }
        if party_required:
            values["party"] = self._party(line)
        if income and line.cost_center:
            analytic = {
                "account": self._analytic_account(line.cost_center),
                "debit": line.debit,
                "credit": line.credit,
                "date": journal.posting_date,
            }
            values["analytic_lines"] = [["create", [analytic]]]
        return values

    def submit(self, journal: Journal) -> Receipt:
        if len(journal.currencies) != 1:
            raise ConnectorRejected("a Tryton move holds one currency; split the journal by currency")
        values = self.move_values(journal)
        (move_id,) = self.call("model.account.move.create", [values], writes=True)
        try:
            return self._post_move(journal.id, int(move_id))
        except ConnectorUnavailable as exc:
            # the draft exists: whatever happened to the post, only a lookup can tell
            raise ConnectorUnavailable(str(exc), retry_after=exc.retry_after, uncertain=True) from None

    def _post_move(self, reference: str, move_id: int) -> Receipt:
        try:
            self.call("model.account.move.post", [move_id], writes=True)
        except ConnectorRejected:
            self.call("model.account.move.delete", [move_id], writes=True)
            raise
        (row,) = self.call("model.account.move.read", [move_id], ["number", "state"])
        return Receipt(reference=reference, document=str(row["number"] or f"move:{move_id}"))

    def lookup(self, reference: str) -> Receipt | None:
        moves = self.call(
            "model.account.move.search_read",
            [["description", "=", reference]],
            0,
            None,
            [["id", "ASC"]],
            ["id", "number", "state"],
        )
        posted = [m for m in moves if m["state"] == "posted"]
        drafts = [m for m in moves if m["state"] != "posted"]
        if posted:
            if drafts:
                self.call("model.account.move.delete", [m["id"] for m in drafts], writes=True)
            return Receipt(reference=reference, document=str(posted[0]["number"]))
        if not drafts:
            return None
        if len(drafts) > 1:
            self.call("model.account.move.delete", [m["id"] for m in drafts[1:]], writes=True)
        # our own submission stopped between create and post: finish it
        return self._post_move(reference, int(drafts[0]["id"]))

    def balances(self, references: Sequence[str] | None = None) -> dict[str, Decimal]:
        """Net (debit positive) per Tryton account code over posted move lines, optionally only of
        the moves with these references: what the ERP acknowledged, for reconciliation."""
        domain: list[Any] = [["move.state", "=", "posted"]]
        if references is not None:
            domain.append(["move.description", "in", list(references)])
        rows = self.call(
            "model.account.move.line.search_read", domain, 0, None, None, ["account.code", "debit", "credit"]
        )
        result: dict[str, Decimal] = {}
        for row in rows:
            code = row["account."]["code"]
            result[code] = result.get(code, Decimal(0)) + row["debit"] - row["credit"]
        return result

    def close(self) -> None:
        self._client.close()


def _after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None
