"""Machine identities for the compat tests: an identity with a project role and universal-auth
credentials (client id + client secret), plus helpers to log in through the compat route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from audit.models import ActorType
from audit.services import AuditActor
from secrets_app.models import IdentityProjectMembership, MachineIdentity

BASE = "/compat/infisical"
SYSTEM = AuditActor(type=ActorType.SYSTEM, label="tests")


@dataclass
class Machine:
    identity: MachineIdentity
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"<Machine {self.identity.name}>"


def make_machine(project: Any, name: str, role: str | None, **universal: Any) -> Machine:
    from secrets_app.identities.services import client_secret_create_as, universal_auth_configure_as

    identity = MachineIdentity.objects.create(organization=project.organization, name=name)
    if role is not None:
        IdentityProjectMembership.objects.create(project=project, identity=identity, builtin_role=role)
    config, _created = universal_auth_configure_as(actor=SYSTEM, identity=identity, changes=universal)
    _row, raw = client_secret_create_as(actor=SYSTEM, identity=identity, description="tests")
    return Machine(identity=identity, client_id=str(config.client_id), client_secret=raw)


@pytest.fixture
def machine() -> Any:
    """machine(project, name, role, **universal_auth_settings) -> Machine."""
    return make_machine


def login(client: Any, machine: Machine) -> str:
    """The real login route (Django test client)."""
    response = client.post(
        f"{BASE}/api/v1/auth/universal-auth/login",
        {"clientId": machine.client_id, "clientSecret": machine.client_secret},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["accessToken"]
