"""config validate | apply | approve | reject | list | diff: configuration as code."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from revbridge.bootstrap import Runtime, reference_config_dir
from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.connectors import registry
from revbridge.connectors.registry import thaw
from revbridge.core.errors import ConfigurationError, InputError
from revbridge.masterdata.changes import diff
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.loader import load
from revbridge.masterdata.yaml_reader import ConfigError
from revbridge.security.roles import Permission, allows
from revbridge.store import apikeys, configs

config_app = typer.Typer(help="Master data and posting rules as versioned YAML.", no_args_is_help=True)

DirArgument = Annotated[
    Path | None, typer.Argument(help="Configuration directory (default: the reference one).")
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key", help="Act as the holder of this API key (needed to approve).", envvar="REVBRIDGE_API_KEY"
    ),
]


def _load(directory: Path) -> tuple[Configuration | None, list[ConfigError]]:
    """The configuration and its errors, each legal entity's connector settings checked too (a
    typo in an ERP setting is an error here, not a work item when the first journal goes out)."""
    config, errors = load(directory)
    if config is None:
        return None, list(errors)
    found = []
    for entity in config.master.legal_entities:
        settings = thaw(entity.connector.settings) if entity.connector.settings else {}
        try:
            registry.check(entity.connector.name, settings, name=entity.connector.name)
        except ConfigurationError as exc:
            found.append(ConfigError("legal_entities.yaml", 0, 0, f"legal entity {entity.code}: {exc}"))
    return (None, found) if found else (config, [])


def load_dir(directory: Path) -> Configuration:
    config, errors = _load(directory)
    if config is None:
        shown = "\n".join(f"  {directory / e.file}:{e.line}: {e.message}" for e in errors)
        raise InputError(f"{len(errors)} error(s) in {directory}:\n{shown}")
    return config


def _actor(runtime: Runtime, api_key: str | None, needed: Permission | None) -> str:
    if api_key is None:
        if needed is Permission.CONFIG_APPROVE:
            raise InputError("approving needs --api-key of a key with the approver role")
        return f"cli:{getpass.getuser()}"
    key = apikeys.verify(runtime.db, api_key)
    if key is None:
        raise InputError("the API key is not valid")
    if needed is not None and not allows(key.roles, needed):
        raise InputError(f"the API key's roles lack the {needed.value} permission")
    return f"apikey:{key.id}"


@config_app.command("validate")
def validate(directory: DirArgument = None, json_out: JsonOption = False) -> None:
    """Check a configuration directory; every error with its file and line."""
    target = directory or reference_config_dir()
    config, errors = _load(target)
    if json_out:
        print_json(
            {
                "valid": config is not None,
                "errors": [
                    {"file": e.file, "line": e.line, "column": e.column, "message": e.message} for e in errors
                ],
            }
        )
    elif config is None:
        for e in errors:
            console.print(f"{target / e.file}:{e.line}: {e.message}", highlight=False, soft_wrap=True)
    else:
        m = config.master
        console.print(
            f"{target}: valid ({len(m.legal_entities)} legal entities, {len(m.facilities)} facilities, "
            f"{len(m.departments)} departments, {len(m.payers)} payers)"
        )
    if config is None:
        raise typer.Exit(1)


@config_app.command("apply")
def apply(
    directory: DirArgument = None,
    effective_from: Annotated[
        str | None, typer.Option("--effective-from", help="YYYY-MM-DD (default today).")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Why this change (kept in the audit log).")] = "",
    api_key: ApiKeyOption = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Store a new configuration version (proposed, when approval is required)."""
    target = directory or reference_config_dir()
    config = load_dir(target)
    try:
        effective = date.fromisoformat(effective_from) if effective_from else None
    except ValueError:
        raise InputError(f"--effective-from must be YYYY-MM-DD, not {effective_from!r}") from None
    with open_runtime(db, settings) as runtime:
        actor = _actor(runtime, api_key, Permission.CONFIG_PROPOSE if api_key else None)
        version = configs.propose(
            runtime.db,
            config,
            effective_from=effective or runtime.clock.now().date(),
            actor=actor,
            note=note,
            source=str(target.resolve()),
            now=runtime.clock.now(),
            approve=not runtime.settings.require_approval,
            anchor=runtime.settings.resolved_audit_anchor,
        )
    if json_out:
        print_json(version.as_json())
        return
    console.print(
        f"configuration version {version.version} {version.status}, effective {version.effective_from}"
    )
    if version.status == configs.PROPOSED:
        console.print(
            "approval required: another person runs `revbridge config approve "
            f"{version.version} --api-key <approver key>`"
        )


def _decide(
    number: int,
    approve: bool,
    reason: str,
    api_key: str | None,
    json_out: bool,
    db: str | None,
    settings: Path | None,
) -> None:
    with open_runtime(db, settings) as runtime:
        actor = _actor(runtime, api_key, Permission.CONFIG_APPROVE)
        version = configs.decide(
            runtime.db,
            number,
            approve=approve,
            actor=actor,
            now=runtime.clock.now(),
            reason=reason,
            anchor=runtime.settings.resolved_audit_anchor,
        )
    if json_out:
        print_json(version.as_json())
    else:
        console.print(f"configuration version {version.version} {version.status} by {version.approved_by}")


@config_app.command("approve")
def approve(
    version: Annotated[int, typer.Argument(help="The proposed version.")],
    reason: Annotated[str, typer.Option("--reason")] = "",
    api_key: ApiKeyOption = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Approve a proposed version (maker-checker: not its proposer)."""
    _decide(version, True, reason, api_key, json_out, db, settings)


@config_app.command("reject")
def reject(
    version: Annotated[int, typer.Argument(help="The proposed version.")],
    reason: Annotated[str, typer.Option("--reason")] = "",
    api_key: ApiKeyOption = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Reject a proposed version."""
    _decide(version, False, reason, api_key, json_out, db, settings)


@config_app.command("list")
def list_versions(json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Configuration versions, newest last."""
    with open_runtime(db, settings) as runtime:
        found = configs.versions(runtime.db)
    if json_out:
        print_json([v.as_json() for v in found])
        return
    for v in found:
        console.print(f"{v.version:>4}  {v.status:<9} from {v.effective_from}  by {v.proposed_by}  {v.note}")


@config_app.command("diff")
def diff_versions(
    old: Annotated[int, typer.Argument(help="Older version.")],
    new: Annotated[int, typer.Argument(help="Newer version.")],
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """What changed between two stored versions."""
    with open_runtime(db, settings) as runtime:
        changes = diff(configs.load_version(runtime.db, old), configs.load_version(runtime.db, new))
    if json_out:
        print_json(list(changes))
        return
    for change in changes or ("no differences",):
        console.print(change, highlight=False, soft_wrap=True)
