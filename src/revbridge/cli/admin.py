"""db upgrade and API keys."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.core.errors import InputError
from revbridge.security.roles import parse_roles
from revbridge.store import apikeys, audit, migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for source systems and people.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None, settings: SettingsOption = None) -> None:
    """Create or migrate the schema to the current version."""
    with open_runtime(db, settings, upgrade=True) as runtime:
        console.print(f"database at revision {migrate.current(runtime.db)} ({runtime.db.url})")


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option("--role", help="One or more roles, comma-separated.")],
    name: Annotated[str, typer.Option("--name", help="Who or what will use the key.")] = "",
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Create an API key; the secret is shown once."""
    try:
        roles = parse_roles(role)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    with open_runtime(db, settings) as runtime:
        key, token = apikeys.create(
            runtime.db,
            name=name or role,
            roles=roles,
            now=runtime.clock.now(),
            actor=f"cli:{getpass.getuser()}",
            anchor=runtime.settings.resolved_audit_anchor,
        )
    if json_out:
        print_json({"id": key.id, "name": key.name, "roles": [r.value for r in key.roles], "key": token})
        return
    console.print(f"API key {key.id} ({', '.join(r.value for r in key.roles)}): {token}")
    console.print("Store it now: it is not shown again.")


@apikey_app.command("list")
def apikey_list(json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None) -> None:
    """List API keys (never their secrets)."""
    with open_runtime(db, settings) as runtime:
        keys = apikeys.list_keys(runtime.db)
    if json_out:
        print_json(keys)
        return
    for k in keys:
        state = "revoked" if k["revoked_at"] else "active"
        console.print(f"{k['id']}  {k['role']:<20} {k['name']}  {state}")


@apikey_app.command("revoke")
def apikey_revoke(key_id: str, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Revoke an API key at once."""
    with open_runtime(db, settings) as runtime:
        if not apikeys.revoke(runtime.db, key_id, now=runtime.clock.now()):
            raise InputError(f"no active API key {key_id!r}")
    console.print(f"revoked {key_id}")


@audit_app.command("verify")
def audit_verify(json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Check the audit chain: exits non-zero on any edit, deletion, reordering or truncation."""
    with open_runtime(db, settings) as runtime:
        count, findings = audit.check(runtime.db, anchor=runtime.settings.resolved_audit_anchor)
    if json_out:
        print_json({"entries": count, "intact": not findings, "findings": [str(f) for f in findings]})
    elif findings:
        for f in findings:
            console.print(f"[red]{f}[/red]")
    else:
        console.print(f"audit chain intact: {count} entries")
    if findings:
        raise typer.Exit(1)
