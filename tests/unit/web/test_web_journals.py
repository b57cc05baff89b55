"""The journals page as an accountant uses it: each journal described by what it was built from
(the remittance's payer and check/EFT number, the batch's window), newest first, with debit and
credit totals per journal and for the filtered list, filtered by source kind and payer; and no
patient data in any of it."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from workbench import MEDICARE_A, REDOX_ADT, REDOX_DFT, RUSHMORE, People, ingest, posted

from revbridge.bootstrap import Runtime
from revbridge.security.roles import Role
from revbridge.store import journals
from revbridge.store.views import journal_sources
from revbridge.web.journals import describe

PAYER = "1512345678"  # the Medicare ERA's TRN03 / payer id
ERA = "Remittance from INSURANCE COMPANY OF TIMBUCKTU, ACH 12345"  # its N1*PR name, BPR04, TRN02
ROW = re.compile(
    r'<a href="/journals/([0-9a-f]+)" title="journal \1" class="journal-description">([^<]*)<br>'
)


def _books(rt: Runtime, corpus: Path, era: bytes | None = None) -> None:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")  # excepted (unmapped payer): no journal
    ingest(rt, era or (corpus / MEDICARE_A).read_bytes(), "medicare")
    ingest(rt, REDOX_ADT, "adt")
    ingest(rt, (corpus / REDOX_DFT).read_bytes(), "dft")
    assert posted(rt) == 2


def _rows(client: TestClient, query: str = "") -> list[tuple[str, str]]:
    answer = client.get(f"/journals{query}")
    assert answer.status_code == 200, answer.text
    return ROW.findall(answer.text)


def _total(client: TestClient, query: str = "") -> tuple[str, str, str]:
    page = client.get(f"/journals{query}").text
    found = re.search(
        r"Total of (\d+) journals? matching</th>\s*"
        r'<td class="num">([\d,.]+)</td><td class="num">([\d,.]+)</td>',
        page,
    )
    assert found is not None, "no total row"
    return found.group(1), found.group(2), found.group(3)


def test_journals_are_described_newest_first_with_totals(rt: Runtime, people: People, corpus: Path) -> None:
    _books(rt, corpus)
    viewer = people.browser(Role.VIEWER)
    era = journals.list_journals(rt.db, lane="realtime")[0].journal.id
    batch = journals.list_journals(rt.db, lane="batch")[0].journal.id
    rows = _rows(viewer)
    # The charge batch posts on 2009-09-23, the ERA on 2002-09-13: newest first.
    assert [jid for jid, _ in rows] == [batch, era]
    assert rows[1][1] == ERA
    assert re.fullmatch(
        r"Batch window \d{4}-\d\d-\d\d \d\d:\d\d-\d\d:\d\d UTC, 2 subledger lines", rows[0][1]
    )
    page = viewer.get("/journals").text
    assert f'<code class="help">{era}</code></a>' in page  # the hash stays there for support
    assert page.count('<td class="num">226,368.24</td>') == 2  # the ERA's debits and credits
    assert page.count('<td class="num">125.10</td>') == 2  # the charge's
    assert _total(viewer) == ("2", "226,493.34", "226,493.34")
    # The page reads journals without their lines' event keys (a batch journal has thousands).
    (keyed,) = journals.list_journals(rt.db, lane="batch")
    (bare,) = journals.list_journals(rt.db, lane="batch", event_keys=False)
    assert all(line.event_keys for line in keyed.journal.lines)
    assert not any(line.event_keys for line in bare.journal.lines) and bare.journal.id == batch


def test_each_filter_narrows_the_list_and_its_total(rt: Runtime, people: People, corpus: Path) -> None:
    _books(rt, corpus)
    viewer = people.browser(Role.VIEWER)
    era = journals.list_journals(rt.db, lane="realtime")[0].journal.id
    batch = journals.list_journals(rt.db, lane="batch")[0].journal.id
    page = viewer.get("/journals").text
    assert '<option value="remittance">remittance</option>' in page
    assert '<option value="batch">batch</option>' in page
    assert f'<option value="{PAYER}">INSURANCE COMPANY OF TIMBUCKTU ({PAYER})</option>' in page
    assert [jid for jid, _ in _rows(viewer, "?kind=remittance")] == [era]
    assert _total(viewer, "?kind=remittance") == ("1", "226,368.24", "226,368.24")
    assert [jid for jid, _ in _rows(viewer, "?kind=batch")] == [batch]
    assert _total(viewer, "?kind=batch") == ("1", "125.10", "125.10")
    assert [jid for jid, _ in _rows(viewer, f"?payer={PAYER}")] == [era]
    assert [jid for jid, _ in _rows(viewer, "?date_from=2009-01-01")] == [batch]
    assert [jid for jid, _ in _rows(viewer, "?date_to=2009-01-01")] == [era]
    for nothing in (f"?payer={PAYER}&kind=batch", "?payer=999", "?kind=PatientPaymentReceived"):
        answer = viewer.get(f"/journals{nothing}").text
        assert "No journal matches" in answer and "Total of" not in answer, nothing
    assert viewer.get("/journals?kind=not-a-kind").status_code == 422


def test_a_replayed_journal_is_found_under_its_source(rt: Runtime, corpus: Path) -> None:
    """A replay appends ``#revision`` to the reference; the journal still has its ERA's payer."""
    _books(rt, corpus)
    era = journals.list_journals(rt.db, lane="realtime")[0]
    again = dataclasses.replace(era.journal, id="replayed-era", reference=f"{era.journal.reference}#r1")
    with rt.db.transaction() as tx:
        journals.insert_journal(
            tx, again, connector="embedded", first_received_at=era.first_received_at, now=era.created_at
        )
    assert set(journal_sources.with_source(rt.db, payer=PAYER)) == {era.journal.id, "replayed-era"}
    assert set(journal_sources.with_source(rt.db, kind="remittance")) == {era.journal.id, "replayed-era"}
    found = journal_sources.describe(rt.db, [("replayed-era", "realtime", again.reference)])
    assert found["replayed-era"].trace == "12345" and found["replayed-era"].payer_id == PAYER
    with rt.db.reading() as tx:  # claim responses sent without a payment: payer and trace from the key
        alone = journal_sources.describe_bases(tx, {f"remittance:{PAYER}:T9", "remittance:claim:x12:835:1"})
    assert alone[f"remittance:{PAYER}:T9"] == journal_sources.Source(
        kind="remittance", payer_id=PAYER, trace="T9"
    )
    assert alone["remittance:claim:x12:835:1"] == journal_sources.Source(kind="remittance")


