"""store/golive.py and the subledger read-back a go-live replacement uses, on both backends: loads
are kept per cut-over date, legal entity and revision, a reversed load leaves the active set but
stays listed, revisions count per date, and an opening journal's drafts read back as staged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole
from revbridge.store import Database, golive, journals, subledger
from revbridge.store.views import journals as journal_views

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
AS_OF = date(2025, 3, 2)


def _load(entity: str, revision: int, journal_id: str) -> golive.Load:
    return golive.Load(
        as_of=AS_OF,
        legal_entity=entity,
        revision=revision,
        document_key=f"golive:{AS_OF}:{entity}:{revision}",
        journal_id=journal_id,
        rows=3,
        total=Money.of("1234.56"),
        loaded_by="test",
        loaded_at=T0,
    )


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    found = Database.open(db_url, null_pool=True)
    yield found
    found.close()


def test_loads_by_date_entity_and_revision_and_reversal_leaves_the_active_set(db: Database) -> None:
    with db.transaction() as tx:
        assert golive.next_revision(tx, AS_OF) == 0
        golive.record(tx, _load("MHS", 0, "j-mhs-0"))
        golive.record(tx, _load("MHN", 0, "j-mhn-0"))
    with db.transaction() as tx:
        assert golive.next_revision(tx, AS_OF) == 1
        assert golive.next_revision(tx, date(2025, 3, 3)) == 0
        (mhn, mhs) = golive.loads(tx, as_of=AS_OF)
        assert (mhn.legal_entity, mhs.legal_entity) == ("MHN", "MHS")
        assert mhn.total == Money.of("1234.56") and mhn.loaded_at == T0 and mhn.reversed_by is None
        golive.mark_reversed(tx, mhn, journal_id="j-mhn-0-reversed")
        golive.record(tx, _load("MHN", 1, "j-mhn-1"))
    with db.reading() as tx:
        assert [(x.legal_entity, x.revision) for x in golive.loads(tx, as_of=AS_OF)] == [
            ("MHN", 1),
            ("MHS", 0),
        ]
        every = golive.loads(tx, active=False)
        assert [(x.legal_entity, x.revision, x.reversed_by) for x in every] == [
            ("MHN", 0, "j-mhn-0-reversed"),
            ("MHN", 1, None),
            ("MHS", 0, None),
        ]
        assert golive.loads(tx, as_of=date(2025, 3, 3)) == ()


def test_an_opening_journal_reads_back_as_the_draft_it_was_made_of(db: Database) -> None:
    key = f"golive:{AS_OF}:MHN-STJ:MEDICARE:A1"
    dims = Dimensions(legal_entity="MHN", facility="MHN-STJ", payer_class="MEDICARE")
    lines = (
        JournalLine.signed(
            account="1211",
            role=AccountRole.AR_PAYER,
            amount=Money.of("10.00"),
            dimensions=dims,
            event_keys=(key,),
        ),
        JournalLine.signed(
            account="3900",
            role=AccountRole.OPENING_BALANCE,
            amount=Money.of("-10.00"),
            dimensions=Dimensions(legal_entity="MHN", facility="MHN-STJ"),
            event_keys=(key,),
        ),
    )
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity="MHN",
        currency="USD",
        posting_date=AS_OF,
        source_document_key=f"golive:{AS_OF}:MHN:abc",
        lines=tuple(ln for ln in lines if ln is not None),
    )
    journal = realtime_journal(draft)
    with db.transaction() as tx:
        assert journals.stage_realtime(tx, draft, journal, connector="embedded", first_received_at=T0, now=T0)
    with db.reading() as tx:
        (back,) = subledger.journal_drafts(tx, journal.id)
        assert subledger.journal_drafts(tx, "no-such-journal") == []
    assert (back.source_document_key, back.revision, back.posting_date) == (
        draft.source_document_key,
        "",
        AS_OF,
    )
    assert sorted((ln.account, ln.net.amount) for ln in back.lines) == [
        ("1211", Decimal("10.00")),
        ("3900", Decimal("-10.00")),
    ]
    # the workbench's journal line page shows the opening row behind each line, with no message
    for stored in journal_views.lines(db, journal.id):
        found = journal_views.line_behind(db, journal.id, stored.id)
        assert found is not None
        (behind,) = found.contributions
        assert (behind.event_key, behind.kind, behind.message_id) == (key, journal_views.OPENING_KIND, None)
        assert behind.occurred_on == AS_OF
