"""The F&O connector's OData path is atomic: a journal's header and lines go in one $batch
changeset, so F&O's Journal post job, running on its own schedule, never posts a half-made journal,
and a refused line leaves nothing behind. Also the fake F&O's $batch: all or nothing per
changeset, one answer per operation, malformed batches refused whole."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from connectors_journals import LE, _line, small
from fo_erp import FoErp
from fo_settings import settings

from revbridge.connectors.base import ConnectorRejected, Receipt
from revbridge.connectors.dynamics_finance import DynamicsFinanceConnector
from revbridge.connectors.dynamics_finance_package import journal_key
from revbridge.connectors.exports import exact_lines
from revbridge.ledger.journal import Journal, JournalDraft, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R

BATCH = "/data/$batch"


@pytest.fixture
def erp() -> Iterator[FoErp]:
    server = FoErp()
    yield server
    server.close()


def pairs(n: int) -> Journal:
    """Six lines in three balancing pairs: after two lines, and after four, the journal so far
    balances, which is when a Journal post job that runs mid-journal would post it."""
    a, b, c = (f"{n + k}.{k}5" for k in (1, 2, 3))
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=LE,
        currency="USD",
        posting_date=small(0).posting_date,
        source_document_key=f"payment:pairs:{n}",
        lines=(
            _line("1015", R.CASH_CLEARING, a),
            _line("1211", R.AR_PAYER, f"-{a}", payer="MEDICARE"),
            _line("1220", R.AR_PATIENT, b),
            _line("2155", R.PAYER_CREDIT_BALANCE, f"-{b}", payer="MEDICARE"),
            _line("4510", R.CONTRACTUAL_ALLOWANCE, c, payer="MEDICARE", cost_center="CC-4100"),
            _line("7100", R.INTEREST_INCOME, f"-{c}", payer="MEDICARE"),
        ),
    )
    return realtime_journal(draft)


class PostJob:
    """F&O's Journal post batch job run in a tight loop on its own thread (as often as it can)."""

    def __init__(self, erp: FoErp) -> None:
        self.posted = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(erp,), daemon=True)
        self._thread.start()

    def _run(self, erp: FoErp) -> None:
        while not self._done.is_set():
            self.posted += erp.post_journals()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def test_an_odata_journal_posts_whole_and_once_while_the_post_job_runs_all_the_time(erp: FoErp) -> None:
    fo = DynamicsFinanceConnector(settings(erp))
    journals = [pairs(n) for n in range(25)]
    first = exact_lines(journals[0])
    assert len(first) == 6
    assert all(first[k].debit == first[k + 1].credit > 0 for k in (0, 2, 4))  # prefixes balance
    job = PostJob(erp)
    try:
        receipts = [fo.submit(j) for j in journals]
    finally:
        job.stop()
    assert all(isinstance(r, Receipt) and r.accepted for r in receipts)
    erp.post_journals()
    done = fo.check(receipts)
    assert {r: a.status for r, a in done.items() if isinstance(a, Receipt)} == {
        j.id: "posted" for j in journals
    }
    for journal, receipt in zip(journals, receipts, strict=True):
        ((header, lines),) = erp.journals(journal_key(journal.id))  # exactly one journal
        assert header["JournalBatchNumber"] == receipt.document and header["IsPosted"] == "Yes"
        assert [(r["DebitAmount"], r["CreditAmount"]) for r in lines] == [
            (line.debit, line.credit) for line in exact_lines(journal)
        ]
    assert erp.balances(posted_only=False) == erp.balances()  # nothing left unposted
    fo.close()


def test_an_odata_journal_is_one_batch_request(erp: FoErp) -> None:
    fo = DynamicsFinanceConnector(settings(erp))
    fo.submit(pairs(1))
    assert [(r.method, r.path) for r in erp.requests if "/oauth2/" not in r.path] == [
        ("GET", "/data/LedgerJournalHeaders"),  # the key looked up first
        ("POST", BATCH),  # the header and its six lines, one changeset
    ]
    fo.close()


def test_a_refused_line_rejects_the_journal_naming_it_and_leaves_no_header_and_no_lines(erp: FoErp) -> None:
    fo = DynamicsFinanceConnector(settings(erp, accounts={"2155": "9999"}))  # the fourth line
    fo.submit(small(1))  # one journal already there, which must stay
    before = ([dict(h) for h in erp.ledger.headers], [dict(r) for r in erp.ledger.lines])
    with pytest.raises(ConnectorRejected, match="Main account '9999' does not exist") as refused:
        fo.submit(pairs(2))
    assert refused.value.lines == (4,)
    assert (erp.ledger.headers, erp.ledger.lines) == before
    assert erp.journals(journal_key(pairs(2).id)) == [] and fo.lookup(pairs(2).id) is None
    fo.close()


