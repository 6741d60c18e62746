"""Shared fixtures: a generated root key for the run, and the fixed cast.

alice: project admin (owner) · bob: project member · charlie: in the organization, no project access.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

# The root key for the run comes from config/test_settings.py (fresh per process).


@pytest.fixture(autouse=True)
def _fresh_keyring() -> None:
    """Each test starts from an unloaded keyring (its database may be new)."""
    from secrets_app.keyring import keyring

    keyring.reset()


@pytest.fixture(autouse=True)
def _audit_anchor_per_test(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test's audit anchor file of its own: its database is new, so another test's anchored
    blocks would look deleted (see audit/anchor.py)."""
    # A name only: the file (and nothing else) appears when the test seals a block.
    settings.STRONGROOM_AUDIT_ANCHOR_PATH = tmp_path_factory.getbasetemp() / f"audit-anchor-{uuid.uuid4().hex}.jsonl"


# --- the cast ------------------------------------------------------------------------------------
from dataclasses import dataclass  # noqa: E402

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Cast:
    """One organization and project ``acme`` (dev, staging, prod) with:

    alice  project admin (owner) · bob member · dave viewer · erin dev-only (custom role ``dev-only``)
    charlie: in the organization, no project access · mallory: another organization entirely.
    """

    organization: Any
    project: Any
    alice: Any
    bob: Any
    charlie: Any
    dave: Any
    erin: Any
    mallory: Any
    other_project: Any

    def scope(self, user: Any) -> Any:
        from secrets_app.principals import Principal
        from secrets_app.selectors.access import project_scope_for

        return project_scope_for(Principal.for_user(user), self.project)


def build_cast() -> Cast:
    from secrets_app.models import OrgRole
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope_for
    from secrets_app.services.members import member_add, role_create
    from secrets_app.services.projects import organization_get_or_create, project_create
    from secrets_app.services.users import user_create

    organization = organization_get_or_create(slug="acme-org", name="Acme")
    other_org = organization_get_or_create(slug="evil-org", name="Evil")
    alice = user_create(
        email="alice@example.com", password=PASSWORD, organization=organization, org_role=OrgRole.MEMBER
    )
    bob = user_create(email="bob@example.com", password=PASSWORD, organization=organization)
    charlie = user_create(email="charlie@example.com", password=PASSWORD, organization=organization)
    dave = user_create(email="dave@example.com", password=PASSWORD, organization=organization)
    erin = user_create(email="erin@example.com", password=PASSWORD, organization=organization)
    mallory = user_create(
        email="mallory@example.com", password=PASSWORD, organization=other_org, org_role=OrgRole.ADMIN
    )
    project = project_create(
        principal=Principal.for_user(alice), organization=organization, slug="acme", name="Acme app"
    )
    other_project = project_create(
        principal=Principal.for_user(mallory), organization=other_org, slug="evil", name="Evil app"
    )
    scope = project_scope_for(Principal.for_user(alice), project)
    member_add(scope=scope, email=bob.email, role="member")
    member_add(scope=scope, email=dave.email, role="viewer")
    role_create(
        scope=scope,
        slug="dev-only",
        name="Developer (dev only)",
        rules=[
            {"effect": "allow", "action": "secrets.*", "environments": ["dev"]},
            {"effect": "allow", "action": "folders.*", "environments": ["dev"]},
        ],
    )
    member_add(scope=scope, email=erin.email, role="dev-only")
    return Cast(organization, project, alice, bob, charlie, dave, erin, mallory, other_project)


@pytest.fixture
def cast(db: None) -> Cast:
    return build_cast()


@pytest.fixture
def token_for(db: None) -> Any:
    """token_for(user) -> a personal API token (the real bearer path)."""
    from secrets_app.services.personal_tokens import personal_token_create

    def make(user: Any) -> str:
        return personal_token_create(user=user, name="test")[1]

    return make


@pytest.fixture
def api(token_for: Any) -> Any:
    """api(user) -> a DRF APIClient authenticated with that user's personal token (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make
