"""The write gate of approvals (registered by ``ApprovalsConfig.ready``).

For a write about to happen (``secrets_app.write_gate.WriteIntent``) it finds the change policy
governing the place (exact > glob > environment-wide; a folder delete counts every folder below
it). None → the write applies. Otherwise the write is recorded as an open change request and the
caller gets a ``HeldWrite`` to turn into its interface's answer. Machine identities are exempt
under policies with ``applies_to_identities=False``; system principals (syncs reading) never write.
"""

from __future__ import annotations

import copy

from access_cache.store import access_cache
from approvals.models import ApprovalPolicy, ChangeRequest
from approvals.notify import review_url
from approvals.selectors.policies import policy_for
from approvals.services.change_requests import change_request_open
from approvals.shapes import change_request_shape, compat_approval_shape
from secrets_app.write_gate import ChangeOp, HeldWrite, WriteIntent


def _paths(intent: WriteIntent) -> list[str]:
    paths = {intent.folder.path}
    for change in intent.changes:
        if change.op == ChangeOp.FOLDER_DELETE:
            paths.update(change.metadata.get("subtree_paths") or ())
    return sorted(paths)


def held_write_for(request: ChangeRequest) -> HeldWrite:
    url = review_url(request)
    needed = request.policy.approvals_required if request.policy else 1
    policy_name = request.policy.name if request.policy else "-"
    return HeldWrite(
        kind="change_request",
        id=str(request.public_id),
        url=url,
        message=(
            f"Change request {request.slug} opened for {request.environment.slug}:{request.path} — "
            f"needs {needed} approval{'s' if needed != 1 else ''} (policy {policy_name})"
        ),
        api_body={"status": "pending_approval", "changeRequest": change_request_shape(request, url=url)},
        compat_body={"approval": compat_approval_shape(request)},
    )


def _change_policy(intent: WriteIntent) -> ApprovalPolicy | None:
    """The change policy governing *intent*'s place: from the access-epoch cache when the request
    has an epoch (policies and the environments they cover are watched rows), a copy per request."""
    project_id, environment_id, paths = intent.scope.project.pk, intent.environment.pk, tuple(_paths(intent))

    def load() -> tuple[ApprovalPolicy | None, None]:
        return policy_for(project_id=project_id, environment_id=environment_id, paths=paths, governs="changes"), None

    policy = access_cache.get_or_compute(
        intent.scope.principal.access_epoch, ("change_policy", project_id, environment_id, paths), load
    )
    return copy.copy(policy) if policy is not None else None


def change_request_gate(intent: WriteIntent) -> HeldWrite | None:
    """Hold *intent* when a change policy governs its place; None lets it apply."""
    principal = intent.scope.principal
    if not (principal.is_user or principal.is_identity):
        return None
    policy = _change_policy(intent)
    if policy is None:
        return None
    if principal.is_identity and not policy.applies_to_identities:
        return None
    request = change_request_open(intent=intent, policy=policy)
    return held_write_for(request)
