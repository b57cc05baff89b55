"""The connector contract, run for every connector (DESIGN.md section 12).

Every connector: a balanced journal gets a receipt; lookup finds it by our reference and returns
the same document; an unknown reference is None; the ERP's balances (read back from the ERP
itself: its tables, its files, its HTTP store, Tryton over JSON-RPC) equal the journal's lines
account by account; a second submit creates no second document where the ERP enforces uniqueness;
a journal the ERP refuses raises ConnectorRejected.

The four cloud ERPs (Oracle Fusion, Business Central, Dynamics 365 Finance, NetSuite) run as their
protocol-faithful servers (tests/support/cloud_erps.py), a fresh one per test; an ERP that only
accepts a journal is followed until it answers, so "a receipt" means posted there too. Their
contract with the outbox (lost answers, outages, deadlines, credentials) is in
test_cloud_connectors.py.

Tryton runs for real: trytond on the running PostgreSQL, provisioned once per machine
(tests/support/tryton.py), a fresh database per module. Tryton end to end (the outbox, the
pipeline's own journals, closed periods, a cut-off submission) is in test_connectors_tryton.py.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import cloud_erps
import pytest
import tryton as tryton_support
from beancount import loader
from connectors_journals import LE, charge_batch, nets, nonzero, remittance
from faulty_erp import FaultyErp
from sqlalchemy import text

from revbridge.connectors import registry
from revbridge.connectors.base import Connector, ConnectorRejected, Receipt, Rejection
from revbridge.connectors.tryton import TrytonConnector
from revbridge.core.clock import FixedClock, SystemClock
from revbridge.ledger.journal import Journal
from revbridge.store import Database, migrate
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
    # submit, and for an ERP that only accepts a journal, follow its job until the ERP answers
    post: Callable[[Connector, Journal], Receipt] = lambda connector, journal: connector.submit(journal)

    def submit(self, journal: Journal) -> Receipt:
        return self.post(self.connector, journal)


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


def _followed(connector: Connector, journal: Journal) -> Receipt:
    """Submit, then check an accepted journal every 20 ms until the ERP has answered."""
    receipt = connector.submit(journal)
    deadline = time.monotonic() + 30
    while receipt.accepted:
        assert time.monotonic() < deadline, "the ERP never finished the job"
        time.sleep(0.02)
        answer = connector.check([receipt]).get(journal.id, receipt)  # type: ignore[attr-defined]
        if isinstance(answer, Rejection):
            raise ConnectorRejected(answer.message, lines=answer.lines)
        receipt = answer
    return receipt


def _cloud(kind: str, store: Path) -> Iterator[Harness]:
    """A cloud ERP's protocol-faithful server (tests/support/cloud_erps.py), fresh per test, over a
    store an ERP that pushes its answers (SAP) delivers them into."""
    with cloud_erps.started(kind) as rig:
        db = Database.open(f"sqlite:///{store}")
        migrate.upgrade(db)
        rig.attach(db)
        env = registry.Environment(db=db, clock=SystemClock(), secrets=rig.secrets)
        connector = registry.build(kind, rig.settings, env)
        sent: dict[str, Journal] = {}

        def post(c: Connector, journal: Journal) -> Receipt:
            sent[journal.id] = journal
            return _followed(c, journal)

        def documents(ref: str) -> int:
            return rig.documents(sent[ref]) if ref in sent else 0

        def refused() -> Journal:
            journal = remittance(trn="UNKNOWN-ACCOUNT")
            return replace(journal, lines=(replace(journal.lines[0], account="9999"), *journal.lines[1:]))

        yield Harness(connector, lambda _refs: rig.balances(), documents, refused, True, {}, post)
        connector.close()
        db.close()


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
    *cloud_erps.KINDS,
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
    elif kind in cloud_erps.KINDS:
        yield from _cloud(kind, tmp_path / "cloud.db")
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
    receipt = harness.submit(journal)
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
        harness.submit(journal)
    expected = nets(posted, harness.mapping)
    assert expected["1211"] == Decimal("-250.00")  # -1,550.00 + 300.00 + 1,000.00
    assert nonzero(harness.balances([j.id for j in posted])) == expected


def test_second_submit_creates_no_second_document_where_the_erp_is_unique(harness: Harness) -> None:
    if not harness.unique:
        pytest.skip("Tryton has no unique external reference: the outbox looks up before any re-send")
    journal = _fresh(charge_batch())
    first = harness.submit(journal)
    again = harness.submit(journal)
    assert again.document == first.document
    assert harness.documents(journal.id) == 1


def test_a_journal_the_erp_refuses_is_rejected(harness: Harness) -> None:
    journal = harness.refused()
    with pytest.raises(ConnectorRejected):
        harness.submit(journal)
    if journal.lines and "/" not in journal.id:
        assert harness.documents(journal.id) == 0
        assert harness.connector.lookup(journal.id) is None
