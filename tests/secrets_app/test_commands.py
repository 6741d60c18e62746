"""Operator commands: bootstrap (idempotent, root key file only on a fresh install), project_create."""

from __future__ import annotations

import io
import json
import re
import stat
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from audit.models import AuditEvent
from secrets_app.keyring import keyring
from secrets_app.models import Environment, Organization, OrganizationMembership, Project, RootKeyCheck
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope
from tests.secrets_app.conftest import put, value_of


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def fresh_install(tmp_path, monkeypatch):
    """No root key configured, an empty data directory: the embedded default on first start."""
    monkeypatch.delenv("STRONGROOM_ADMIN_PASSWORD", raising=False)
    key_file = tmp_path / "data" / "root.key"
    with override_settings(STRONGROOM_ROOT_KEY=None, STRONGROOM_EMBEDDED_ROOT_KEY_PATH=key_file):
        keyring.reset()
        yield key_file
    keyring.reset()


def counts() -> tuple[int, ...]:
    return (
        get_user_model().objects.count(),
        Organization.objects.count(),
        OrganizationMembership.objects.count(),
        RootKeyCheck.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.django_db
def test_it_bootstraps_a_fresh_install_with_a_0600_root_key_and_a_first_admin(fresh_install) -> None:
    assert not RootKeyCheck.objects.exists()

    output = run("bootstrap", "--admin-email", "Ops@Example.com")

    assert "Generated a root key" in output
    assert stat.S_IMODE(fresh_install.stat().st_mode) == 0o600
    password = re.search(r"with password: (\S+)", output).group(1)
    admin = get_user_model().objects.get(email="ops@example.com")
    assert admin.check_password(password)
    assert admin.is_superuser
    assert OrganizationMembership.objects.get(user=admin).role == "admin"
    assert keyring.sealed_reason() is None
    assert password not in json.dumps(list(AuditEvent.objects.values("metadata")), default=str)


@pytest.mark.django_db
def test_it_bootstraps_only_once(fresh_install) -> None:
    first = run("bootstrap", "--admin-email", "ops@example.com")
    password = re.search(r"with password: (\S+)", first).group(1)
    key_text = fresh_install.read_text()
    before = counts()

    second = run("bootstrap", "--admin-email", "ops@example.com")
    as_json = json.loads(run("bootstrap", "--admin-email", "ops@example.com", "--json"))

    assert counts() == before
    assert fresh_install.read_text() == key_text
    assert "Generated" not in second
    assert password not in second
    assert "password unchanged" in second
    assert as_json == {
        "adminEmail": "ops@example.com",
        "adminPassword": None,
        "adminCreated": False,
        "organization": "default",
        "rootKeyGenerated": False,
    }
    assert get_user_model().objects.get(email="ops@example.com").check_password(password)


@pytest.mark.django_db
def test_it_never_makes_a_new_root_key_over_existing_data(cast, fresh_install) -> None:
    assert RootKeyCheck.objects.exists()  # the cast's data keys are wrapped under the test run's key
    before = counts()

    with pytest.raises(CommandError, match="sealed"):
        run("bootstrap", "--admin-email", "ops@example.com")

    assert not fresh_install.exists()
    assert counts() == before


@pytest.mark.django_db
def test_it_uses_the_configured_root_key_instead_of_a_file(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("STRONGROOM_ADMIN_PASSWORD", raising=False)
    key_file = tmp_path / "root.key"
    with override_settings(STRONGROOM_EMBEDDED_ROOT_KEY_PATH=key_file):
        keyring.reset()
        output = run("bootstrap", "--admin-email", "ops@example.com")

    assert "Generated" not in output
    assert not key_file.exists()


@pytest.mark.django_db
def test_it_takes_the_admin_password_from_the_environment_and_never_prints_it(fresh_install, monkeypatch) -> None:
    monkeypatch.setenv("STRONGROOM_ADMIN_PASSWORD", "an-operator-chosen-passphrase")

    output = run("bootstrap", "--admin-email", "ops@example.com", "--json")

    assert json.loads(output)["adminPassword"] is None
    assert "an-operator-chosen-passphrase" not in output
    assert get_user_model().objects.get(email="ops@example.com").check_password("an-operator-chosen-passphrase")


# --- project_create -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_a_project_and_prints_its_id_slug_and_environments(cast) -> None:
    output = run(
        "project_create",
        "--slug",
        "billing",
        "--name",
        "Billing",
        "--organization",
        "acme-org",
        "--owner",
        "ALICE@example.com",
        "--json",
    )

    payload = json.loads(output)
    project = Project.objects.get(organization=cast.organization, slug="billing")
    assert payload == {
        "id": str(project.public_id),
        "slug": "billing",
        "name": "Billing",
        "environments": ["dev", "staging", "prod"],
    }
    uuid.UUID(payload["id"])
    scope = project_scope(Principal.for_user(cast.alice), payload["id"])
    assert scope.access.role == "admin"
    put(scope, "FIRST", "works")
    assert value_of(scope, "FIRST") == "works"
    with pytest.raises(Exception):  # noqa: B017, PT011 - bob is no member of the new project
        project_scope(Principal.for_user(cast.bob), "billing")


@pytest.mark.django_db
def test_it_creates_the_environments_asked_for_in_order(cast) -> None:
    payload = json.loads(
        run(
            "project_create",
            "--slug",
            "infra",
            "--name",
            "Infra",
            "--organization",
            "acme-org",
            "--owner",
            "alice@example.com",
            "--environments",
            "qa, prod ,dev",
            "--json",
        )
    )

    assert payload["environments"] == ["qa", "prod", "dev"]
    project = Project.objects.get(slug="infra")
    assert list(Environment.objects.filter(project=project).values_list("slug", flat=True)) == ["qa", "prod", "dev"]


@pytest.mark.django_db
def test_it_defaults_to_the_bootstrapped_admin_and_organization(fresh_install) -> None:
    run("bootstrap", "--admin-email", "ops@example.com")

    output = run("project_create", "--slug", "web", "--name", "Web")

    project = Project.objects.get(slug="web")
    assert output.strip() == f"Created project web ({project.public_id})"
    assert project.organization.slug == "default"
    assert (
        project_scope(Principal.for_user(get_user_model().objects.get(email="ops@example.com")), "web").access.role
        == "admin"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--slug", "acme", "--name", "Again"], "already exists"),
        (["--slug", "Bad Slug", "--name", "Bad"], "slug"),
        (["--slug", "ok", "--name", "Ok", "--environments", "dev,dev"], "environments"),
        (["--slug", "ok", "--name", "Ok", "--environments", "dev,*"], "environments"),
        (["--slug", "ok", "--name", "Ok", "--owner", "nobody@example.com"], "no owner"),
    ],
)
def test_it_refuses_bad_project_requests_with_a_reason(cast, arguments, message) -> None:
    before = Project.objects.count()

    with pytest.raises(CommandError, match=message):
        run("project_create", "--organization", "acme-org", "--owner", "alice@example.com", *arguments)

    assert Project.objects.count() == before


@pytest.mark.django_db
def test_it_refuses_an_unknown_organization(cast) -> None:
    with pytest.raises(CommandError, match="organization 'nope' not found"):
        run("project_create", "--slug", "x", "--name", "X", "--organization", "nope", "--owner", "alice@example.com")


@pytest.mark.django_db
def test_it_refuses_an_owner_from_another_organization(cast) -> None:
    with pytest.raises(CommandError):
        run(
            "project_create",
            "--slug",
            "x",
            "--name",
            "X",
            "--organization",
            "acme-org",
            "--owner",
            "mallory@example.com",
        )

    assert not Project.objects.filter(slug="x").exists()


@pytest.mark.django_db
def test_it_says_the_admin_was_created_with_the_given_password(fresh_install, monkeypatch) -> None:
    monkeypatch.setenv("STRONGROOM_ADMIN_PASSWORD", "a-long-operator-chosen-passphrase")

    output = run("bootstrap", "--admin-email", "ops@example.com")
    again = run("bootstrap", "--admin-email", "ops@example.com")

    assert "First admin created" in output and "STRONGROOM_ADMIN_PASSWORD" in output
    assert "already exists" not in output
    assert "a-long-operator-chosen-passphrase" not in output
    assert get_user_model().objects.get(email="ops@example.com").check_password("a-long-operator-chosen-passphrase")
    assert "already exists (password unchanged)" in again
