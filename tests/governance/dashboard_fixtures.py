"""The dashboard tests' known history, written straight into the governance tables (the figures
the refresh would compute are asserted by the engine's own tests; here: what the dashboard shows).

acme (alice admin, bob member, dave viewer):
  prod  /         DATABASE_URL  changed 10 days ago, delivered to ci-deployer (identity), stale, same value (staging)
  prod  /         API_TOKEN     changed 400 days ago, never delivered, rotation overdue, owner missing
  prod  /backend  CACHE_URL     changed 100 days ago, delivered to bob and ci-deployer, leaked
  staging /       DATABASE_URL  changed 45 days ago, same value (prod), revealed recently
  dev   /         DEV_ONLY      changed 200 days ago, never delivered
Reads (DeliveryDay): ci-deployer 3 events/day in prod on each of the last 5 days; bob 2 events in
staging yesterday. Snapshots: the organization's and acme's, 7 days ago (4 secrets, stale 0) and 3
days ago (5 secrets, stale 1).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from governance.models import DeliveryDay, GovernanceSnapshot, SecretDelivery, SecretRisk
from secrets_app.models import Environment, MachineIdentity
from secrets_app.services.folders import folder_ensure
from secrets_app.services.secrets import SecretInput, secret_create

VALUES = ["prod-db-value-a1b2", "api-token-value-c3d4", "cache-url-value-e5f6", "dev-only-value-g7h8"]


@dataclass
class History:
    cast: Any
    now: datetime.datetime
    secrets: dict[str, Any]
    identity: Any


def _snapshot(org_id: int, project: Any, day: datetime.date, secrets: int, stale: int, leaks: int) -> None:
    figures = {
        "secrets": secrets,
        "identities": 1,
        "people": 3,
        "syncs": {"total": 0, "healthy": 0, "failing": 0},
        "dynamic_secrets": 0,
        "leases": {"live": 0, "irrevocable": 0},
        "rotations": {"total": 0, "ok": 0, "failing": 0, "overdue": 0},
        "approvals_pending": 0,
        "leak_flags": leaks,
        "quarantined": 0,
        "flags": {"stale": stale, "never_delivered": 2, "leaked": leaks},
    }
    GovernanceSnapshot.objects.create(
        organization_id=org_id, project=project, day=day, figures=figures, computed_at=timezone.now()
    )


def build_history(cast: Any) -> History:
    now = timezone.now()
    scope = cast.scope(cast.alice)
    org_id = cast.organization.pk
    identity = MachineIdentity.objects.create(organization=cast.organization, name="ci-deployer")
    made: dict[str, Any] = {}

    def put(env: str, path: str, key: str, value: str) -> Any:
        if path != "/":
            folder_ensure(scope=scope, environment=env, path=path)
        secret = secret_create(scope=scope, environment=env, path=path, item=SecretInput(key=key, value=value))
        made[f"{env}:{key}"] = secret
        return secret

    put("prod", "/", "DATABASE_URL", VALUES[0])
    put("prod", "/", "API_TOKEN", VALUES[1])
    put("prod", "/backend", "CACHE_URL", VALUES[2])
    put("staging", "/", "DATABASE_URL", VALUES[0])
    put("dev", "/", "DEV_ONLY", VALUES[3])
    envs = {e.slug: e for e in Environment.objects.filter(project=cast.project)}

    def risk(name: str, *, days_old: int, path: str = "/", **fields: Any) -> None:
        secret = made[name]
        env = name.split(":")[0]
        flags = [k for k, v in fields.items() if v is True]
        SecretRisk.objects.create(
            secret=secret,
            organization_id=org_id,
            project=cast.project,
            environment=envs[env],
            path=path,
            key=secret.key,
            version=1,
            created_at=now - datetime.timedelta(days=days_old),
            changed_at=now - datetime.timedelta(days=days_old),
            score=len(flags) * 10,
            computed_at=now,
            **fields,
        )

    risk(
        "prod:DATABASE_URL",
        days_old=10,
        stale=True,
        same_value=True,
        same_value_in=["staging"],
        consumers=1,
        last_delivered_at=now - datetime.timedelta(days=1),
        last_delivered_to="ci-deployer",
        owner_label="alice@example.com",
    )
    risk("prod:API_TOKEN", days_old=400, never_delivered=True, rotation_overdue=True, owner_missing=True)
    risk(
        "prod:CACHE_URL",
        days_old=100,
        path="/backend",
        leaked=True,
        consumers=2,
        last_delivered_at=now - datetime.timedelta(hours=2),
        last_delivered_to="bob@example.com",
    )
    risk(
        "staging:DATABASE_URL",
        days_old=45,
        same_value=True,
        same_value_in=["prod"],
        revealed_recently=True,
        last_revealed_at=now - datetime.timedelta(days=1),
        last_revealed_by="bob@example.com",
    )
    risk("dev:DEV_ONLY", days_old=200, never_delivered=True)

    def delivered(name: str, kind: str, consumer_id: int, label: str, count: int, ago: datetime.timedelta) -> None:
        secret = made[name]
        SecretDelivery.objects.create(
            secret=secret,
            project=cast.project,
            consumer_kind=kind,
            consumer_id=consumer_id,
            consumer_label=label,
            first_delivered_at=now - datetime.timedelta(days=20),
            last_delivered_at=now - ago,
            deliveries=count,
            last_source_ip="10.0.0.7" if kind == "identity" else "192.0.2.5",
            last_user_agent="strongroom-cli/1.0" if kind == "identity" else "Mozilla/5.0",
            last_pipeline="acme-ado/proj-1/42#1001" if kind == "identity" else "",
        )

    delivered("prod:DATABASE_URL", "identity", identity.pk, "ci-deployer", 15, datetime.timedelta(days=1))
    delivered("prod:CACHE_URL", "identity", identity.pk, "ci-deployer", 15, datetime.timedelta(days=1))
    delivered("prod:CACHE_URL", "user", cast.bob.pk, "bob@example.com", 2, datetime.timedelta(hours=2))

    today = now.date()
    for back in range(5):
        DeliveryDay.objects.create(
            organization_id=org_id,
            project=cast.project,
            environment="prod",
            day=today - datetime.timedelta(days=back),
            consumer_kind="identity",
            consumer_id=identity.pk,
            consumer_label="ci-deployer",
            events=3,
            keys=6,
        )
    DeliveryDay.objects.create(
        organization_id=org_id,
        project=cast.project,
        environment="staging",
        day=today - datetime.timedelta(days=1),
        consumer_kind="user",
        consumer_id=cast.bob.pk,
        consumer_label="bob@example.com",
        events=2,
        keys=1,
    )
    for project in (None, cast.project):
        _snapshot(org_id, project, today - datetime.timedelta(days=7), secrets=4, stale=0, leaks=0)
        _snapshot(org_id, project, today - datetime.timedelta(days=3), secrets=5, stale=1, leaks=1)
    return History(cast=cast, now=now, secrets=made, identity=identity)
