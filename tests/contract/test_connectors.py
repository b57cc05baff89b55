"""The connector contract, run for every connector (DESIGN.md section 12), and Tryton end to end.

Every connector: a balanced journal gets a receipt; lookup finds it by our reference and returns
the same document; an unknown reference is None; the ERP's balances (read back from the ERP
itself: its tables, its files, its HTTP store, Tryton over JSON-RPC) equal the journal's lines
account by account; a second submit creates no second document where the ERP enforces uniqueness;
a journal the ERP refuses raises ConnectorRejected.

Tryton runs for real: trytond on the running PostgreSQL, provisioned once per machine
(tests/support/tryton.py), a fresh database per session.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tryton as tryton_support
from beancount import loader
from connectors_journals import DAY, LE, charge_batch, nets, remittance
from faulty_erp import FaultyErp
from runtime import build_runtime
from sqlalchemy import text

from revbridge.connectors import registry
from revbridge.connectors.base import Connector, ConnectorRejected
from revbridge.connectors.tryton import TrytonConnector, TrytonSettings
from revbridge.core.clock import FixedClock, SystemClock
from revbridge.demo import generate
from revbridge.ledger.journal import Journal
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate
from revbridge.store import journals as journal_store
from revbridge.store.general_ledger import trial_balance
from revbridge.store.schema import periods

T0 = datetime(2026, 6, 16, 2, 0, tzinfo=UTC)


@dataclass
class Harness:
    connector: Connector
    balances: Callable[[Sequence[str]], dict[str, Decimal]]  # ERP's net per ERP account
    documents: Callable[[str], int]  # how many ERP documents carry this reference
    refused: Callable[[], Journal]  # a journal this ERP refuses
    unique: bool  # the ERP itself refuses a second document for a reference
    mapping: dict[str, str]


def _nonzero(values: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k: v for k, v in values.items() if v != 0}


# ---- harnesses -------------------------------------------------------------------------------


def _embedded(url: str, fresh: bool) -> Iterator[Harness]:
    engine = Database.open(url, null_pool=True)
    migrate.upgrade(engine)
    if fresh:
        with engine.transaction() as conn:
            conn.execute(text("DELETE FROM gl_entries"))
            conn.execute(text("DELETE FROM gl_documents"))
            conn.execute(text("DELETE FROM periods"))
    env = registry.Environment(db=engine, clock=FixedClock(T0))
    connector = registry.build("embedded", {"type": "embedded"}, env)

    def balances(refs: Sequence[str]) -> dict[str, Decimal]:
        return {row.account: row.balance.amount for row in trial_balance(engine, references=refs)}

    def documents(ref: str) -> int:
        with engine.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM gl_documents WHERE reference = :r"), {"r": ref}
                ).scalar_one()
            )

    def refused() -> Journal:
        with engine.transaction() as conn:
            conn.execute(
                periods.insert().values(
                    legal_entity=LE, period="2026-03", status="closed", changed_by="test", changed_at=T0
                )
            )
        return remittance(date(2026, 3, 31), trn="CLOSED")

    yield Harness(connector, balances, documents, refused, True, {})
    connector.close()
    engine.close()


def _read_file(path: Path, kind: str) -> list[tuple[str, Decimal]]:
    """(account, net) per line, read back from an exported file the way an importer would."""
    data = path.read_bytes()
    if kind == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        return [(r["account"], Decimal(r["debit"]) - Decimal(r["credit"])) for r in rows]
    if kind == "fbdi":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.namelist() == ["GlInterface.csv"]
            rows = list(csv.reader(io.StringIO(archive.read("GlInterface.csv").decode())))
        assert all(len(r) == 149 and r[0] == "NEW" for r in rows)
        return [(r[10], Decimal(r[38] or 0) - Decimal(r[39] or 0)) for r in rows]  # SEGMENT3 = account
    entries, errors, _options = loader.load_string(data.decode())
    assert errors == []
    return [
        (posting.account.split(":")[2], posting.units.number)
        for entry in entries
        if hasattr(entry, "postings")
        for posting in entry.postings
    ]


def _file(directory: Path, kind: str) -> Iterator[Harness]:
    settings: dict[str, Any] = {"type": "file", "directory": str(directory), "format": kind}
    if kind == "fbdi":
        settings["fbdi"] = {"ledger_ids": {LE: "300000046975971"}}
    env = registry.Environment(db=Database.open("sqlite://"), clock=FixedClock(T0))
    connector = registry.build("file", settings, env)
    suffix = {"csv": ".csv", "fbdi": ".zip", "beancount": ".beancount"}[kind]

    def balances(refs: Sequence[str]) -> dict[str, Decimal]:
        result: dict[str, Decimal] = {}
        for ref in refs:
            for account, net in _read_file(directory / f"{ref}{suffix}", kind):
                result[account] = result.get(account, Decimal(0)) + net
        return result

    def documents(ref: str) -> int:
        return len(list(directory.glob(f"{ref}{suffix}")))

    def refused() -> Journal:
        if kind == "fbdi":
            return remittance(trn="OTHER-LE", legal_entity="LE99")  # no ledger id for LE99
        return replace(remittance(), id="../escape")  # cannot name a file

    yield Harness(connector, balances, documents, refused, True, {})


def _rest(erp: FaultyErp) -> Iterator[Harness]:
    settings = {
        "type": "rest",
        "base_url": erp.url,
        "token_url": "/oauth/token",
        "client_id": "revbridge",
        "client_secret": "s3cret",
    }
    connector = registry.build(
        "rest", settings, registry.Environment(db=Database.open("sqlite://"), clock=SystemClock())
    )

    def balances(refs: Sequence[str]) -> dict[str, Decimal]:
        result: dict[str, Decimal] = {}
        for doc in erp.documents:
            if doc.external_id in refs:
                for line in doc.body["lines"]:
                    result[line["account"]] = (
                        result.get(line["account"], Decimal(0)) + line["debit"] - line["credit"]
                    )
        return result

    def documents(ref: str) -> int:
        return sum(1 for d in erp.documents if d.external_id == ref)

    def refused() -> Journal:
        erp.fail_next("reject")
        return remittance(trn="REFUSED")

    yield Harness(connector, balances, documents, refused, True, {})
    connector.close()


def _tryton(server: tryton_support.TrytonServer) -> Iterator[Harness]:
    connector = registry.build(
        "tryton", server.settings, registry.Environment(db=Database.open("sqlite://"), clock=SystemClock())
    )
    assert isinstance(connector, TrytonConnector)

    def documents(ref: str) -> int:
        return len(connector.call("model.account.move.search", [["description", "=", ref]], 0, None, None))

    def refused() -> Journal:
        journal = remittance(trn="UNMAPPED")
        lines = (replace(journal.lines[0], account="9999"), *journal.lines[1:])
        return replace(journal, lines=lines)

    yield Harness(connector, connector.balances, documents, refused, False, dict(tryton_support.ACCOUNT_MAP))
    connector.close()


@pytest.fixture(scope="module")
def tryton_server() -> Iterator[tryton_support.TrytonServer]:
    server = tryton_support.start()
    yield server
    tryton_support.stop(server)


KINDS = [
    "embedded-sqlite",
    pytest.param("embedded-postgresql", marks=pytest.mark.postgres),
    "file-csv",
    "file-fbdi",
    "file-beancount",
    "rest",
    pytest.param("tryton", marks=[pytest.mark.tryton, pytest.mark.postgres, pytest.mark.slow]),
]


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    kind: str = request.param
    if kind == "embedded-sqlite":
        yield from _embedded(f"sqlite:///{tmp_path / 'store.db'}", False)
    elif kind == "embedded-postgresql":
        yield from _embedded(request.getfixturevalue("pg_url"), True)
    elif kind.startswith("file-"):
        yield from _file(tmp_path / "out", kind.removeprefix("file-"))
    elif kind == "rest":
        erp = FaultyErp()
        try:
            yield from _rest(erp)
        finally:
            erp.close()
    else:
        yield from _tryton(request.getfixturevalue("tryton_server"))


# ---- the contract ----------------------------------------------------------------------------

_runs = iter(range(1, 10**6))


def _fresh(journal: Journal) -> Journal:
    """The same journal under a reference no earlier test used (Tryton's database is per module)."""
    return replace(journal, id=f"{journal.id[:20]}{next(_runs):06d}{T0:%H%M%S}")


def test_submit_then_lookup_finds_the_same_document(harness: Harness) -> None:
    journal = _fresh(remittance())
    receipt = harness.connector.submit(journal)
    assert receipt.reference == journal.id
    assert receipt.document
    found = harness.connector.lookup(journal.id)
    assert found is not None
    assert (found.reference, found.document) == (journal.id, receipt.document)
    assert harness.documents(journal.id) == 1


def test_lookup_of_an_unknown_reference_is_none(harness: Harness) -> None:
    assert harness.connector.lookup(_fresh(remittance()).id) is None


def test_erp_balances_equal_the_journal_lines(harness: Harness) -> None:
    posted = [_fresh(remittance()), _fresh(charge_batch())]
    for journal in posted:
        harness.connector.submit(journal)
    expected = nets(posted, harness.mapping)
    assert expected["1211"] == Decimal("-250.00")  # -1,550.00 + 300.00 + 1,000.00
    assert _nonzero(harness.balances([j.id for j in posted])) == expected


def test_second_submit_creates_no_second_document_where_the_erp_is_unique(harness: Harness) -> None:
    if not harness.unique:
        pytest.skip("Tryton has no unique external reference: the outbox looks up before any re-send")
    journal = _fresh(charge_batch())
    first = harness.connector.submit(journal)
    again = harness.connector.submit(journal)
    assert again.document == first.document
    assert harness.documents(journal.id) == 1


def test_a_journal_the_erp_refuses_is_rejected(harness: Harness) -> None:
    journal = harness.refused()
    with pytest.raises(ConnectorRejected):
        harness.connector.submit(journal)
    if journal.lines and "/" not in journal.id:
        assert harness.documents(journal.id) == 0
        assert harness.connector.lookup(journal.id) is None


# ---- Tryton end to end -----------------------------------------------------------------------


def _read_accounts(connector: TrytonConnector, codes: list[str]) -> dict[str, Decimal]:
    """Tryton's own account debit and credit (the current fiscal year's) over JSON-RPC."""
    rows = connector.call(
        "model.account.account.search_read",
        [["code", "in", codes]],
        0,
        None,
        None,
        ["code", "debit", "credit"],
    )
    return {r["code"]: r["debit"] - r["credit"] for r in rows if r["debit"] - r["credit"] != 0}


def _analytic(connector: TrytonConnector, references: list[str]) -> dict[str, Decimal]:
    """Credit minus debit per analytic account (cost centre) on the moves with these references."""
    rows = connector.call(
        "model.analytic_account.line.search_read",
        [["move_line.move.description", "in", references]],
        0,
        None,
        None,
        ["account.code", "debit", "credit"],
    )
    result: dict[str, Decimal] = {}
    for row in rows:
        code = row["account."]["code"]
        result[code] = result.get(code, Decimal(0)) + row["credit"] - row["debit"]
    return _nonzero(result)


def _revenue_by_centre(journals: list[Journal]) -> dict[str, Decimal]:
    """Ours: credit minus debit per cost centre on income-statement lines (what Tryton analyses)."""
    income = ("gross_revenue", "contractual_allowance", "denial_writeoff", "administrative_writeoff")
    income += ("charity_care", "interest_income", "third_party_settlement", "bad_debt")
    result: dict[str, Decimal] = {}
    for journal in journals:
        for line in journal.lines:
            if line.role.value in income and line.dimensions.cost_center:
                centre = line.dimensions.cost_center
                result[centre] = result.get(centre, Decimal(0)) - line.net.amount
    return _nonzero(result)


@pytest.mark.tryton
@pytest.mark.postgres
@pytest.mark.slow
def test_tryton_end_to_end_through_the_outbox(
    tryton_server: tryton_support.TrytonServer, tmp_path: Path
) -> None:
    """A remittance and a charge batch staged in the store, posted by the dispatcher into Tryton on
    PostgreSQL: Tryton's own account balances, analytic balances and parties match ours."""
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}", null_pool=True)
    migrate.upgrade(engine)
    env = registry.Environment(db=engine, clock=SystemClock())
    router = registry.routing({"targets": {"erp": tryton_server.settings}, "default": "erp"}, env)
    connector = router(LE)
    assert isinstance(connector, TrytonConnector)
    # what Tryton held before (other tests in this module post into the same database)
    codes = ["1.1.1", "1200", "1211", "1214", "1220", "2155", "4100", "4110", "4120", "4510", "7100"]
    before = _read_accounts(connector, codes)
    posted = [remittance(trn="E2E-1"), charge_batch(), remittance(DAY + timedelta(days=1), trn="E2E-2")]
    now = datetime.now(UTC)
    with engine.transaction() as conn:
        for journal in posted:
            assert journal_store.stage_journal(conn, journal, connector="erp", first_received_at=now, now=now)
    dispatcher = Dispatcher(
        engine, router, clock=SystemClock(), metrics=Metrics(), config=OutboxConfig(owner="test")
    )
    try:
        assert dispatcher.drain() == 3
    finally:
        dispatcher.close()
    assert journal_store.counts(engine) == {"staged": 0, "submitting": 0, "posted": 3, "failed": 0}
    after = _read_accounts(connector, codes)
    delta = _nonzero({c: after.get(c, Decimal(0)) - before.get(c, Decimal(0)) for c in codes})
    assert delta == nets(posted, tryton_support.ACCOUNT_MAP)
    # every journal is one posted move carrying its reference, its number our erp_reference
    for stored in journal_store.list_journals(engine):
        (move,) = connector.call(
            "model.account.move.search_read",
            [["description", "=", stored.journal.id]],
            0,
            None,
            None,
            ["number", "state"],
        )
        assert move["state"] == "posted" and str(move["number"]) == stored.erp_document
    # analytic lines on income by cost centre; receivable and payable lines carry a party
    references = [j.id for j in posted]
    assert _analytic(connector, references) == {
        "CC-4100": Decimal("1099.99") - Decimal("940.00"),  # ED revenue less two contractual allowances
        "CC-4110": Decimal("800.50"),
        "CC-4120": Decimal("120.00"),
    }
    assert _analytic(connector, references) == _revenue_by_centre(posted)
    lines = connector.call(
        "model.account.move.line.search_read",
        [["move.description", "in", references], ["account.code", "in", ["1211", "1214", "1220", "2155"]]],
        0,
        None,
        None,
        ["account.code", "party.name"],
    )
    parties = {(r["account."]["code"], r["party."]["name"]) for r in lines}
    assert parties == {
        ("1211", "MEDICARE"),
        ("1214", "COMMERCIAL"),
        ("1220", "Patients"),
        ("2155", "MEDICARE"),
    }
    router.close()
    engine.close()


