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

from sqlalchemy import Executable, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from revbridge.rules.context import Change, ChargeFacts, ChargeMemory, EncounterChange, EncounterFacts, Key
from revbridge.store import deferred
from revbridge.store.database import Tx
from revbridge.store.schema import charge_context, encounter_context

CHUNK = 400


_ENCOUNTERS = select(
    encounter_context.c.encounter,
    encounter_context.c.patient_class,
    encounter_context.c.department,
    encounter_context.c.primary_payer_id,
).where(
    encounter_context.c.facility == bindparam("facility"),
    encounter_context.c.encounter.in_(bindparam("ids", expanding=True)),
    encounter_context.c.cancelled == 0,
)
_CHARGES = select(
    charge_context.c.charge_id, charge_context.c.department, charge_context.c.payer_class
).where(
    charge_context.c.facility == bindparam("facility"),
    charge_context.c.charge_id.in_(bindparam("ids", expanding=True)),
)


def encounters(tx: Tx, keys: Iterable[Key]) -> dict[Key, EncounterFacts]:
    """The encounters among ``keys`` that are known and not cancelled."""
    found: dict[Key, EncounterFacts] = {}
    held = deferred.of(tx)
    if held is not None:
        # Registered by an earlier message of the transaction: the row its upsert will write.
        wanted = set(keys)
        for row in held.held_rows("encounter_context"):
            if (key := (str(row["facility"]), str(row["encounter"]))) in wanted:
                found[key] = EncounterFacts(
                    patient_class=str(row["patient_class"]),
                    department=str(row["department"]),
                    primary_payer_id=str(row["primary_payer_id"]),
                )
        keys = wanted - set(found)
    for facility, ids in _by_facility(keys):
        rows = tx.execute(_ENCOUNTERS, {"facility": facility, "ids": ids})
        for encounter, patient_class, department, payer in rows:
            found[(facility, encounter)] = EncounterFacts(
                patient_class=patient_class, department=department, primary_payer_id=payer
            )
    return found


def charges(tx: Tx, keys: Iterable[Key]) -> dict[Key, ChargeFacts]:
    keys = list(keys)
    deferred.flush_touching(tx, "charge_context", keys)  # a charge staged just before
    found: dict[Key, ChargeFacts] = {}
    for facility, ids in _by_facility(keys):
        rows = tx.execute(_CHARGES, {"facility": facility, "ids": ids})
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
    held = deferred.of(tx)
    for item in changes:
        keys = {"k_facility": item.facility, "k_encounter": item.encounter}
        match item.change:
            case Change.REGISTERED:
                row = {
                    "facility": item.facility,
                    "encounter": item.encounter,
                    "patient_class": item.facts.patient_class[:8],
                    "department": item.facts.department[:64],
                    "primary_payer_id": item.facts.primary_payer_id[:128],
                    "cancelled": 0,
                    "event_key": item.event_key,
                    "updated_at": now,
                }
                if held is not None:
                    where = [(item.facility, item.encounter)]
                    held.add(
                        "encounter_context", 2, _send_encounters, [row], table="encounter_context", keys=where
                    )
                else:
                    _send_encounters(tx, [row])
            case Change.CANCELLED:
                deferred.flush_touching(tx, "encounter_context", [(item.facility, item.encounter)])
                tx.execute(_CANCEL, {**keys, "p_event_key": item.event_key, "p_updated_at": now})
            case Change.COVERAGE:
                deferred.flush_touching(tx, "encounter_context", [(item.facility, item.encounter)])
                tx.execute(
                    _COVERAGE,
                    {**keys, "p_payer": item.facts.primary_payer_id[:128], "p_updated_at": now},
                )


def remember_charges(tx: Tx, memories: Sequence[ChargeMemory]) -> None:
    """Each staged charge's facts, by its key; a charge seen again (a replay) is overwritten."""
    if not memories:
        return
    rows: list[dict[str, object]] = [
        {
            "facility": memory.facility,
            "charge_id": memory.charge_id[:128],
            "department": memory.facts.department[:64],
            "payer_class": memory.facts.payer_class,
            "event_key": memory.event_key,
        }
        for memory in memories
    ]
    held = deferred.of(tx)
    if held is not None:
        where = [(memory.facility, memory.charge_id) for memory in memories]
        held.add("charge_context", 3, _send_charges, rows, table="charge_context", keys=where)
    else:
        _send_charges(tx, rows)


def _send_encounters(tx: Tx, rows: list[dict[str, object]]) -> None:
    tx.execute(_upsert(tx, encounter_context), _last_per_key(rows, ("facility", "encounter")))


def _send_charges(tx: Tx, rows: list[dict[str, object]]) -> None:
    tx.execute(_upsert(tx, charge_context), _last_per_key(rows, ("facility", "charge_id")))


def _last_per_key(rows: list[dict[str, object]], key: tuple[str, str]) -> list[dict[str, object]]:
    """One row per key, the last written (each upsert sets every column): PostgreSQL refuses an
    upsert sent as one statement that would change a row twice."""
    last = {(row[key[0]], row[key[1]]): row for row in rows}
    return list(last.values())


# The statements are built once: building and caching a statement per call cost more than
# SQLite's own work on the worker's path.
_WHERE = (
    encounter_context.c.facility == bindparam("k_facility"),
    encounter_context.c.encounter == bindparam("k_encounter"),
)
_CANCEL = (
    update(encounter_context)
    .where(*_WHERE)
    .values(cancelled=1, event_key=bindparam("p_event_key"), updated_at=bindparam("p_updated_at"))
)
_COVERAGE = (
    update(encounter_context)
    .where(*_WHERE)
    .values(primary_payer_id=bindparam("p_payer"), updated_at=bindparam("p_updated_at"))
)
_UPSERTS: dict[tuple[str, str], Executable] = {}


def _upsert(tx: Tx, table: Table) -> Executable:
    """INSERT a row, or set every column but the key of the row with its key."""
    found = _UPSERTS.get((tx.dialect.name, table.name))
    if found is None:
        dialect = postgresql if tx.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(table)
        key = [c.name for c in table.primary_key]
        others = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key}
        found = _UPSERTS[(tx.dialect.name, table.name)] = insert.on_conflict_do_update(
            index_elements=key, set_=others
        )
    return found
