"""Approvals fixtures: the cast's ``acme`` with secrets in dev and prod, and policy builders."""

from __future__ import annotations

from typing import Any

import pytest

CANARY = "canary-Zq8v3-never-in-clear"  # noqa: S105 - a proposed value whose bytes must never leak


@pytest.fixture
def seeded(cast: Any) -> Any:
    """DB_PASSWORD in dev, staging and prod (root); prod:/payments holds STRIPE_KEY."""
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = cast.scope(cast.alice)
    for env in ("dev", "staging", "prod"):
        secret_create(
            scope=scope, environment=env, path="/", item=SecretInput(key="DB_PASSWORD", value=f"{env}-password")
        )
    folder_create(scope=scope, environment="prod", path="/", name="payments")
    secret_create(scope=scope, environment="prod", path="/payments", item=SecretInput(key="STRIPE_KEY", value="sk-1"))
    return cast


@pytest.fixture
def make_policy(seeded: Any) -> Any:
    """make_policy(**fields) → an ApprovalPolicy created by alice (defaults: prod, /**, bob approves, 1)."""
    from approvals.services.policies import MemberRef, approval_policy_create

    def _ref(member: Any) -> MemberRef:
        if isinstance(member, MemberRef):
            return member
        return MemberRef(kind="user", ref=member.email)

    def make(**fields: Any) -> Any:
        approvers = fields.pop("approvers", [seeded.bob])
        bypassers = fields.pop("bypassers", [])
        defaults: dict[str, Any] = {"name": "prod-guard", "environments": ["prod"], "path": "/**"}
        defaults.update(fields)
        return approval_policy_create(
            scope=seeded.scope(seeded.alice),
            approvers=[_ref(member) for member in approvers],
            bypassers=[_ref(member) for member in bypassers],
            **defaults,
        )

    return make