@pytest.mark.tryton
@pytest.mark.postgres
@pytest.mark.slow
def test_corpus_remittances_and_a_demo_day_post_into_tryton(
    tryton_server: tryton_support.TrytonServer, tmp_path: Path, corpus: Path
) -> None:
    """The pipeline's own journals (the reference configuration): every corpus 835 that carries
    cash, and one small simulated day of the demo health system (charges, remittances, patient
    payments), each in its own store, posted by the dispatcher into Tryton. Tryton's balances of
    those moves equal our journals account by account, and its analytic lines our cost centres."""
    connector = TrytonConnector(_settings(tryton_server))
    # Sample files of independent senders reuse payer ids and trace numbers: one store each, and
    # each its own interchange identity (as tests/e2e/test_posting_corpus.py does).
    sources: list[tuple[str, list[tuple[bytes, str, str, str | None]]]] = [
        (path.name, [(path.read_bytes(), "test", "auto", f"test:{path.name}")])
        for path in sorted((corpus / "x12_835").iterdir())
    ]
    day = generate(start=date(2026, 3, 2), seed=7, scale=0.05)
    sources.append(("demo", [(m.payload, f"{m.channel}:demo", m.format, None) for m in day.messages]))
    posted: list[Journal] = []
    try:
        for name, messages in sources:
            home = tmp_path / name
            home.mkdir()
            rt = build_runtime(f"sqlite:///{home / 'store.db'}", home, posting=True)
            try:
                for payload, channel, fmt, key in messages:
                    rt.intake.receive(payload, channel=channel, format=fmt, dedupe_key=key)
                rt.settle(close_windows=True, post=False)
                dispatcher = rt.dispatcher(connector_for=lambda _legal_entity: connector)
                try:
                    dispatcher.drain(timeout=300)
                finally:
                    dispatcher.close()
                counts = journal_store.counts(rt.db)
                assert counts["failed"] == counts["staged"] == 0, name
                posted += [s.journal for s in journal_store.list_journals(rt.db, limit=100_000)]
            finally:
                rt.close()
        lanes = {j.lane.value for j in posted}
        assert lanes == {"realtime", "batch"}  # remittances and payments, and the charge windows
        assert len(posted) >= 10
        references = [j.id for j in posted]
        assert _nonzero(connector.balances(references)) == nets(posted, tryton_support.ACCOUNT_MAP)
        assert _analytic(connector, references) == _revenue_by_centre(posted)
    finally:
        connector.close()


