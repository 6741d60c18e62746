"""Permission checks that refuse *and* record the refusal.

A denial is audited in its own (committed) write, before any transaction of the refused action
starts, so rolling that action back never erases the record of the refusal.
"""

from __future__ import annotations

from collections.abc import Iterable

from secrets_app.errors import PermissionDenied
from secrets_app.selectors.access import ProjectScope


def require(
    scope: ProjectScope,
    action: str,
    *,
    environment: str | None = None,
    path: str | None = None,
    tags: Iterable[str] | None = None,
    resource: str = "",
    some_tags: bool = False,
) -> None:
    """Raise PermissionDenied (after auditing ``permission.denied``) unless the scope allows *action*.

    With *some_tags* (a gate before per-secret checks), it is enough that the action is allowed
    for secrets carrying some tag here (see ``ProjectAccess.can_for_some_tags``)."""
    if some_tags and environment is not None and path is not None:
        allowed = scope.access.can_for_some_tags(action, environment=environment, path=path)
    else:
        allowed = scope.access.can(action, environment=environment, path=path, tags=tags)
    if allowed:
        return
    scope.audit_denial(
        action,
        environment=environment or "",
        path=path or "",
        resource_type="secret" if action.startswith("secrets.") else action.split(".")[0],
        resource_id=resource,
    )
    raise PermissionDenied(f"You are not allowed to {action.replace('.', ' ').replace('_', ' ')} here")
