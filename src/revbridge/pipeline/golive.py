"""The go-live cut-over's effects: load an opening position once (docs/golive.md).

``load`` checks the whole file (its shape in ``formats.golive``, its codes against the
configuration in effect in ``rules.golive``) before it writes anything, then, in one transaction,
stages one realtime opening journal per legal entity through ``journals.stage_realtime`` (so its
rows reach the subledger, and with them the AR roll-forward, and the outbox posts the journal
exactly once like any other) and records the load. The same file again changes nothing; a
different file for a cut-over date already loaded is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.formats import golive as golive_file
from revbridge.rules.golive import opening
from revbridge.rules.posting import open_books
from revbridge.store import Database, configs, golive, journals, periods


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    as_of: date
    loads: tuple[golive.Load, ...]
    new: bool  # False: this very file was loaded before and nothing was written

    def as_json(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "new": self.new,
            "legal_entities": [
                {
                    "legal_entity": load.legal_entity,
                    "journal_id": load.journal_id,
                    "rows": load.rows,
                    "total": str(load.total.amount),
                    "currency": load.total.currency,
                }
                for load in self.loads
            ],
        }


def load(db: Database, text: str, *, as_of: date, actor: str, now: datetime) -> Loaded:
    """Raises ``InputError`` (nothing written) naming the first bad CSV line, with a count of the rest."""
    parsed = golive_file.parse(text)
    _refuse(parsed.errors)
    with db.transaction() as tx:
        found = configs.ConfigCache(db).current(tx, as_of) or configs.ConfigCache(db).current(tx, now.date())
        if found is None:
            raise InputError("no approved configuration is in effect: run `revbridge config apply`")
        config = found[1]
        built = opening(parsed.rows, config, as_of=as_of, calendar=periods.calendar(tx))
        _refuse(built.errors)
        before = golive.loads(tx, as_of=as_of)
        if before:
            if {b.document_key for b in before} == {d.source_document_key for d in built.drafts}:
                return Loaded(as_of=as_of, loads=before, new=False)
            raise InputError(
                f"an opening position for {as_of.isoformat()} was already loaded from a different file "
                f"({', '.join(b.legal_entity for b in before)}); a cut-over date loads once"
            )
        recorded = []
        for draft, journal in zip(built.drafts, open_books(built.drafts), strict=True):
            connector = config.legal_entity(draft.legal_entity).connector.name
            journals.stage_realtime(tx, draft, journal, connector=connector, first_received_at=now, now=now)
            rows = [r for r in parsed.rows if r.legal_entity == draft.legal_entity]
            total = sum((Money.of(r.amount, draft.currency) for r in rows), Money.zero(draft.currency))
            entry = golive.Load(
                as_of=as_of,
                legal_entity=draft.legal_entity,
                document_key=draft.source_document_key,
                journal_id=journal.id,
                rows=len(rows),
                total=total,
                loaded_by=actor,
                loaded_at=now,
            )
            golive.record(tx, entry)
            recorded.append(entry)
    return Loaded(as_of=as_of, loads=tuple(recorded), new=True)


def _refuse(errors: tuple[str, ...]) -> None:
    if errors:
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise InputError(f"{errors[0]}{more}; nothing was loaded")