# -- the fake F&O's $batch, spoken by hand ---------------------------------------------------------


def client(erp: FoErp) -> httpx.Client:
    form = {
        "grant_type": "client_credentials",
        "client_id": erp.client_id,
        "client_secret": erp.client_secret,
        "scope": f"{erp.url}/.default",
    }
    token = httpx.post(erp.token_url, data=form).json()["access_token"]
    return httpx.Client(base_url=erp.url, headers={"Authorization": f"Bearer {token}"})


HEADER = '{"dataAreaId":"mhn","JournalName":"GenJrn","Description":"by hand"}'


def line(account: str, debit: str, credit: str) -> str:
    return (
        '{"dataAreaId":"mhn","AccountType":"Ledger","AccountDisplayValue":"' + account + '||||",'
        '"TransDate":"2026-06-15T12:00:00Z","CurrencyCode":"USD",'
        f'"DebitAmount":{debit},"CreditAmount":{credit}}}'
    )


def body(*ops: tuple[str, str, str, str], boundary: str = "b1", change: str = "c1") -> bytes:
    text = [f"--{boundary}", f"Content-Type: multipart/mixed; boundary={change}", ""]
    for content_id, method, url, json in ops:
        text += [f"--{change}", "Content-Type: application/http", "Content-Transfer-Encoding: binary"]
        text += [f"Content-ID: {content_id}"] if content_id else []
        text += ["", f"{method} {url} HTTP/1.1", "Content-Type: application/json", "", json]
    text += [f"--{change}--", f"--{boundary}--", ""]
    return "\r\n".join(text).encode()


def post(erp: FoErp, content: bytes, boundary: str = "b1") -> httpx.Response:
    with client(erp) as http:
        return http.post(
            BATCH, content=content, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
        )


def test_a_changeset_answers_each_operation_and_makes_the_journal(erp: FoErp) -> None:
    answer = post(
        erp,
        body(
            ("1", "POST", "LedgerJournalHeaders", HEADER),
            ("2", "POST", "$1/JournalLines", line("1015", "5", "0")),
            ("3", "POST", "$1/JournalLines", line("1220", "0", "5")),
        ),
    )
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("multipart/mixed")
    assert answer.text.count("HTTP/1.1 201 Created") == 3
    assert next(c.strip() for c in answer.text.split("Content-ID:")[1:]).startswith("1")
    ((header, lines),) = erp.journals("by hand")
    assert [r["JournalBatchNumber"] for r in lines] == [header["JournalBatchNumber"]] * 2


def test_a_changeset_with_a_refused_line_is_rolled_back_whole(erp: FoErp) -> None:
    answer = post(
        erp,
        body(
            ("1", "POST", "LedgerJournalHeaders", HEADER),
            ("2", "POST", "$1/JournalLines", line("1015", "5", "0")),
            ("3", "POST", "$1/JournalLines", line("9999", "0", "5")),
        ),
    )
    assert answer.status_code == 200
    assert "HTTP/1.1 201" not in answer.text and answer.text.count("HTTP/1.1 400") == 1
    assert "Content-ID: 3" in answer.text and "Main account '9999' does not exist" in answer.text
    assert erp.ledger.headers == [] and erp.ledger.lines == []


@pytest.mark.parametrize(
    ("content", "boundary"),
    [
        (b"not multipart at all", "b1"),
        (body(("1", "POST", "LedgerJournalHeaders", HEADER)).replace(b"--b1--", b""), "b1"),  # unclosed
        (body(("", "POST", "LedgerJournalHeaders", HEADER)), "b1"),  # no Content-ID in a changeset
        (body(("1", "GET", "LedgerJournalHeaders", "")), "b1"),  # a GET in a changeset
        (body(("1", "POST", "$2/JournalLines", line("1015", "5", "0"))), "b1"),  # names nothing earlier
        (
            body(
                ("1", "POST", "LedgerJournalHeaders", HEADER), ("1", "POST", "LedgerJournalHeaders", HEADER)
            ),
            "b1",
        ),
        (body(("1", "FETCH", "LedgerJournalHeaders", HEADER)), "b1"),  # not a request line
        (body(("1", "POST", "LedgerJournalHeaders", HEADER)), "other"),  # the wrong boundary
    ],
)
def test_a_malformed_batch_is_refused_whole_with_400(erp: FoErp, content: bytes, boundary: str) -> None:
    answer = post(erp, content, boundary)
    assert answer.status_code == 400 and "batch" in answer.json()["error"]["message"]
    assert erp.ledger.headers == [] and erp.ledger.lines == []
