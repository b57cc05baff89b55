"""The Tryton connector's protocol handling against a scripted JSON-RPC endpoint.

The real trytond runs in tests/contract/test_connectors.py; here the endpoint is a function, so
failures at exact points (after create, during post, an expired session) can be staged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.tryton import TrytonConnector, TrytonSettings, decode, encode
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R

SENTINEL = "MRN-SENTINEL-55019"  # an event key and document key: never sent to the ERP
ACCOUNTS = {  # code -> id, party_required, statement
    "1.1.1": (10, False, "balance"),
    "1210": (12, True, "balance"),
    "4000": (40, False, "income"),
}


def _journal() -> Journal:
    def line(account: str, role: R, amount: str, cost_center: str = "") -> JournalLine:
        made = JournalLine.signed(
            account=account,
            role=role,
            amount=Money.of(amount),
            dimensions=Dimensions(legal_entity="LE01", cost_center=cost_center, payer_class="Medicare"),
            event_keys=(f"{SENTINEL}:{account}",),
        )
        assert made is not None
        return made

    draft = JournalDraft(
        lane=Lane.BATCH,
        legal_entity="LE01",
        currency="USD",
        posting_date=date(2026, 6, 15),
        source_document_key=f"{SENTINEL}:document",
        lines=(
            line("1210", R.AR_PAYER, "300.00"),
            line("4000", R.GROSS_REVENUE, "-250.00", "ED"),
            line("4000", R.GROSS_REVENUE, "-50.00", "RAD"),
        ),
    )
    return realtime_journal(draft)


class FakeTryton:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.bodies: list[bytes] = []
        self.moves: dict[int, dict[str, Any]] = {}
        self.parties: dict[str, int] = {}
        self.sessions = 0
        self.valid_session = ""
        self.refuse_all = False  # every session is refused, as with a revoked user
        self.on: dict[str, Callable[[list[Any]], Any]] = {}  # method -> scripted behaviour

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        body = json.loads(request.content)
        method, params = body["method"], decode(body["params"])
        self.calls.append(method)
        if method == "common.db.login":
            self.sessions += 1
            self.valid_session = f"s{self.sessions}"
            return httpx.Response(200, json={"id": body["id"], "result": [1, self.valid_session, None]})
        if self.refuse_all or not self._session_ok(request):
            return httpx.Response(401)
        if method in self.on:
            outcome = self.on.pop(method)(params)
            if isinstance(outcome, httpx.Response):
                return outcome
        return httpx.Response(200, json={"id": body["id"], "result": encode(self._model(method, params))})

    def _session_ok(self, request: httpx.Request) -> bool:
        token = request.headers.get("Authorization", "").removeprefix("Session ")
        return base64.b64decode(token).decode().endswith(f":{self.valid_session}")

    def _model(self, method: str, params: list[Any]) -> Any:
        match method:
            case "model.res.user.get_preferences":
                return {"company": 1, "language": "en"}
            case "model.account.journal.search":
                return [5]
            case "model.account.period.search":
                return [202606] if params[0][0][2] <= date(2026, 12, 31) else []
            case "model.account.account.search_read":
                code = params[0][0][2]
                if code not in ACCOUNTS:
                    return []
                ident, party, statement = ACCOUNTS[code]
                return [{"id": ident, "party_required": party, "type.": {"statement": statement}}]
            case "model.analytic_account.account.search":
                return {"ED": [71], "RAD": [72]}.get(params[0][0][2], [])
            case "model.party.party.search":
                name = params[0][0][2]
                return [self.parties[name]] if name in self.parties else []
            case "model.party.party.create":
                self.parties[params[0][0]["name"]] = 90 + len(self.parties)
                return [self.parties[params[0][0]["name"]]]
            case "model.account.move.create":
                move_id = 500 + len(self.moves)
                self.moves[move_id] = params[0][0] | {"state": "draft", "number": None, "id": move_id}
                return [move_id]
            case "model.account.move.post":
                for move_id in params[0]:
                    self.moves[move_id] |= {"state": "posted", "number": f"N{move_id}"}
                return None
            case "model.account.move.delete":
                for move_id in params[0]:
                    del self.moves[move_id]
                return None
            case "model.account.move.read":
                return [self.moves[i] for i in params[0]]
            case "model.account.move.search_read":
                ref = params[0][0][2]
                return [m for m in self.moves.values() if m["description"] == ref]
        raise AssertionError(f"unexpected call {method}")


def _connector(fake: FakeTryton, **settings: Any) -> TrytonConnector:
    values = {
        "url": "http://tryton.test",
        "database": "hosp",
        "password": "pw",
        "accounts": {"1010": "1.1.1"},
    }
    return TrytonConnector(TrytonSettings(**(values | settings)), transport=httpx.MockTransport(fake))


def _user_error(message: str) -> Callable[[list[Any]], httpx.Response]:
    return lambda _params: httpx.Response(200, json={"id": 1, "error": ["UserError", [message, "", None]]})


def test_values_travel_in_trytons_encoding() -> None:
    value = {"d": Decimal("1250.00"), "day": date(2026, 6, 15), "rows": [Decimal("-0.01")]}
    assert encode(value) == {
        "d": {"__class__": "Decimal", "decimal": "1250.00"},
        "day": {"__class__": "date", "year": 2026, "month": 6, "day": 15},
        "rows": [{"__class__": "Decimal", "decimal": "-0.01"}],
    }
    assert decode(encode(value)) == value


def test_submit_creates_and_posts_one_move_with_parties_and_analytics() -> None:
    fake = FakeTryton()
    connector = _connector(fake)
    journal = _journal()
    receipt = connector.submit(journal)
    (move,) = fake.moves.values()
    assert (receipt.document, move["state"], move["description"]) == ("N500", "posted", journal.id)
    assert (move["journal"], move["period"], move["date"]) == (5, 202606, date(2026, 6, 15))
    (lines,) = [op[1] for op in move["lines"] if op[0] == "create"]
    ar, ed, rad = lines
    assert ar == {
        "account": 12,
        "debit": Decimal("300.00"),
        "credit": Decimal("0"),
        "description": "ar_payer",
        "party": 90,
    }
    assert "party" not in ed and ed["credit"] == Decimal("250.00")
    assert ed["analytic_lines"] == [
        [
            "create",
            [{"account": 71, "debit": Decimal("0"), "credit": Decimal("250.00"), "date": date(2026, 6, 15)}],
        ]
    ]
    assert rad["analytic_lines"][0][1][0]["account"] == 72
    assert fake.parties == {"Medicare": 90}
    assert not any(SENTINEL.encode() in body for body in fake.bodies)
    connector.submit(_journal().__class__(**{**_asdict(journal), "id": "second"}))
    assert fake.calls.count("model.party.party.create") == 1  # parties and accounts are cached
    assert fake.calls.count("model.account.account.search_read") == 2
    connector.close()


def _asdict(journal: Journal) -> dict[str, Any]:
    return {name: getattr(journal, name) for name in Journal.__slots__}


def test_a_refused_post_deletes_the_draft_and_rejects() -> None:
    fake = FakeTryton()
    fake.on["model.account.move.post"] = _user_error("period is closed")
    connector = _connector(fake)
    with pytest.raises(ConnectorRejected, match="period is closed"):
        connector.submit(_journal())
    assert fake.moves == {}
    connector.close()


def test_a_post_whose_answer_is_lost_is_uncertain_and_lookup_finishes_it() -> None:
    fake = FakeTryton()

    def lost(_params: list[Any]) -> httpx.Response:
        raise httpx.ReadTimeout("lost")

    fake.on["model.account.move.post"] = lost
    connector = _connector(fake)
    journal = _journal()
    with pytest.raises(ConnectorUnavailable) as caught:
        connector.submit(journal)
    assert caught.value.uncertain
    (move,) = fake.moves.values()
    assert move["state"] == "draft"
    receipt = connector.lookup(journal.id)
    assert receipt is not None and receipt.document == "N500"
    assert [m["state"] for m in fake.moves.values()] == ["posted"]
    connector.close()


def test_a_post_refused_for_load_is_still_uncertain_because_the_draft_exists() -> None:
    fake = FakeTryton()
    fake.on["model.account.move.post"] = lambda _p: httpx.Response(503, headers={"Retry-After": "4"})
    connector = _connector(fake)
    with pytest.raises(ConnectorUnavailable) as caught:
        connector.submit(_journal())
    assert (caught.value.uncertain, caught.value.retry_after) == (True, 4.0)
    connector.close()


def test_a_failed_create_is_certain_and_refusals_are_rejections() -> None:
    fake = FakeTryton()
    fake.on["model.account.move.create"] = lambda _p: httpx.Response(
        200, json={"id": 1, "error": ["could not serialize access", "Traceback ..."]}
    )
    connector = _connector(fake)
    with pytest.raises(ConnectorUnavailable) as caught:
        connector.submit(_journal())
    assert not caught.value.uncertain
    fake.on["model.account.move.create"] = _user_error("The value for Account is not valid")
    with pytest.raises(ConnectorRejected, match="not valid"):
        connector.submit(_journal())
    assert fake.moves == {}
    connector.close()


def test_unknown_accounts_and_periods_are_rejected_before_anything_is_written() -> None:
    fake = FakeTryton()
    connector = _connector(fake, accounts={"1210": "9.9.9"})
    with pytest.raises(ConnectorRejected, match=r"0 open accounts with code '9.9.9' \(ours 1210\)"):
        connector.submit(_journal())
    late = _journal().__class__(**{**_asdict(_journal()), "posting_date": date(2031, 1, 2)})
    with pytest.raises(ConnectorRejected, match="no period for 2031-01-02"):
        _connector(fake).submit(late)
    assert "model.account.move.create" not in fake.calls
    connector.close()


def test_an_expired_session_logs_in_again_once() -> None:
    fake = FakeTryton()
    connector = _connector(fake)
    connector.submit(_journal())
    fake.valid_session = "rotated"  # the server forgot our session
    found = connector.lookup(_journal().id)
    assert found is not None and found.document == "N500"
    assert fake.sessions == 2
    fake.refuse_all = True
    with pytest.raises(ConnectorUnavailable, match="401"):
        connector.lookup("x")
    assert fake.sessions == 3  # one new login per refusal, not a loop
    connector.close()


def test_lookup_prefers_the_posted_move_and_removes_stray_drafts() -> None:
    fake = FakeTryton()
    connector = _connector(fake)
    journal = _journal()
    connector.submit(journal)
    fake.moves[900] = {"id": 900, "description": journal.id, "state": "draft", "number": None}
    receipt = connector.lookup(journal.id)
    assert receipt is not None and receipt.document == "N500"
    assert sorted(fake.moves) == [500]
    assert connector.lookup("never-sent") is None
    connector.close()
