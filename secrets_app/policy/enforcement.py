"""Permission checks that refuse *and* record the refusal.

A denial is audited in its own (committed) write, before any transaction of the refused action
starts, so rolling that action back never erases the record of the refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from secrets_app.errors import PermissionDenied
from secrets_app.policy.phrases import action_phrase
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
    denial: dict[str, Any] = {
        "environment": environment or "",
        "path": path or "",
        "resource_type": "secret" if action.startswith("secrets.") else action.split(".")[0],
        "resource_id": resource,
    }
    scope.audit_denial(action, **denial)
    error = PermissionDenied(f"You are not allowed to {action_phrase(action)} here")
    error.audit = (action, denial)  # type: ignore[attr-defined]
    raise error


@contextmanager
def all_or_nothing(scope: ProjectScope) -> Iterator[None]:
    """Run several service calls as one transaction (a batch): any failure undoes all of them.
    A refusal's audit row was written inside the undone transaction, so it is written again,
    committed, after the rollback."""
    try:
        with transaction.atomic():
            yield
    except PermissionDenied as exc:
        audit = getattr(exc, "audit", None)
        if audit is not None:
            scope.audit_denial(audit[0], **audit[1])
        raise
