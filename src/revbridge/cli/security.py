"""keys (status, rotate, reencrypt, retire) and purge: the encryption keys and the retention policy."""

from __future__ import annotations

import base64
import getpass
from datetime import timedelta
from typing import Annotated

import typer
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from revbridge.bootstrap import Runtime
from revbridge.cli.common import (
    DbOption,
    JsonOption,
    SettingsOption,
    console,
    err_console,
    open_runtime,
    print_json,
)
from revbridge.core.errors import InputError
from revbridge.security.keys import KEY_ID
from revbridge.store import audit, horizon, pruning, rekey, retention

keys_app = typer.Typer(help="Encryption keys of stored raw messages.", no_args_is_help=True)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )


def _from_environment(runtime: Runtime) -> bool:
    return runtime.settings.keys is not None


@keys_app.command("status")
def keys_status(json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Which keys exist, which one seals new payloads, and how many stored payloads each one holds."""
    with open_runtime(db, settings) as runtime:
        ring = runtime.keyring.latest()
        rows = rekey.rows_by_key(runtime.db)
        source = "REVBRIDGE_KEYS" if _from_environment(runtime) else str(runtime.settings.resolved_key_file)
    listed = [{"id": kid, "active": kid == ring.active, "payloads": rows.get(kid, 0)} for kid in ring.keys]
    missing = sorted(set(rows) - set(ring.keys))
    if json_out:
        print_json({"source": source, "active": ring.active, "keys": listed, "unknown_key_ids": missing})
        return
    console.print(f"keys from {source}")
    for k in listed:
        mark = "active" if k["active"] else ""
        console.print(f"  {k['id']:<12} {k['payloads']:>10} payloads  {mark}")
    for kid in missing:
        console.print(f"  [red]{kid:<12} {rows[kid]:>10} payloads under a key that is not in the ring[/red]")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="Id of the new key (default: next kN).")
    ] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Add a new key and make it the one new payloads are sealed with; old payloads stay readable.

    With a key file, the file is updated (running services pick the new key up by themselves).
    With REVBRIDGE_KEYS, the new key is printed once, to be added to the environment of every node.
    """
    with open_runtime(db, settings) as runtime:
        if not _from_environment(runtime):
            _rotate_key_file(runtime, key_id, json_out=json_out)
            return
        new_id, entry = _new_environment_key(runtime, key_id)
    steps = (
        f"append ',{entry}' to REVBRIDGE_KEYS and set REVBRIDGE_ACTIVE_KEY={new_id} on every node, "
        "restart them, then run `revbridge keys reencrypt`"
    )
    if json_out:
        print_json({"mode": "environment", "active": new_id, "entry": entry, "next": steps})
        return
    console.print(f"new key {new_id}: {entry}")
    console.print(f"It is shown once. Next: {steps}.")


def _rotate_key_file(runtime: Runtime, key_id: str | None, *, json_out: bool) -> None:
    """Add the key to the key file and make it active there; running services reread the file."""
    key_file = runtime.settings.resolved_key_file
    ring = rekey.rotate(
        runtime.db,
        key_file=key_file,
        key_id=key_id,
        actor=_actor(),
        now=runtime.clock.now(),
        anchor=runtime.settings.resolved_audit_anchor,
    )
    if json_out:
        print_json({"mode": "file", "active": ring.active, "key_file": str(key_file)})
        return
    console.print(f"key {ring.active} is now active in {key_file}")
    console.print("Run `revbridge keys reencrypt` to move stored payloads to it.")


def _new_environment_key(runtime: Runtime, key_id: str | None) -> tuple[str, str]:
    """A new key for REVBRIDGE_KEYS as ``(id, "id:material")``, its handing out audited. Nothing
    is stored: the operator adds it to every node's environment."""
    current = runtime.keyring.latest()
    new_id = key_id or current.next_key_id()
    if new_id in current.keys or not KEY_ID.fullmatch(new_id):
        raise InputError(f"key id {new_id!r} is taken or not a valid key id")
    material = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")
    audit.record(
        runtime.db,
        at=runtime.clock.now(),
        actor=_actor(),
        action="key.rotate",
        target=f"key/{new_id}",
        details={"previous": current.active, "mode": "environment", "keys": str(len(current.keys) + 1)},
        anchor=runtime.settings.resolved_audit_anchor,
    )
    return new_id, f"{new_id}:{material}"


@keys_app.command("reencrypt")
def keys_reencrypt(
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=100_000, help="Rows per transaction.")
    ] = 500,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Re-seal payloads still under old keys with the active key. Resumable; safe beside intake."""
    with open_runtime(db, settings) as runtime:
        active = runtime.keyring.latest().active
        total = sum(n for kid, n in rekey.rows_by_key(runtime.db).items() if kid != active)
        with _progress(json_out or total == 0) as progress:
            task = progress.add_task(f"re-encrypting to {active}", total=total)
            report = rekey.reencrypt(
                runtime.db,
                runtime.keyring,
                batch_size=batch_size,
                progress=lambda n: progress.advance(task, n),
            )
        rekey.record_run(
            runtime.db,
            report,
            actor=_actor(),
            now=runtime.clock.now(),
            anchor=runtime.settings.resolved_audit_anchor,
        )
    if json_out:
        print_json(report.as_json())
    else:
        console.print(
            f"{report.moved} payloads re-sealed under {report.active}; {report.skipped} changed meanwhile; "
            f"{len(report.failed)} could not be opened"
        )
        for message_id in report.failed:
            console.print(
                f"[red]  {message_id}: payload failed authentication (tampered, or key missing)[/red]"
            )
        left = sum(report.remaining.values())
        if left:
            console.print(f"{left} payloads still under old keys: run again")
    if report.failed:
        raise typer.Exit(1)


@keys_app.command("retire")
def keys_retire(key_id: str, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Remove a key from the key file once no stored payload uses it."""
    with open_runtime(db, settings) as runtime:
        if _from_environment(runtime):
            raise InputError("keys come from REVBRIDGE_KEYS: remove the key there instead")
        rekey.retire(
            runtime.db,
            key_file=runtime.settings.resolved_key_file,
            key_id=key_id,
            actor=_actor(),
            now=runtime.clock.now(),
            anchor=runtime.settings.resolved_audit_anchor,
        )
    console.print(f"retired {key_id}")


