"""The operator command prints an identity that can log in at once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from secrets_app.models import ClientSecret, IdentityProjectMembership


def test_it_creates_an_identity_that_logs_in_and_reads_with_its_role(cast: Any) -> None:
    out = io.StringIO()
    call_command(
        "identity_create",
        "--name",
        "ado-pipeline",
        "--project",
        "acme",
        "--role",
        "member",
        "--universal-auth",
        "--json",
        stdout=out,
    )
    created = json.loads(out.getvalue())

    assert set(created) == {"identityId", "clientId", "clientSecret"}
    membership = IdentityProjectMembership.objects.get(identity__public_id=created["identityId"])
    assert membership.role_slug == "member" and membership.project == cast.project
    assert not ClientSecret.objects.filter(secret_hash=created["clientSecret"]).exists()
    answer = APIClient().post(
        "/api/v1/auth/universal-auth/login",
        {"clientId": created["clientId"], "clientSecret": created["clientSecret"]},
        format="json",
    )
    assert answer.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['accessToken']}")
    assert client.get("/api/v1/projects/acme/secrets/?environment=dev").status_code == 200


def test_it_refuses_unknown_projects_and_roles(cast: Any) -> None:
    with pytest.raises(CommandError, match="not found"):
        call_command("identity_create", "--name", "x", "--project", "nope", "--json", stdout=io.StringIO())
    with pytest.raises(CommandError, match="unknown role"):
        call_command("identity_create", "--name", "x", "--project", "acme", "--role", "boss", stdout=io.StringIO())
    assert not IdentityProjectMembership.objects.exists()


def test_it_finds_the_project_by_its_id_as_its_help_says(cast: Any) -> None:
    out = io.StringIO()

    call_command("identity_create", "--name", "by-id", "--project", str(cast.project.public_id), "--json", stdout=out)

    created = json.loads(out.getvalue())
    assert IdentityProjectMembership.objects.get(identity__public_id=created["identityId"]).project == cast.project
    with pytest.raises(CommandError, match="not found"):
        call_command(
            "identity_create", "--name", "x", "--project", "00000000-0000-4000-8000-000000000000", stdout=io.StringIO()
        )
