"""Roles and permissions: the one table that says who may do what.

Every HTTP route declares one permission; a key or token carries one or more roles. Source systems
get ``system`` and can only ingest. Raw messages (PHI) need ``phi.read``, which only the
``phi_reader`` and ``admin`` roles hold, and every use of it is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Permission(StrEnum):
    INGEST = "ingest"
    READ = "read"  # dashboards, journals, work items, lineage without raw payloads
    OPERATE = "operate"  # assign, resolve, ignore, replay
    CONFIG_PROPOSE = "config.propose"
    CONFIG_APPROVE = "config.approve"
    PHI_READ = "phi.read"
    ADMIN = "admin"  # API keys, key rotation, purge, audit
    PUBLIC = "public"  # health checks and the login page


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    STEWARD = "steward"
    APPROVER = "approver"
    PHI_READER = "phi_reader"
    ADMIN = "admin"
    SYSTEM = "system"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    Role.STEWARD: frozenset({Permission.READ, Permission.OPERATE, Permission.CONFIG_PROPOSE}),
    Role.APPROVER: frozenset({Permission.READ, Permission.CONFIG_APPROVE}),
    Role.PHI_READER: frozenset({Permission.READ, Permission.PHI_READ}),
    Role.ADMIN: frozenset(set(Permission) - {Permission.INGEST}),
    Role.SYSTEM: frozenset({Permission.INGEST}),
}


def parse_roles(text: str) -> tuple[Role, ...]:
    """'operator,phi_reader' -> roles; unknown names raise ValueError naming the valid ones."""
    roles = []
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        try:
            roles.append(Role(name))
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {name!r}; roles are: {valid}") from None
    if not roles:
        raise ValueError("at least one role is required")
    return tuple(dict.fromkeys(roles))


def permissions(roles: Iterable[Role]) -> frozenset[Permission]:
    granted: set[Permission] = {Permission.PUBLIC}
    for role in roles:
        granted |= GRANTS[role]
    return frozenset(granted)


def allows(roles: Iterable[Role], needed: Permission) -> bool:
    return needed in permissions(roles)