@pytest.mark.tryton
@pytest.mark.postgres
@pytest.mark.slow
def test_tryton_closed_period_rejects_and_leaves_no_draft(tryton_server: tryton_support.TrytonServer) -> None:
    connector = TrytonConnector(_settings(tryton_server))
    try:
        (period,) = connector.call(
            "model.account.period.search",
            [["start_date", "=", date(2025, 2, 1)], ["type", "=", "standard"]],
            0,
            1,
            None,
        )
        connector.call("model.account.period.close", [period], writes=True)
        journal = remittance(date(2025, 2, 14), trn="CLOSED-PERIOD")
        with pytest.raises(ConnectorRejected):
            connector.submit(journal)
        assert (
            connector.call("model.account.move.search", [["description", "=", journal.id]], 0, None, None)
            == []
        )
        assert connector.lookup(journal.id) is None
    finally:
        connector.close()


@pytest.mark.tryton
@pytest.mark.postgres
@pytest.mark.slow
def test_tryton_lookup_finishes_a_submission_cut_off_between_create_and_post(
    tryton_server: tryton_support.TrytonServer,
) -> None:
    connector = TrytonConnector(_settings(tryton_server))
    try:
        journal = remittance(date(2026, 7, 1), trn="CUT-OFF")
        (move_id,) = connector.call(
            "model.account.move.create", [connector.move_values(journal)], writes=True
        )
        receipt = connector.lookup(journal.id)
        assert receipt is not None and receipt.document
        (move,) = connector.call("model.account.move.read", [move_id], ["state", "number"])
        assert move["state"] == "posted" and str(move["number"]) == receipt.document
        assert connector.lookup(journal.id) == receipt
        assert (
            len(
                connector.call("model.account.move.search", [["description", "=", journal.id]], 0, None, None)
            )
            == 1
        )
    finally:
        connector.close()


def _settings(server: tryton_support.TrytonServer) -> TrytonSettings:
    values: dict[str, Any] = {k: v for k, v in server.settings.items() if k != "type"}
    return TrytonSettings(**values)
