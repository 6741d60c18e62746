"""The world the authorization checks (A1, A2, A5, G2) run in: two projects of one organization
with a folder tree in every environment, one distinctive secret per place, and one signed-in
client per principal of the A1 oracle (people by personal token, machines by universal auth)."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rest_framework.test import APIClient

ORACLE_FILE = Path(__file__).with_name("access_oracle.yaml")
LOGIN = "/api/v1/auth/universal-auth/login"


@functools.cache
def oracle() -> dict[str, Any]:
    return yaml.safe_load(ORACLE_FILE.read_text())


def key_for(environment: str, path: str) -> str:
    """The seeded key of a place: distinct per place so a leaked name says where it came from."""
    slug = path.strip("/").replace("/", "_").replace("-", "_").upper() or "ROOT"
    return f"K_{environment.upper()}_{slug}"


@dataclass
class World:
    projects: dict[str, Any]  # oracle name (P1, P2) -> Project
    clients: dict[str, APIClient]  # principal -> client
    values: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)  # (project, env, path) -> values

    def all_values(self) -> dict[str, tuple[str, str, str]]:
        return {value: place for place, values in self.values.items() for value in values}


def _bearer(token: str | None) -> APIClient:
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _machine_token(cast: Any, project: Any, name: str, role: str) -> str:
    from secrets_app.identities import services
    from secrets_app.principals import Principal

    admin = Principal.for_user(cast.alice)  # alice is made org admin by build_world
    identity = services.identity_create(principal=admin, organization=cast.organization, name=name)
    services.identity_membership_add(scope=cast.scope(cast.alice), identity_id=identity.public_id, role=role)
    config, _ = services.universal_auth_configure(principal=admin, identity=identity, changes={})
    _row, raw = services.client_secret_create(principal=admin, identity=identity)
    answer = APIClient().post(LOGIN, {"clientId": str(config.client_id), "clientSecret": raw}, format="json")
    assert answer.status_code == 200, answer.content
    return str(answer.json()["accessToken"])


def build_world(cast: Any) -> World:
    """Seed the world described by access_oracle.yaml on top of the fixed cast."""
    from secrets_app.models import OrganizationMembership, OrgRole
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope_for
    from secrets_app.services.folders import folder_create
    from secrets_app.services.members import role_create
    from secrets_app.services.personal_tokens import personal_token_create
    from secrets_app.services.projects import project_create
    from secrets_app.services.secrets import SecretInput, secret_create
    from secrets_app.services.users import user_create
    from tests.conftest import PASSWORD

    spec = oracle()
    owner = user_create(
        email="olivia@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )
    beta = project_create(principal=Principal.for_user(owner), organization=cast.organization, slug="beta", name="B")
    projects = {"P1": cast.project, "P2": beta}
    world = World(projects=projects, clients={})
    for name, project in projects.items():
        scope = project_scope_for(Principal.for_user(owner), project)
        for environment in spec["environments"]:
            folder_create(scope=scope, environment=environment, path="/", name="app")
            folder_create(scope=scope, environment=environment, path="/app", name="db")
            folder_create(scope=scope, environment=environment, path="/", name="app-other")
            folder_create(scope=scope, environment=environment, path="/", name="application")
            for path in spec["paths"]:
                value = f"v-{name}-{environment}-{path}-{uuid.uuid4().hex}"
                secret_create(
                    scope=scope,
                    environment=environment,
                    path=path,
                    item=SecretInput(key=key_for(environment, path), value=value),
                )
                world.values[(name, environment, path)] = {value}

    role_create(
        scope=cast.scope(cast.alice),
        slug="ci-prod-app",
        name="CI reads prod:/app",
        rules=[
            {"effect": "allow", "action": "secrets.read", "environments": ["prod"], "path": "/app/**"},
            {"effect": "allow", "action": "secrets.read_value", "environments": ["prod"], "path": "/app/**"},
        ],
    )
    # The identities are made by an org admin; alice goes back to a plain org member afterwards so that
    # "project_admin" is an admin of P1 only.
    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    ci_token = _machine_token(cast, cast.project, "ci", "ci-prod-app")
    revoked_token = _machine_token(cast, cast.project, "revoked", "admin")
    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.MEMBER)
    revoked = APIClient().post("/api/v1/auth/token/revoke", {"accessToken": revoked_token}, format="json")
    assert revoked.status_code == 200, revoked.content

    def personal(user: Any) -> APIClient:
        return _bearer(personal_token_create(user=user, name="a1")[1])

    world.clients = {
        "org_owner": personal(owner),
        "project_admin": personal(cast.alice),
        "dev_only": personal(cast.erin),
        "ci_identity": _bearer(ci_token),
        "viewer": personal(cast.dave),
        "other_org": personal(cast.mallory),
        "revoked_identity": _bearer(revoked_token),
        "anonymous": _bearer(None),
    }
    return world


def matches(entry: dict[str, Any], environment: str, path: str, action: str) -> bool:
    def has(selector: Any, item: str) -> bool:
        return selector == "*" or item in selector

    return has(entry["envs"], environment) and has(entry["paths"], path) and has(entry["actions"], action)


def expected(principal: str, project: str, environment: str, path: str, action: str) -> str:
    """The oracle's answer for one cell: "allow" or a deny status as a string ("403")."""
    cell = oracle()["principals"][principal][project]
    if any(matches(entry, environment, path, action) for entry in cell.get("allow", [])):
        return "allow"
    if environment in cell.get("hidden", []) and action in oracle()["actions"]:
        return "404"
    return str(cell.get("deny", 403))