def test_descriptions_of_other_sources() -> None:
    alone = journal_sources.Source(kind="remittance", payer_id=PAYER, trace="T9")
    assert describe(alone, "realtime") == f"Remittance from payer {PAYER}, T9"
    bare = journal_sources.Source(kind="remittance", payer_id=PAYER)
    assert describe(bare, "realtime") == f"Remittance from payer {PAYER} (claim responses, no payment)"
    card = journal_sources.Source(kind="PatientPaymentReceived", method="card")
    assert describe(card, "realtime") == "Patient payment received, card"
    assert describe(None, "batch") == "batch journal (its source is no longer stored)"
    opened = datetime(2026, 12, 7, 23, 55, tzinfo=UTC)
    overnight = journal_sources.Source(
        kind="batch", window_opened=opened, window_closed=opened + timedelta(minutes=10), window_lines=3
    )
    assert (
        describe(overnight, "batch")
        == "Batch window 2026-12-07 23:55 to 2026-12-08 00:05 UTC, 3 subledger lines"
    )
    still_open = journal_sources.Source(kind="batch", window_opened=opened, window_lines=1)
    assert describe(still_open, "batch") == "Batch window 2026-12-07 23:55 (still open) UTC, 1 subledger line"


def test_no_patient_data_in_descriptions(rt: Runtime, people: People, corpus: Path) -> None:
    """Sentinel patient names and member ids in the ERA's NM1*QC, and the ADT's patient, appear
    nowhere on the journals page, whatever the filter."""
    era = (corpus / MEDICARE_A).read_bytes()
    era = era.replace(
        b"NM1*QC*1*JONES*SAM*O***HN*666666666A", b"NM1*QC*1*ZZPHIJONES*ZZPHISAM*O***HN*ZZPHI0001A"
    )
    assert b"ZZPHIJONES" in era
    _books(rt, corpus, era)
    viewer = people.browser(Role.PHI_READER)  # not even a PHI reader sees any here
    for query in ("", "?kind=remittance", f"?payer={PAYER}", "?kind=batch"):
        page = viewer.get(f"/journals{query}").text
        for sentinel in ("ZZPHI", "BORDER", "11401562", "19341230", "HALL", "MARCUS", "pt_"):
            assert sentinel not in page, (query, sentinel)
    assert ERA in viewer.get("/journals").text