def purge(
    older_than: Annotated[
        int | None,
        typer.Option("--older-than", min=0, help="Days to keep raw payloads (default: retention_days)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be purged.")] = False,
    no_vacuum: Annotated[bool, typer.Option("--no-vacuum", help="Do not reclaim the space now.")] = False,
    full: Annotated[
        bool, typer.Option("--full", help="PostgreSQL: VACUUM FULL (locks the table) to shrink the files.")
    ] = False,
    records_months: Annotated[
        int | None,
        typer.Option(
            "--drop-months-older-than",
            min=0,
            help="PostgreSQL: also drop whole months of messages and events older than this many months, "
            "each only if no message is unfinished, no work item open, no journal unposted or in an open "
            "period (default: records_retention_months).",
        ),
    ] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Remove raw payloads of finished messages past retention; keep metadata, events, journals, audit.

    Also drops sent announcements and settled journals' SAP confirmations past retention, and
    forgets SFTP files taken more than sftp_seen_days ago.

    With a records horizon (--drop-months-older-than or records_retention_months), whole months of
    messages and events past it are dropped afterwards (PostgreSQL's monthly partitions)."""
    with open_runtime(db, settings) as runtime:
        months = records_months if records_months is not None else runtime.settings.records_retention_months
        days = older_than if older_than is not None else runtime.settings.retention_days
        if days is None and months is None:
            raise InputError(
                "no retention period: pass --older-than DAYS or set REVBRIDGE_RETENTION_DAYS "
                "(or --drop-months-older-than MONTHS, REVBRIDGE_RECORDS_RETENTION_MONTHS)"
            )
        found: dict[str, object] = {}
        if days is not None:
            found = _purge_payloads(
                runtime, days, dry_run=dry_run, vacuum=not no_vacuum, full=full, quiet=json_out
            )
            found["rows"] = _prune_rows(runtime, days, dry_run=dry_run, quiet=json_out)
        if months is not None:
            found["records"] = _drop_months(runtime, months, dry_run=dry_run, quiet=json_out)
    if json_out:
        print_json(found)


def _purge_payloads(
    runtime: Runtime, days: int, *, dry_run: bool, vacuum: bool, full: bool, quiet: bool
) -> dict[str, object]:
    now = runtime.clock.now()
    cutoff = now - timedelta(days=days)
    count, size, held = retention.candidates(runtime.db, cutoff)
    if dry_run:
        if not quiet:
            console.print(f"{count} payloads ({size} bytes) received before {cutoff:%Y-%m-%d %H:%M} would go")
            console.print(f"{held} more are held back by open work items")
        return {"cutoff": cutoff.isoformat(), "purgeable": count, "payload_bytes": size, "held_back": held}
    with _progress(quiet or count == 0) as progress:
        task = progress.add_task("purging", total=count)
        report = retention.purge(
            runtime.db,
            cutoff=cutoff,
            now=now,
            actor=_actor(),
            anchor=runtime.settings.resolved_audit_anchor,
            vacuum=vacuum,
            full=full,
            progress=lambda n: progress.advance(task, n),
        )
    if not quiet:
        console.print(
            f"purged {report.purged} raw payloads ({report.payload_bytes} bytes) received before "
            f"{cutoff:%Y-%m-%d %H:%M}; {report.held_back} held back by open work items"
        )
        console.print(
            f"database {report.bytes_before} -> {report.bytes_after} bytes (vacuum: {report.vacuum})"
        )
    return report.as_json()


def _prune_rows(runtime: Runtime, days: int, *, dry_run: bool, quiet: bool) -> dict[str, object]:
    """Sent announcements (and unsent ones when no events sink is configured), settled SAP
    confirmations past retention, SFTP files taken more than sftp_seen_days ago
    (store/pruning.py): rows that otherwise grow for ever."""
    now = runtime.clock.now()
    cutoffs = pruning.Cutoffs(
        records=now - timedelta(days=days),
        sftp_seen=now - timedelta(days=runtime.settings.sftp_seen_days),
        unsent_owed=runtime.settings.events_sink != "none",
    )
    if dry_run:
        counts = pruning.prunable(runtime.db, cutoffs)
    else:
        counts = pruning.prune(
            runtime.db, cutoffs, now=now, actor=_actor(), anchor=runtime.settings.resolved_audit_anchor
        )
    if not quiet:
        verb = "would go" if dry_run else "dropped"
        console.print(
            f"rows {verb}: {counts['announcements_sent']} sent announcements, "
            f"{counts['announcements_unsent']} unsent ones (no events sink) and "
            f"{counts['sap_confirmations']} SAP confirmations of settled journals before "
            f"{cutoffs.records:%Y-%m-%d %H:%M}; {counts['sftp_seen']} SFTP files taken before "
            f"{cutoffs.sftp_seen:%Y-%m-%d %H:%M}",
            highlight=False,
        )
    return {
        "cutoff": cutoffs.records.isoformat(),
        "sftp_seen_cutoff": cutoffs.sftp_seen.isoformat(),
        ("would_drop" if dry_run else "dropped"): counts,
    }


def _drop_months(runtime: Runtime, months: int, *, dry_run: bool, quiet: bool) -> dict[str, object]:
    """The records horizon: whole months of messages and events dropped (store/horizon.py)."""
    now = runtime.clock.now()
    first_kept = horizon.horizon_for(now, months)
    if dry_run:
        report = horizon.inspect(runtime.db, horizon=first_kept)
    else:
        report = horizon.drop_months(
            runtime.db,
            horizon=first_kept,
            now=now,
            actor=_actor(),
            anchor=runtime.settings.resolved_audit_anchor,
        )
    if not quiet:
        verb = "can go" if dry_run else "dropped"
        for month in report.months:
            if month.blockers:
                why = ", ".join(f"{reason} {n}" for reason, n in month.blockers.items())
                console.print(f"{month.month:%Y-%m}: kept ({why}); later months wait for it")
            else:
                console.print(
                    f"{month.month:%Y-%m}: {verb} ({month.messages} messages, {month.events} events)"
                )
        if not report.months:
            console.print(f"no month before {first_kept:%Y-%m} holds records")
    return report.as_json()
