"""The context posting looks up: the latest state of each encounter (``encounter_context``) and
what each staged charge's reversal must mirror (``charge_context``), keyed by facility code.

The posting stage decides (``rules.context``: ``needs``, ``encounter_changes``, ``ChargeMemory``);
this module only loads the entries asked for and writes the changes, inside the caller's
transaction so that context commits with the message that brought it. Values are cut to the
columns' widths here, where the widths are known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Table, select, update

from revbridge.rules.context import Change, ChargeFacts, ChargeMemory, EncounterChange, EncounterFacts, Key
from revbridge.store.database import Tx
from revbridge.store.schema import charge_context, encounter_context

CHUNK = 400


def encounters(tx: Tx, keys: Iterable[Key]) -> dict[Key, EncounterFacts]:
    """The encounters among ``keys`` that are known and not cancelled."""
    c = encounter_context.c
    found: dict[Key, EncounterFacts] = {}
    for facility, ids in _by_facility(keys):
        rows = tx.execute(
            select(c.encounter, c.patient_class, c.department, c.primary_payer_id).where(
                c.facility == facility, c.encounter.in_(ids), c.cancelled == 0
            )
        )
        for encounter, patient_class, department, payer in rows:
            found[(facility, encounter)] = EncounterFacts(
                patient_class=patient_class, department=department, primary_payer_id=payer
            )
    return found


def charges(tx: Tx, keys: Iterable[Key]) -> dict[Key, ChargeFacts]:
    c = charge_context.c
    found: dict[Key, ChargeFacts] = {}
    for facility, ids in _by_facility(keys):
        rows = tx.execute(
            select(c.charge_id, c.department, c.payer_class).where(
                c.facility == facility, c.charge_id.in_(ids)
            )
        )
        for charge_id, department, payer_class in rows:
            found[(facility, charge_id)] = ChargeFacts(department=department, payer_class=payer_class)
    return found


def _by_facility(keys: Iterable[Key]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for facility, ident in keys:
        grouped[facility].add(ident)
    chunks: list[tuple[str, list[str]]] = []
    for facility, idents in sorted(grouped.items()):
        ordered = sorted(idents)
        chunks.extend((facility, ordered[i : i + CHUNK]) for i in range(0, len(ordered), CHUNK))
    return chunks


def change_encounters(tx: Tx, changes: Sequence[EncounterChange], *, now: datetime) -> None:
    """Apply context events' changes in order: a registration sets the encounter whole (and
    undoes a cancellation), a cancellation hides it, a coverage change sets the primary payer of
    an encounter already known."""
    c = encounter_context.c
    for item in changes:
        where = (c.facility == item.facility, c.encounter == item.encounter)
        match item.change:
            case Change.REGISTERED:
                _upsert(
                    tx,
                    encounter_context,
                    {"facility": item.facility, "encounter": item.encounter},
                    {
                        "patient_class": item.facts.patient_class[:8],
                        "department": item.facts.department[:64],
                        "primary_payer_id": item.facts.primary_payer_id[:128],
                        "cancelled": 0,
                        "event_key": item.event_key,
                        "updated_at": now,
                    },
                )
            case Change.CANCELLED:
                tx.execute(
                    update(encounter_context)
                    .where(*where)
                    .values(cancelled=1, event_key=item.event_key, updated_at=now)
                )
            case Change.COVERAGE:
                tx.execute(
                    update(encounter_context)
                    .where(*where)
                    .values(primary_payer_id=item.facts.primary_payer_id[:128], updated_at=now)
                )


def remember_charges(tx: Tx, memories: Sequence[ChargeMemory]) -> None:
    for memory in memories:
        _upsert(
            tx,
            charge_context,
            {"facility": memory.facility, "charge_id": memory.charge_id[:128]},
            {
                "department": memory.facts.department[:64],
                "payer_class": memory.facts.payer_class,
                "event_key": memory.event_key,
            },
        )


def _upsert(tx: Tx, table: Table, keys: dict[str, object], values: dict[str, object]) -> None:
    where = [table.c[k] == v for k, v in keys.items()]
    if not tx.execute(update(table).where(*where).values(**values)).rowcount:
        tx.execute(table.insert().values(**keys, **values))
