"""The governance engine (deliveries, risk, snapshots) on a known history: secrets written, read by
two identities and people through the real API over simulated days, revealed, leaked, rotated,
quarantined; then every figure and flag the dashboard shows is asserted."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from rest_framework.test import APIClient

from tests.identities.universal_support import bearer, login, make_robot

# Tomorrow noon: after the cast's own events (written at the real time), as history is in production.
NOW = datetime.datetime.combine(
    datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1), datetime.time(12), tzinfo=datetime.UTC
)
D0 = NOW - datetime.timedelta(days=120)  # secrets written
D10 = NOW - datetime.timedelta(days=110)  # the pipeline reads prod (stale by now: 90 days)
D115 = NOW - datetime.timedelta(days=5)  # the app reads dev twice
D118 = NOW - datetime.timedelta(days=2)  # bob reveals prod DB_PASSWORD and lists dev
TODAY = NOW - datetime.timedelta(hours=1)  # bob lists staging
PIPELINE = "contoso/5f0c0e52-prj/12#345"
V3 = "/compat/infisical/api/v3/secrets/raw"


@dataclass
class History:
    cast: Any
    ci: Any  # identity reading prod from an Azure DevOps run
    app: Any  # identity reading dev
    ids: dict[str, int] = field(default_factory=dict)  # "env:KEY" -> secret id


def _identity_list(robot: Any, environment: str, *, ip: str, agent: str, ado: bool = False) -> None:
    from dynamic.models import AdoRunToken
    from secrets_app.models import IdentityAccessToken

    token = login(robot, ip=ip).json()["accessToken"]
    if ado:
        row = IdentityAccessToken.objects.filter(identity=robot.identity).latest("id")
        AdoRunToken.objects.create(
            access_token=row,
            issuer="https://vstoken.dev.azure.com/acct",
            org_name="contoso",
            account_id="acct",
            project_id="5f0c0e52-prj",
            definition_id="12",
            build_id=345,
        )
    response = bearer(token).get(
        f"{V3}?workspaceSlug=acme&environment={environment}&secretPath=/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent
    )
    assert response.status_code == 200, response.content


def _person(token_for: Any, user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


@pytest.fixture
def history(cast: Any, token_for: Any, settings: Any) -> History:
    from audit.services import audit_record
    from governance.models import GovernancePolicy, LeakFlag
    from rotation.models import Rotation
    from secrets_app.models import Folder, Secret
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope_for
    from secrets_app.services.folders import folder_create
    from secrets_app.services.rotation_policies import secret_rotation_policy_set
    from secrets_app.services.secrets import SecretInput, secret_create, secret_update

    settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = 0
    alice = cast.scope(cast.alice)
    with time_machine.travel(D0, tick=False):
        ci = make_robot(cast, role="member")
        app = make_robot(cast, role="member")
        for env, values in {
            "dev": {"DB_PASSWORD": "same-in-both", "API_KEY": "dev-key"},
            "prod": {"DB_PASSWORD": "same-in-both", "API_KEY": "prod-key", "ROTATED_PW": "pw-1"},
            "staging": {"CLEAN": "fine"},
        }.items():
            for key, value in values.items():
                secret_create(scope=alice, environment=env, path="/", item=SecretInput(key=key, value=value))
        for key, days in (("EXPIRING", 5), ("EXPIRED", -1)):
            expiry = NOW + datetime.timedelta(days=days)
            secret_create(
                scope=alice, environment="prod", path="/", item=SecretInput(key=key, value="x", expires_at=expiry)
            )
        for env, key in (("dev", "LEGACY"), ("prod", "OLD_TOKEN")):
            folder_create(scope=alice, environment=env, path="/", name="legacy")
            secret_create(scope=alice, environment=env, path="/legacy", item=SecretInput(key=key, value="old"))
        secret_rotation_policy_set(
            scope=alice, environment="prod", path="/", key="API_KEY", interval_days=30, owner_id=cast.bob.pk
        )
    with time_machine.travel(D10, tick=False):
        _identity_list(ci, "prod", ip="10.0.0.7", agent="azure-pipelines/3.0", ado=True)
        robot = project_scope_for(Principal.for_identity(ci.identity), cast.project)
        secret_create(scope=robot, environment="dev", path="/", item=SecretInput(key="BOT_MADE", value="b"))
        # Names only, and a refused read: neither delivers a value.
        assert _person(token_for, cast.alice).get("/api/v1/projects/acme/secrets/?environment=prod").status_code == 200
        refused = _person(token_for, cast.dave).get(
            "/api/v1/projects/acme/secrets/?environment=prod&include_values=true"
        )
        assert refused.status_code == 403
    ids = {
        f"{env}:{key}": pk
        for env, key, pk in Secret.objects.filter(project=cast.project).values_list("environment__slug", "key", "pk")
    }
    with time_machine.travel(D10, tick=False), transaction.atomic():
        # A read refused after the secret was found (as a quarantined secret's single get is) names it.
        audit_record(
            action="secret.value_read",
            outcome="deny",
            actor=Principal.for_user(cast.dave).audit_actor(),
            organization_id=cast.organization.pk,
            project_id=cast.project.pk,
            environment="prod",
            metadata={"ids": [ids["prod:OLD_TOKEN"]], "count": 1},
        )
    with time_machine.travel(D115, tick=False) as clock:
        _identity_list(app, "dev", ip="10.0.0.8", agent="app/1.0")
        clock.shift(datetime.timedelta(hours=1))
        _identity_list(app, "dev", ip="10.0.0.18", agent="app/1.1")
    with time_machine.travel(D118, tick=False):
        bob = _person(token_for, cast.bob)
        reveal = bob.get("/api/v1/projects/acme/secrets/DB_PASSWORD/?environment=prod", REMOTE_ADDR="10.0.0.9")
        assert reveal.status_code == 200 and reveal.json()["value"] == "same-in-both"
        listed = bob.get("/api/v1/projects/acme/secrets/?environment=dev&include_values=true", REMOTE_ADDR="10.0.0.9")
        assert listed.status_code == 200 and len(listed.json()["secrets"]) == 3
    with time_machine.travel(TODAY, tick=False):
        response = _person(token_for, cast.bob).get(
            "/api/v1/projects/acme/secrets/?environment=staging&include_values=true"
        )
        assert response.status_code == 200
    with time_machine.travel(NOW - datetime.timedelta(days=10), tick=False):
        # A leak on dev API_KEY ends with its next version; the one on OLD_TOKEN stands.
        for name in ("dev:API_KEY", "prod:OLD_TOKEN"):
            secret = Secret.objects.get(pk=ids[name])
            LeakFlag.objects.create(
                secret=secret, project=cast.project, reason="pasted in a ticket", flagged_version=secret.version
            )
        secret_update(
            scope=alice, environment="dev", path="/", key="API_KEY", item=SecretInput(key="API_KEY", value="k2")
        )
    Secret.objects.filter(pk=ids["dev:LEGACY"]).update(quarantined_at=NOW - datetime.timedelta(days=1))
    prod_root = Folder.objects.get(environment__project=cast.project, environment__slug="prod", path="/")
    Rotation.objects.create(
        project=cast.project,
        environment=prod_root.environment,
        folder=prod_root,
        name="db",
        kind="postgresql",
        credentials_ciphertext=b"sealed",
        usernames=["app_a", "app_b"],
        secrets_mapping={"username": "ROTATED_USER", "password": "ROTATED_PW"},
        status="failed",
    )
    GovernancePolicy.objects.create(project=cast.project, max_consumers=1)
    cast.bob.is_active = False
    cast.bob.save(update_fields=["is_active"])
    return History(cast, ci, app, ids)


def _refresh_all() -> None:
    with time_machine.travel(NOW, tick=False):
        call_command("governance_refresh", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_it_records_each_delivery_per_consumer_with_address_and_pipeline(
    history: History, token_for: Any, settings: Any
) -> None:
    from governance.models import DeliveryDay, SecretDelivery
    from governance.services.deliveries import deliveries_refresh

    cast, ids = history.cast, history.ids
    with time_machine.travel(NOW, tick=False):
        consumed = deliveries_refresh()
        assert consumed == 6  # the listing and the refused read are not read events that delivered
        assert deliveries_refresh() == 0  # the cursor: nothing counts twice

    name_of = {pk: name for name, pk in ids.items()}
    rows = {
        (name_of[row.secret_id], row.consumer_label): row for row in SecretDelivery.objects.filter(project=cast.project)
    }
    ci, app, bob = history.ci.identity.name, history.app.identity.name, "bob@example.com"
    expected = {
        *{(f"prod:{key}", ci) for key in ("DB_PASSWORD", "API_KEY", "ROTATED_PW", "EXPIRING", "EXPIRED")},
        *{(f"dev:{key}", app) for key in ("DB_PASSWORD", "API_KEY", "BOT_MADE")},
        *{(f"dev:{key}", bob) for key in ("DB_PASSWORD", "API_KEY", "BOT_MADE")},
        ("prod:DB_PASSWORD", bob),
        ("staging:CLEAN", bob),
    }
    assert set(rows) == expected
    pipeline_read = rows[("prod:API_KEY", ci)]
    assert (pipeline_read.consumer_kind, pipeline_read.consumer_id) == ("identity", history.ci.identity.pk)
    assert (pipeline_read.deliveries, pipeline_read.first_delivered_at, pipeline_read.last_delivered_at) == (
        1,
        D10,
        D10,
    )
    assert (pipeline_read.last_source_ip, pipeline_read.last_user_agent) == ("10.0.0.7", "azure-pipelines/3.0")
    assert pipeline_read.last_pipeline == PIPELINE and pipeline_read.last_revealed_at is None
    twice = rows[("dev:API_KEY", app)]
    assert (twice.deliveries, twice.first_delivered_at, twice.last_delivered_at) == (
        2,
        D115,
        D115 + datetime.timedelta(hours=1),
    )
    assert (twice.last_source_ip, twice.last_user_agent, twice.last_pipeline) == ("10.0.0.18", "app/1.1", "")
    reveal = rows[("prod:DB_PASSWORD", bob)]
    assert (reveal.consumer_kind, reveal.consumer_id, reveal.deliveries) == ("user", cast.bob.pk, 1)
    assert reveal.last_revealed_at == D118 and reveal.last_source_ip == "10.0.0.9"
    assert rows[("dev:DB_PASSWORD", bob)].last_revealed_at is None  # a list is not a reveal

    days = {
        (row.environment, row.day, row.consumer_label): (row.events, row.keys)
        for row in DeliveryDay.objects.filter(project=cast.project)
    }
    assert days == {
        ("prod", D10.date(), ci): (1, 5),
        ("dev", D115.date(), app): (2, 6),
        ("prod", D118.date(), bob): (1, 1),
        ("dev", D118.date(), bob): (1, 3),
        ("staging", TODAY.date(), bob): (1, 1),
    }
    assert set(DeliveryDay.objects.values_list("organization_id", flat=True)) == {cast.organization.pk}

    # A later read adds to the same rows (and only it).
    with time_machine.travel(NOW, tick=False):
        _identity_list(history.app, "dev", ip="10.0.0.28", agent="app/1.2")
        assert deliveries_refresh() == 1
    again = SecretDelivery.objects.get(secret_id=ids["dev:API_KEY"], consumer_label=app)
    assert (again.deliveries, again.last_delivered_at, again.last_source_ip) == (3, NOW, "10.0.0.28")
    today = DeliveryDay.objects.get(project=cast.project, environment="dev", day=NOW.date(), consumer_label=app)
    assert (today.events, today.keys) == (1, 3)
    assert SecretDelivery.objects.filter(project=cast.project).count() == len(expected)

    # The cursor never passes an event younger than the seal delay, even for an older one after it
    # (written by a server whose clock is behind).
    settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = 10
    later = NOW + datetime.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        _identity_list(history.app, "dev", ip="10.0.0.38", agent="app/1.3")
    with time_machine.travel(later - datetime.timedelta(seconds=30), tick=False):
        response = _person(token_for, cast.alice).get(
            "/api/v1/projects/acme/secrets/?environment=staging&include_values=true"
        )
        assert response.status_code == 200
    with time_machine.travel(later + datetime.timedelta(seconds=5), tick=False):
        assert deliveries_refresh() == 0
    with time_machine.travel(later + datetime.timedelta(seconds=15), tick=False):
        assert deliveries_refresh() == 2
    assert (
        SecretDelivery.objects.get(secret_id=ids["staging:CLEAN"], consumer_label="alice@example.com").deliveries == 1
    )
    assert SecretDelivery.objects.get(secret_id=ids["dev:API_KEY"], consumer_label=app).deliveries == 4


def test_it_flags_each_secret_with_exactly_its_risks(history: History) -> None:
    from governance.models import SecretRisk
    from governance.services.risk import FLAGS, WEIGHTS

    cast, ids = history.cast, history.ids
    _refresh_all()
    name_of = {pk: name for name, pk in ids.items()}
    risks = {name_of[row.secret_id]: row for row in SecretRisk.objects.filter(project=cast.project)}
    flagged = {name: {flag for flag in FLAGS if getattr(row, flag)} for name, row in risks.items()}
    assert flagged == {
        "dev:DB_PASSWORD": {"same_value", "over_shared"},
        "dev:API_KEY": {"over_shared"},  # its leak flag ended with the new version
        "dev:BOT_MADE": {"over_shared", "owner_missing"},  # written by an identity: nobody owns it
        "dev:LEGACY": {"never_delivered", "quarantined"},
        "prod:DB_PASSWORD": {"same_value", "over_shared", "revealed_recently"},
        "prod:API_KEY": {"stale", "rotation_overdue", "owner_deactivated"},
        "prod:ROTATED_PW": {"stale", "rotation_overdue"},  # its rotation failed
        "prod:EXPIRING": {"stale", "expiring"},
        "prod:EXPIRED": {"stale", "expired"},
        "prod:OLD_TOKEN": {"never_delivered", "leaked"},
        "staging:CLEAN": set(),
    }
    for name, row in risks.items():
        assert row.score == sum(WEIGHTS[flag] for flag in flagged[name]), name
    assert risks["staging:CLEAN"].score == 0

    db = risks["prod:DB_PASSWORD"]
    assert db.same_value_in == ["dev"] and risks["dev:DB_PASSWORD"].same_value_in == ["prod"]
    assert (db.last_revealed_at, db.last_revealed_by) == (D118, "bob@example.com")
    assert (db.last_delivered_at, db.last_delivered_to, db.consumers) == (D118, "bob@example.com", 2)
    assert (db.path, db.key, db.version, db.changed_at, db.created_at) == ("/", "DB_PASSWORD", 1, D0, D0)
    assert (db.owner_id, db.owner_label) == (cast.alice.pk, "alice@example.com")
    api = risks["prod:API_KEY"]
    assert (api.owner_id, api.owner_label) == (cast.bob.pk, "bob@example.com")
    assert api.rotation_due_at == D0 + datetime.timedelta(days=30)
    assert (api.last_delivered_at, api.last_delivered_to, api.consumers) == (D10, history.ci.identity.name, 1)
    dev_api = risks["dev:API_KEY"]
    assert dev_api.version == 2 and dev_api.changed_at == NOW - datetime.timedelta(days=10)
    assert risks["dev:LEGACY"].path == "/legacy" and risks["dev:LEGACY"].quarantined_at is not None
    assert risks["dev:LEGACY"].last_delivered_at is None and risks["dev:LEGACY"].consumers == 0
    assert risks["prod:EXPIRED"].expires_at == NOW - datetime.timedelta(days=1)
    assert risks["dev:BOT_MADE"].owner_id is None and risks["dev:BOT_MADE"].owner_label == ""
    assert {row.organization_id for row in risks.values()} == {cast.organization.pk}
    assert {risks[name].environment.slug for name in risks} == {"dev", "prod", "staging"}

    # A deleted secret loses its row; a tighter policy moves the flags on the next refresh.
    from governance.models import GovernancePolicy
    from secrets_app.services.secrets import secret_delete

    secret_delete(scope=cast.scope(cast.alice), environment="prod", path="/", key="EXPIRING")
    GovernancePolicy.objects.filter(project=cast.project).update(max_consumers=5, stale_after_days=200)
    _refresh_all()
    assert not SecretRisk.objects.filter(secret_id=ids["prod:EXPIRING"]).exists()
    assert not SecretRisk.objects.filter(project=cast.project, over_shared=True).exists()
    assert not SecretRisk.objects.filter(project=cast.project, stale=True).exists()
    assert SecretRisk.objects.filter(project=cast.project).count() == 10


def _operations(cast: Any) -> None:
    """Syncs (one healthy, one failed, one retrying), a dynamic secret with a live, an irrevocable
    and a revoked lease, an overdue rotation, and an open change request, a pending and a decided
    access request."""
    from approvals.models import AccessRequest, ChangeRequest
    from dynamic.models import DynamicSecret, Lease
    from rotation.models import Rotation
    from secrets_app.models import Folder
    from syncs.models import AppConnection, SecretSync

    root = Folder.objects.get(environment__project=cast.project, environment__slug="dev", path="/")
    dev = root.environment
    connection = AppConnection.objects.create(
        organization=cast.organization, kind="azure_devops", method="pat", name="ado", credentials_ciphertext=b"x"
    )
    for name, status, attempts in (("ok", "succeeded", 0), ("broken", "failed", 3), ("again", "queued", 2)):
        SecretSync.objects.create(
            project=cast.project,
            environment=dev,
            name=name,
            connection=connection,
            target_key=f"ado:{name}",
            owner=cast.alice,
            status=status,
            attempts=attempts,
        )
    dynamic = DynamicSecret.objects.create(
        project=cast.project,
        environment=dev,
        folder=root,
        name="db",
        provider="postgresql",
        credentials_ciphertext=b"x",
        default_ttl=3600,
    )
    for status in ("active", "irrevocable", "revoked"):
        Lease.objects.create(
            dynamic_secret=dynamic,
            project=cast.project,
            organization_id_snapshot=cast.organization.pk,
            project_id_snapshot=cast.project.pk,
            environment_slug="dev",
            path="/",
            dynamic_secret_name="db",
            dynamic_secret_public_id=dynamic.public_id,
            provider="postgresql",
            credentials_ciphertext=b"x",
            username=f"u_{status}",
            status=status,
            expire_at=NOW + datetime.timedelta(hours=1),
            actor_type="user",
            actor_id=str(cast.alice.pk),
            actor_label="alice@example.com",
        )
    Rotation.objects.create(
        project=cast.project,
        environment=dev,
        folder=root,
        name="late",
        kind="postgresql",
        credentials_ciphertext=b"x",
        status="success",
        next_run_at=NOW - datetime.timedelta(hours=2),
    )
    ChangeRequest.objects.create(
        project=cast.project,
        environment=dev,
        path="/",
        operation="secret.updated",
        committer_label="erin@example.com",
        expires_at=NOW + datetime.timedelta(days=1),
    )
    for status in ("pending", "rejected"):
        AccessRequest.objects.create(
            project=cast.project,
            requester=cast.charlie,
            environment=dev,
            path="/**",
            access=["read"],
            duration_minutes=60,
            reason="audit",
            status=status,
            expires_at=NOW + datetime.timedelta(days=1),
        )


def test_it_snapshots_the_days_figures_and_keeps_yesterdays(history: History) -> None:
    from governance.models import GovernanceSnapshot
    from governance.services.snapshots import snapshots_refresh

    cast = history.cast
    from secrets_app.models import Group, GroupMembership, GroupProjectMembership

    with time_machine.travel(NOW - datetime.timedelta(days=1), tick=False):
        snapshots_refresh()  # before the engine saw anything: no flags yet
    # charlie reaches the project through a group; dave, a member already, counts once.
    group = Group.objects.create(organization=cast.organization, slug="auditors", name="Auditors")
    GroupMembership.objects.bulk_create([GroupMembership(group=group, user=u) for u in (cast.charlie, cast.dave)])
    GroupProjectMembership.objects.create(project=cast.project, group=group, builtin_role="viewer")
    _operations(cast)
    _refresh_all()
    _refresh_all()  # the same day again: overwritten, not added
    rows = GovernanceSnapshot.objects.filter(organization_id=cast.organization.pk)
    assert rows.filter(project__isnull=True).count() == 2 and rows.filter(project=cast.project).count() == 2
    today = rows.get(project=cast.project, day=NOW.date()).figures
    assert today == {
        "secrets": 11,
        "environments": {"dev": 4, "prod": 6, "staging": 1},
        "identities": 2,
        "people": 4,  # alice, dave, erin and charlie (his group); bob was deactivated
        "syncs": {"total": 3, "healthy": 1, "failing": 2},
        "dynamic_secrets": 1,
        "leases": {"live": 2, "irrevocable": 1},
        "rotations": {"total": 2, "ok": 0, "failing": 1, "overdue": 1},
        "approvals_pending": 2,
        "leak_flags": 1,
        "quarantined": 1,
        "flags": {
            "leaked": 1,
            "expired": 1,
            "rotation_overdue": 2,
            "same_value": 2,
            "over_shared": 4,
            "owner_deactivated": 1,
            "owner_missing": 1,
            "revealed_recently": 1,
            "expiring": 1,
            "quarantined": 1,
            "stale": 4,
            "never_delivered": 2,
        },
        "at_risk": 10,
        "deliveries": {"events": 1, "keys": 1},
    }
    organization = rows.get(project__isnull=True, day=NOW.date()).figures
    assert organization["projects"] == {"acme": 11}
    assert organization["people"] == 4  # the organization's active members: alice, charlie, dave, erin
    assert organization["identities"] == 2 and organization["flags"] == today["flags"]
    yesterday = rows.get(project=cast.project, day=(NOW - datetime.timedelta(days=1)).date()).figures
    assert yesterday["secrets"] == 11 and yesterday["flags"]["stale"] == 0  # the trend's first point
    other = GovernanceSnapshot.objects.get(
        organization_id=cast.other_project.organization_id, project__isnull=True, day=NOW.date()
    )
    assert other.figures["secrets"] == 0 and other.figures["projects"] == {"evil": 0}


def test_it_runs_the_engine_on_beat_and_from_the_command_line(cast: Any, settings: Any) -> None:
    from django.core.management.base import CommandError

    from config.celery import app
    from governance import tasks
    from governance.models import GovernanceSnapshot, SecretRisk
    from secrets_app.services.secrets import SecretInput, secret_create

    schedule = {name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    assert schedule["governance-deliveries"] == tasks.deliveries_refresh_task.name
    assert schedule["governance-risk"] == tasks.risk_refresh_task.name
    assert schedule["governance-snapshots"] == tasks.snapshots_refresh_task.name
    assert {tasks.deliveries_refresh_task.name, tasks.risk_refresh_task.name} <= set(app.tasks)
    secret_create(scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="A", value="1"))
    assert tasks.deliveries_refresh_task.apply().get() == 0  # nothing read yet
    assert tasks.risk_refresh_task.apply().get() == 1
    assert tasks.snapshots_refresh_task.apply().get() == 4  # two organizations, two projects
    assert SecretRisk.objects.get(key="A").never_delivered
    assert GovernanceSnapshot.objects.filter(project=cast.project).count() == 1
    with pytest.raises(CommandError, match="no organization with the slug 'nope'"):
        call_command("governance_refresh", organization="nope")
