"""The go-live cut-over's effects: load an opening position once, replace or reverse it on
purpose (docs/golive.md).

``load`` checks the whole file (its shape in ``formats.golive``, its codes against the
configuration in effect and the period calendar in ``rules.golive``) before it writes anything,
then, in one transaction, stages one realtime opening journal per legal entity through
``journals.stage_realtime`` (so its rows reach the subledger, and with them the AR roll-forward,
and the outbox posts the journal exactly once like any other), records the load and audits it.
The same file again changes nothing; a different file for a cut-over date already loaded is
refused unless ``replace`` says to reverse the loaded position first. ``reverse`` takes a loaded
position back out. Posted lines are never changed: a reversal is a journal of its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.formats import golive as golive_file
from revbridge.ledger.journal import Journal, JournalDraft
from revbridge.masterdata.configuration import Configuration
from revbridge.rules.golive import opening, reversal
from revbridge.rules.posting import open_books
from revbridge.store import Database, Tx, audit, configs, golive, journals, periods, subledger


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    as_of: date
    loads: tuple[golive.Load, ...]
    new: bool  # False: this very file was loaded before and nothing was written
    reversed: tuple[golive.Load, ...] = ()  # loads taken back out (a replacement, or ``reverse``)

    def as_json(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "new": self.new,
            "legal_entities": [_load_json(load) for load in self.loads],
            "reversed": [{**_load_json(load), "reversed_by": load.reversed_by} for load in self.reversed],
        }


def _load_json(load: golive.Load) -> dict[str, object]:
    return {
        "legal_entity": load.legal_entity,
        "revision": load.revision,
        "journal_id": load.journal_id,
        "rows": load.rows,
        "total": str(load.total.amount),
        "currency": load.total.currency,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class _Who:
    actor: str
    now: datetime
    anchor: Path | None


def load(
    db: Database,
    text: str,
    *,
    as_of: date,
    actor: str,
    now: datetime,
    replace: bool = False,
    anchor: Path | None = None,
) -> Loaded:
    """Raises ``InputError`` (nothing written) naming the first bad CSV line, with a count of the rest."""
    parsed = golive_file.parse(text)
    _refuse(parsed.errors)
    who = _Who(actor=actor, now=now, anchor=anchor)
    with db.transaction() as tx:
        config = _config(db, tx, as_of, now)
        calendar = periods.calendar(tx)
        built = opening(
            parsed.rows, config, as_of=as_of, calendar=calendar, revision=golive.next_revision(tx, as_of)
        )
        _refuse(built.errors)
        before = golive.loads(tx, as_of=as_of)
        undone: tuple[golive.Load, ...] = ()
        if before:
            if {b.document_key for b in before} == {d.source_document_key for d in built.drafts}:
                return Loaded(as_of=as_of, loads=before, new=False)
            if not replace:
                raise InputError(
                    f"an opening position for {as_of.isoformat()} was already loaded from a different "
                    f"file ({', '.join(b.legal_entity for b in before)}); --replace reverses it first"
                )
            undone = _reverse(tx, config, before, who)
        recorded = []
        for draft, journal in zip(built.drafts, open_books(built.drafts), strict=True):
            _stage(tx, config, draft, journal, who)
            rows = [r for r in parsed.rows if r.legal_entity == draft.legal_entity]
            total = sum((Money.of(r.amount, draft.currency) for r in rows), Money.zero(draft.currency))
            entry = golive.Load(
                as_of=as_of,
                legal_entity=draft.legal_entity,
                revision=int(draft.revision[1:] or 0),
                document_key=draft.source_document_key,
                journal_id=journal.id,
                rows=len(rows),
                total=total,
                loaded_by=actor,
                loaded_at=now,
            )
            golive.record(tx, entry)
            _audit(tx, "golive.load", entry, who)
            recorded.append(entry)
    return Loaded(as_of=as_of, loads=tuple(recorded), new=True, reversed=undone)


def reverse(db: Database, *, as_of: date, actor: str, now: datetime, anchor: Path | None = None) -> Loaded:
    """Take the opening position loaded for ``as_of`` back out, one reversing journal per legal entity."""
    who = _Who(actor=actor, now=now, anchor=anchor)
    with db.transaction() as tx:
        before = golive.loads(tx, as_of=as_of)
        if not before:
            raise InputError(f"no opening position is loaded for {as_of.isoformat()}")
        config = _config(db, tx, as_of, now)
        calendar = periods.calendar(tx)
        closed = sorted(b.legal_entity for b in before if not calendar.is_open(b.legal_entity, as_of))
        if closed:
            raise InputError(f"{as_of.isoformat()} is in a closed period of legal entity {closed[0]}")
        undone = _reverse(tx, config, before, who)
    return Loaded(as_of=as_of, loads=(), new=True, reversed=undone)


def _reverse(
    tx: Tx, config: Configuration, before: tuple[golive.Load, ...], who: _Who
) -> tuple[golive.Load, ...]:
    undone = []
    for load_ in before:
        drafts = [reversal(d) for d in subledger.journal_drafts(tx, load_.journal_id)]
        made = open_books(drafts)
        for draft, journal in zip(drafts, made, strict=True):
            _stage(tx, config, draft, journal, who)
        reversing = made[0].id
        golive.mark_reversed(tx, load_, journal_id=reversing)
        gone = dataclasses.replace(load_, reversed_by=reversing)
        _audit(tx, "golive.reverse", gone, who)
        undone.append(gone)
    return tuple(undone)


def _stage(tx: Tx, config: Configuration, draft: JournalDraft, journal: Journal, who: _Who) -> None:
    connector = config.legal_entity(draft.legal_entity).connector.name
    journals.stage_realtime(tx, draft, journal, connector=connector, first_received_at=who.now, now=who.now)


def _audit(tx: Tx, action: str, load_: golive.Load, who: _Who) -> None:
    details = {"journal_id": load_.journal_id, "rows": str(load_.rows), "total": str(load_.total.amount)}
    if load_.reversed_by:
        details["reversed_by"] = load_.reversed_by
    target = f"golive:{load_.as_of.isoformat()}:{load_.legal_entity}:r{load_.revision}"
    audit.append(
        tx, at=who.now, actor=who.actor, action=action, target=target, details=details, anchor=who.anchor
    )


def _config(db: Database, tx: Tx, as_of: date, now: datetime) -> Configuration:
    cache = configs.ConfigCache(db)
    found = cache.current(tx, as_of) or cache.current(tx, now.date())
    if found is None:
        raise InputError("no approved configuration is in effect: run `revbridge config apply`")
    return found[1]


def _refuse(errors: tuple[str, ...]) -> None:
    if errors:
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise InputError(f"{errors[0]}{more}; nothing was loaded")
