"""The what-if of a mapping change equals, account by account, what replay posts once the change
is approved; and computing it changes nothing in the store."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy import func, select
from workbench import MEDICARE_A, RUSHMORE, ingest

from revbridge.bootstrap import Runtime
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.loader import FILES, load_texts
from revbridge.masterdata.serialisation import to_documents
from revbridge.pipeline import whatif
from revbridge.store import configs, workitems
from revbridge.store.schema import audit_log, event_lines, events, journals, messages, work_items

AccountKey = tuple[str, str, str, str]
RUSHMORE_PAYER = {
    "code": "RUSHMORE",
    "name": "Rushmore Life",
    "class": "COMMERCIAL",
    "aliases": ["1935665544"],
}


def _current(rt: Runtime) -> tuple[int, Configuration]:
    with rt.db.reading() as conn:
        number = configs.current_number(conn, rt.clock.now().date())
    assert number is not None
    return number, configs.load_version(rt.db, number)


def _changed_payers(config: Configuration, change: object) -> Configuration:
    """The configuration with payers.yaml edited by ``change`` (a function of its document)."""
    documents = to_documents(config)
    payers = documents["payers.yaml"]
    change(payers)  # type: ignore[operator]
    texts = {name: yaml.safe_dump(documents[name], sort_keys=False) for name in FILES}
    changed, errors = load_texts(texts)
    assert changed is not None, errors
    return changed


def _snapshot(rt: Runtime) -> tuple[object, ...]:
    with rt.db.reading() as conn:
        return tuple(
            conn.execute(query).all()
            for query in (
                select(func.count(), func.max(event_lines.c.id)).select_from(event_lines),
                select(journals.c.id, journals.c.status).order_by(journals.c.id),
                select(work_items.c.id, work_items.c.status).order_by(work_items.c.id),
                select(events.c.key, events.c.state).order_by(events.c.key),
                select(messages.c.id, messages.c.status).order_by(messages.c.id),
                select(func.count()).select_from(audit_log),
            )
        )


def _approve(rt: Runtime, proposed: Configuration) -> int:
    version = configs.propose(
        rt.db,
        proposed,
        effective_from=rt.clock.now().date(),
        actor="apikey:steward",
        note="test change",
        source="test",
        now=rt.clock.now(),
        approve=False,
        anchor=None,
    )
    configs.decide(
        rt.db,
        version.version,
        approve=True,
        actor="apikey:approver",
        now=rt.clock.now(),
        reason="",
        anchor=None,
    )
    return version.version


def _replayed_by_account(rt: Runtime, message_ids: tuple[str, ...]) -> dict[AccountKey, Decimal]:
    """Replay the messages and net the subledger lines the replay staged, by account."""
    with rt.db.reading() as conn:
        before = conn.execute(select(func.coalesce(func.max(event_lines.c.id), 0))).scalar_one()
    replayer = rt.replayer()
    for message_id in message_ids:
        replayer.replay(message_id, actor="apikey:operator")
    nets: dict[AccountKey, Decimal] = {}
    with rt.db.reading() as conn:
        for row in conn.execute(select(event_lines).where(event_lines.c.id > before)):
            key = (row.legal_entity, row.account, row.role, row.currency)
            amount = Decimal(row.amount_minor) / 100
            nets[key] = nets.get(key, Decimal(0)) + (amount if row.side == "debit" else -amount)
    return {k: v for k, v in nets.items() if v}


def _preview_by_account(preview: whatif.WhatIf) -> dict[AccountKey, Decimal]:
    return {(a.legal_entity, a.account, a.role, a.currency): a.change for a in preview.changes}


def test_mapping_an_unknown_payer_previews_what_replay_then_posts(rt: Runtime, corpus: Path) -> None:
    (rushmore,) = ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    ingest(rt, (corpus / MEDICARE_A).read_bytes(), "medicare")
    _number, current = _current(rt)
    proposed = _changed_payers(current, lambda doc: doc["payers"].append(RUSHMORE_PAYER))
    before = _snapshot(rt)

    preview = whatif.preview(
        rt.db, current=current, proposed=proposed, since=rt.clock.now() - timedelta(days=30)
    )

    assert _snapshot(rt) == before  # read-only
    assert preview.changed == (rushmore,)
    assert preview.documents == 2
    assert preview.problems_current.get("UNMAPPED_PAYER", 0) >= 1
    assert "UNMAPPED_PAYER" not in preview.problems_proposed
    expected = _preview_by_account(preview)
    cash = [v for (_le, _acct, role, _cur), v in expected.items() if role == "cash_clearing"]
    assert cash == [Decimal("945.00")]  # BPR02 of the ERA
    assert sum(expected.values()) == 0

    _approve(rt, proposed)
    assert _replayed_by_account(rt, preview.changed) == expected
    assert "UNMAPPED_PAYER" not in {i.code for i in workitems.list_items(rt.db, message_id=rushmore)}


def test_moving_a_payer_to_another_class_previews_the_reversal_and_repost(rt: Runtime, corpus: Path) -> None:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    (medicare,) = ingest(rt, (corpus / MEDICARE_A).read_bytes(), "medicare")

    def reclassify(doc: dict[str, list[dict[str, object]]]) -> None:
        for payer in doc["payers"]:
            if payer["code"] == "MEDICARE-A":
                payer["class"] = "MEDICARE_ADV"

    _number, current = _current(rt)
    proposed = _changed_payers(current, reclassify)
    preview = whatif.preview(
        rt.db, current=current, proposed=proposed, since=rt.clock.now() - timedelta(days=1)
    )
    assert preview.changed == (medicare,)
    expected = _preview_by_account(preview)
    # Receivables move from the Medicare account (1211) to the Medicare Advantage one (1213).
    moved = {acct: v for (_le, acct, role, _cur), v in expected.items() if role == "ar_payer"}
    assert set(moved) == {"1211", "1213"}
    assert moved["1211"] == -moved["1213"] != 0

    _approve(rt, proposed)
    assert _replayed_by_account(rt, preview.changed) == expected
    # A second replay posts nothing: replay is a diff.
    assert _replayed_by_account(rt, preview.changed) == {}


def test_events_older_than_the_window_are_left_out(rt: Runtime, corpus: Path) -> None:
    ingest(rt, (corpus / RUSHMORE).read_bytes(), "rushmore")
    _number, current = _current(rt)
    proposed = _changed_payers(current, lambda doc: doc["payers"].append(RUSHMORE_PAYER))
    later = rt.clock.now() + timedelta(minutes=1)
    preview = whatif.preview(rt.db, current=current, proposed=proposed, since=later)
    assert (preview.documents, preview.events, preview.changed, preview.accounts) == (0, 0, (), ())


def test_the_limit_truncates_and_says_so(rt: Runtime, corpus: Path) -> None:
    ingest(rt, (corpus / MEDICARE_A).read_bytes(), "medicare")
    _number, current = _current(rt)
    since = rt.clock.now() - timedelta(days=1)
    whole = whatif.preview(rt.db, current=current, proposed=current, since=since)
    assert whole.events > 1 and not whole.truncated and whole.changes == ()
    cut = whatif.preview(rt.db, current=current, proposed=current, since=since, limit=1)
    assert cut.truncated and cut.events == 1
