"""The corpus through the whole posting pipeline with the reference configuration (issue 6).

Every balanced 835 that carries cash posts cash equal to its BPR02, contractual and denial
deductions equal to its CO (and PI) adjustments, and patient transfers equal to its PR
adjustments. The deliberately unmapped payer (Rushmore Life) goes to the work queue and, after
the mapping is applied as a new configuration version and the message replayed, posts once.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from runtime import build_runtime
from sqlalchemy import select

from revbridge.bootstrap import Runtime, reference_config_dir
from revbridge.canonical import codec
from revbridge.canonical.events import ClaimAdjudicated, ProviderAdjustment, RemittanceReceived
from revbridge.cli.config import load_dir
from revbridge.store import configs, journals, workitems
from revbridge.store.schema import event_lines, events

RUSHMORE = "x12_835/lfh_x12__managed-care.835"


def _ingest(rt: Runtime, path: Path) -> list[str]:
    # The sample files reuse ISA06 + ISA13 (different senders' test files); give each its own
    # interchange identity so they are not (rightly) refused as DUPLICATE_CONFLICTs of each other.
    received = rt.intake.receive(
        path.read_bytes(), channel="test", format="auto", dedupe_key=f"test:{path.name}"
    )
    rt.settle(close_windows=True)
    return [r.accepted.message_id for r in received]


def _role_nets(rt: Runtime, event_keys: set[str]) -> dict[str, Decimal]:
    nets: dict[str, Decimal] = defaultdict(Decimal)
    with rt.db.reading() as conn:
        rows = conn.execute(select(event_lines).where(event_lines.c.event_key.in_(sorted(event_keys)))).all()
    for row in rows:
        amount = Decimal(row.amount_minor) / 100
        nets[row.role] += amount if row.side == "debit" else -amount
    return dict(nets)


def _events(rt: Runtime, message_id: str) -> list[object]:
    with rt.db.reading() as conn:
        return [
            codec.loads(b)
            for (b,) in conn.execute(select(events.c.body).where(events.c.message_id == message_id))
        ]


def _fresh(db_url: str, home: Path) -> Runtime:
    """The sample files are independent senders' test data that reuse payer ids and trace numbers
    (TRN02 "12345"); in one store they would rightly collide as EVENT_CONFLICTs. Each gets its own."""
    if db_url.startswith("postgresql"):
        from pgdb import truncate_all

        truncate_all(db_url)
    else:
        db_url = f"sqlite:///{home / 'store.db'}"
    return build_runtime(db_url, home, posting=True)


def test_every_balanced_835_posts_cash_deductions_and_transfers(
    db_url: str, tmp_path: Path, corpus: Path
) -> None:
    checked = 0
    for path in sorted((corpus / "x12_835").iterdir()):
        if path.name == Path(RUSHMORE).name:
            continue
        home = tmp_path / path.name
        home.mkdir()
        rt = _fresh(db_url, home)
        try:
            for message_id in _ingest(rt, path):
                found = _events(rt, message_id)
                remittances = [e for e in found if isinstance(e, RemittanceReceived) and e.carries_cash]
                for remittance in remittances:
                    members = [
                        e for e in found if getattr(e, "remittance_id", None) == remittance.remittance_id
                    ]
                    keys = {e.key for e in members}  # type: ignore[attr-defined]
                    nets = _role_nets(rt, keys)
                    claims = [e for e in members if isinstance(e, ClaimAdjudicated)]
                    plbs = [e for e in members if isinstance(e, ProviderAdjustment)]
                    cas = [a for c in claims for a in c.adjustments]
                    co = sum((a.amount.amount for a in cas if a.group in ("CO", "PI")), Decimal(0))
                    pr = sum((a.amount.amount for a in cas if a.group == "PR"), Decimal(0))
                    j1 = sum((p.amount.amount for p in plbs if p.reason == "J1"), Decimal(0))
                    assert nets.get("cash_clearing", Decimal(0)) == remittance.amount.amount, path.name
                    deductions = nets.get("contractual_allowance", Decimal(0)) + nets.get(
                        "denial_writeoff", Decimal(0)
                    )
                    assert deductions == co + j1, path.name
                    assert nets.get("ar_patient", Decimal(0)) == pr, path.name
                    assert sum(nets.values()) == 0, path.name
                    assert len(journals.list_journals(rt.db, lane="realtime")) == len(remittances)
                    checked += 1
        finally:
            rt.close()
    assert checked == 5  # badX12 x2, medicare-part-a, cob, secondary-payment (the others carry no cash)


def test_an_unknown_payer_is_a_work_item_until_mapped_then_posts_once(
    db_url: str, tmp_path: Path, corpus: Path
) -> None:
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        (message_id,) = _ingest(rt, corpus / RUSHMORE)
        items = workitems.list_items(rt.db, message_id=message_id)
        assert [i.code for i in items if i.code == "UNMAPPED_PAYER"]
        assert rt.status()["messages"]["excepted"] == 1
        assert journals.list_journals(rt.db) == []

        fixed = tmp_path / "config"
        shutil.copytree(reference_config_dir(), fixed)
        payers = fixed / "payers.yaml"
        rushmore = '  - {code: RUSHMORE, name: Rushmore Life, class: COMMERCIAL, aliases: ["1935665544"]}\n'
        payers.write_text(payers.read_text().replace("payers:\n", "payers:\n" + rushmore, 1))
        configs.propose(
            rt.db,
            load_dir(fixed),
            effective_from=rt.clock.now().date(),
            actor="test:steward",
            note="map Rushmore Life",
            source=str(fixed),
            now=rt.clock.now(),
            approve=True,
            anchor=None,
        )
        replayer = rt.replayer()
        first = replayer.replay(message_id, actor="test:operator")
        assert first.status == "processed"
        assert first.journals_drafted == 1
        second = replayer.replay(message_id, actor="test:operator")
        assert second.journals_drafted == 0
        rt.posting.tick(force_windows=True)  # type: ignore[union-attr]
        posted = journals.list_journals(rt.db)
        assert len(posted) == 1
        lines = posted[0].journal.lines
        cash = sum((ln.net.amount for ln in lines if ln.role.value == "cash_clearing"), Decimal(0))
        assert cash == Decimal("945.00")
        still_open = workitems.list_items(rt.db, message_id=message_id)
        assert "UNMAPPED_PAYER" not in {i.code for i in still_open}
        assert {i.severity for i in still_open} <= {"warning"}  # the BPR16 date warning stays true
        assert rt.status()["messages"]["processed"] == 1
    finally:
        rt.close()
