"""Every route declares the one permission it needs, with ``@requires(...)``.

The authentication middleware looks the permission up from the matched route before the body is
read; a test walks every registered route and fails if one has none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from revbridge.security.roles import Permission

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__revbridge_permission__"


def requires(permission: Permission) -> Callable[[F], F]:
    def mark(endpoint: F) -> F:
        setattr(endpoint, ATTRIBUTE, permission)
        return endpoint

    return mark


def permission_of(endpoint: Callable[..., Any]) -> Permission | None:
    value = getattr(endpoint, ATTRIBUTE, None)
    return value if isinstance(value, Permission) else None
