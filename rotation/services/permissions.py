"""Who may do what with a rotation (docs/rotation.md, "Who may do what"; docs/permissions.md).

- ``rotations.manage``: define, change (schedule, root credentials), pause, resume and delete a
  rotation. The root credentials of the target are an admin's business: part of the built-in admin
  role only (through ``*``).
- ``rotations.rotate``: press "Rotate now". Granted alone (a custom on-call role), it rotates
  without ever touching the definition or its root credentials. ``rotations.manage`` implies it.
- Seeing a rotation (never its root credentials) needs ``secrets.read`` at its folder
  (``rotation.selectors``).

Both actions are project-wide, like ``dynamic_secrets.manage``: they are asked at the rotation's
environment and folder, and the decision ignores the place (only unconditional rules count).
A refusal is audited as ``permission.denied`` naming the action, and its message names it too.
"""

from __future__ import annotations

from secrets_app.errors import PermissionDenied
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope

MANAGE = "rotations.manage"
ROTATE = "rotations.rotate"

_REFUSALS = {
    MANAGE: "You are not allowed to manage rotations in this project (it needs rotations.manage)",
    ROTATE: "You are not allowed to rotate credentials in this project (it needs rotations.rotate)",
}


def can_manage_rotations(scope: ProjectScope, *, environment: str | None = None, path: str | None = None) -> bool:
    return scope.access.can(MANAGE, environment=environment, path=path, tags=())


def can_rotate(scope: ProjectScope, *, environment: str | None = None, path: str | None = None) -> bool:
    """``rotations.rotate``, or ``rotations.manage`` (which implies it)."""
    return scope.access.can(ROTATE, environment=environment, path=path, tags=()) or can_manage_rotations(
        scope, environment=environment, path=path
    )


def _require(scope: ProjectScope, action: str, *, environment: str, path: str, resource: str) -> None:
    try:
        require(scope, action, environment=environment, path=path, resource=resource or "rotation")
    except PermissionDenied as exc:
        # Same refusal (already audited), with a sentence that names the permission to ask for.
        refusal = PermissionDenied(_REFUSALS[action])
        refusal.audit = getattr(exc, "audit", None)  # type: ignore[attr-defined]
        raise refusal from None


def require_manage_rotations(scope: ProjectScope, *, environment: str, path: str, resource: str = "") -> None:
    """PermissionDenied (audited) unless the caller holds ``rotations.manage``."""
    _require(scope, MANAGE, environment=environment, path=path, resource=resource)


def require_rotate(scope: ProjectScope, *, environment: str, path: str, resource: str = "") -> None:
    """PermissionDenied (audited as a refused ``rotations.rotate``) unless the caller may rotate:
    ``rotations.rotate`` or ``rotations.manage``."""
    if can_manage_rotations(scope, environment=environment, path=path):
        return
    _require(scope, ROTATE, environment=environment, path=path, resource=resource)
