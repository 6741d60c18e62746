"""/metrics: refused without the operator's token, counts requests per route family (latency and
SQL statements), shows lagging queues, and never shows a secret's name or value."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import BASE, login, make_machine

TOKEN = "metrics-scrape-token-0123456789abcdef"
SECRET_NAME = "PAYMENTS_API_KEY_7f3a"
SECRET_VALUE = "sk_live_do-not-leak-91c2e0"


@pytest.fixture
def metrics_on(settings: Any) -> str:
    settings.STRONGROOM_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client | None = None) -> str:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


def test_it_answers_404_while_no_metrics_token_is_configured(db: None, settings: Any) -> None:
    settings.STRONGROOM_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything-at-all-here").status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "", f"Basic {TOKEN}", "Bearer ", "Bearer wrong-token-0123456789abcdef", f"Bearer {TOKEN[:-1]}", TOKEN],
)
def test_it_refuses_a_scrape_without_the_right_bearer_token(db: None, metrics_on: str, header: str | None) -> None:
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"strongroom_" not in response.content


def test_it_refuses_writes_to_the_metrics_route(db: None, metrics_on: str) -> None:
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


@pytest.fixture
def reader(cast: Any) -> str:
    secret_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        item=SecretInput(key=SECRET_NAME, value=SECRET_VALUE),
    )
    return login(Client(), make_machine(cast.project, "ci-reader", "member"))


def test_it_counts_a_compat_get_one_in_its_family_latency_and_statement_histograms(
    metrics_on: str, reader: str
) -> None:
    labels = {"family": "compat_secrets", "method": "GET"}
    before = scrape()
    client = Client()
    statements_sent: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements_sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(
            f"{BASE}/api/v3/secrets/raw/{SECRET_NAME}?workspaceSlug=acme&environment=dev",
            HTTP_AUTHORIZATION=f"Bearer {reader}",
        )
    assert response.status_code == 200, response.content
    after = scrape()

    count = "strongroom_http_request_duration_seconds_count"
    assert sample(after, count, **labels) - sample(before, count, **labels) == 1
    assert sample(after, "strongroom_http_request_duration_seconds_sum", **labels) > sample(
        before, "strongroom_http_request_duration_seconds_sum", **labels
    )
    statements = "strongroom_http_request_sql_statements"
    assert (
        sample(after, f"{statements}_count", family="compat_secrets")
        - sample(before, f"{statements}_count", family="compat_secrets")
        == 1
    )
    # Exactly the statements Django sent for that request, as a reader of the histogram would expect.
    sent = sample(after, f"{statements}_sum", family="compat_secrets") - sample(
        before, f"{statements}_sum", family="compat_secrets"
    )
    assert sent == len(statements_sent) > 0
    responses = "strongroom_http_responses_total"
    assert (
        sample(after, responses, family="compat_secrets", status="2xx")
        - sample(before, responses, family="compat_secrets", status="2xx")
        == 1
    )


def test_it_never_shows_a_secret_name_value_project_or_token_in_the_scrape(metrics_on: str, reader: str) -> None:
    client = Client()
    client.get(
        f"{BASE}/api/v3/secrets/raw/{SECRET_NAME}?workspaceSlug=acme&environment=dev",
        HTTP_AUTHORIZATION=f"Bearer {reader}",
    )
    client.get(f"/api/v1/projects/acme/secrets/{SECRET_NAME}/?environment=dev", HTTP_AUTHORIZATION=f"Bearer {reader}")
    client.get(f"/no/such/route/{SECRET_NAME}")
    body = scrape()
    for leaked in (SECRET_NAME, SECRET_VALUE, "acme", reader, TOKEN, "/compat/", "/api/v1/"):
        assert leaked not in body
    families = {
        found.labels["family"]
        for family in text_string_to_metric_families(body)
        for found in family.samples
        if "family" in found.labels
    }
    assert {"compat_auth", "compat_secrets", "api_v1_secrets", "unmatched", "metrics"} <= families


def test_it_shows_an_overdue_lease_revocation_in_its_gauge(metrics_on: str, cast: Any) -> None:
    from dynamic.models import Lease, LeaseStatus

    assert sample(scrape(), "strongroom_lease_revocations_pending") == 0
    now = timezone.now()
    fields = {
        "organization_id_snapshot": cast.organization.pk,
        "project_id_snapshot": cast.project.pk,
        "project": cast.project,
        "environment_slug": "dev",
        "path": "/",
        "dynamic_secret_name": "orders-db-readonly",
        "dynamic_secret_public_id": uuid.uuid4(),
        "provider": "postgresql",
        "credentials_ciphertext": b"sealed",
        "actor_type": "identity",
        "actor_id": "1",
        "actor_label": "ci",
    }
    Lease.objects.create(**fields, username="v_overdue", expire_at=now - datetime.timedelta(minutes=10))
    Lease.objects.create(**fields, username="v_live", expire_at=now + datetime.timedelta(hours=1))
    Lease.objects.create(
        **fields, username="v_done", status=LeaseStatus.REVOKED, expire_at=now - datetime.timedelta(hours=2)
    )

    body = scrape()
    assert sample(body, "strongroom_lease_revocations_pending") == 1
    assert 600 <= sample(body, "strongroom_lease_revocation_lag_seconds") < 700
    assert sample(body, "strongroom_queue_scrape_errors", queue="leases") == 0
    assert "orders-db-readonly" not in body and "v_overdue" not in body


def test_it_shows_a_sync_waiting_for_a_worker_in_its_gauge(metrics_on: str, cast: Any) -> None:
    from syncs.models import AppConnection, SecretSync, SyncStatus

    assert sample(scrape(), "strongroom_sync_queue_depth") == 0
    connection_row = AppConnection.objects.create(
        organization=cast.organization, kind="azure_devops", method="pat", name="ado", credentials_ciphertext=b"x"
    )
    now = timezone.now()
    common = {
        "project": cast.project,
        "environment": cast.project.environments.get(slug="dev"),
        "connection": connection_row,
        "owner": cast.alice,
    }
    SecretSync.objects.create(
        **common,
        name="stuck-sync",
        target_key="a",
        status=SyncStatus.QUEUED,
        queued_at=now - datetime.timedelta(minutes=5),
    )
    # A retry scheduled for later is not late yet.
    SecretSync.objects.create(
        **common,
        name="retry-later",
        target_key="b",
        status=SyncStatus.QUEUED,
        queued_at=now - datetime.timedelta(hours=1),
        next_attempt_at=now + datetime.timedelta(minutes=5),
    )

    body = scrape()
    assert sample(body, "strongroom_sync_queue_depth") == 1
    assert 300 <= sample(body, "strongroom_sync_queue_lag_seconds") < 400
    assert "stuck-sync" not in body


def test_it_shows_audit_events_waiting_to_be_sealed(metrics_on: str, cast: Any) -> None:
    from audit.sealing import audit_seal_pending

    audit_seal_pending(delay_seconds=0)
    assert sample(scrape(), "strongroom_audit_unsealed_lag_seconds") == 0
    from audit.models import AuditEvent

    AuditEvent.objects.create(
        occurred_at=timezone.now() - datetime.timedelta(minutes=2), action="secret.created", actor_type="system"
    )
    assert sample(scrape(), "strongroom_audit_unsealed_lag_seconds") >= 120


def test_it_shows_an_undelivered_notification_but_not_a_digest_that_waits_on_purpose(
    metrics_on: str, cast: Any
) -> None:
    from notifications.models import Delivery, DeliveryStatus, Notification

    notification = Notification.objects.create(
        organization=cast.organization, event_kind="secret.rotation_due", subject_ref="secret:1", title="Rotate it"
    )
    waiting = Delivery.objects.create(notification=notification, recipient_label="ops@example.com")
    digest = Delivery.objects.create(notification=notification, recipient_label="team@example.com", digest=True)
    Delivery.objects.create(notification=notification, recipient_label="done@example.com", status=DeliveryStatus.SENT)
    three_minutes_ago = timezone.now() - datetime.timedelta(minutes=3)
    Delivery.objects.filter(pk__in=[waiting.pk, digest.pk]).update(created_at=three_minutes_ago)

    body = scrape()
    assert sample(body, "strongroom_notification_deliveries_pending") == 1
    assert 180 <= sample(body, "strongroom_notification_delivery_lag_seconds") < 280
    assert "ops@example.com" not in body


def test_it_shows_how_far_an_audit_stream_kind_is_behind(metrics_on: str, cast: Any) -> None:
    from audit.models import AuditEvent
    from audit.streams.models import AuditStream

    newest = (
        AuditEvent.objects.filter(organization_id=cast.organization.pk).order_by("-id").values_list("id", flat=True)
    )
    AuditStream.objects.create(
        organization=cast.organization, kind="webhook", name="siem-prod", cursor_event_id=newest[0]
    )
    assert sample(scrape(), "strongroom_audit_stream_lag_seconds", kind="webhook") == 0

    AuditEvent.objects.create(
        occurred_at=timezone.now() - datetime.timedelta(minutes=10),
        action="secret.value_read",
        actor_type="identity",
        organization_id=cast.organization.pk,
    )
    body = scrape()
    assert 600 <= sample(body, "strongroom_audit_stream_lag_seconds", kind="webhook") < 700
    assert sample(body, "strongroom_audit_streams", kind="webhook", state="active") == 1
    assert "siem-prod" not in body


def test_it_counts_a_read_refused_while_sealed_in_its_own_family(
    db: None, metrics_on: str, tmp_path: Any, settings: Any
) -> None:
    from secrets_app.keyring import keyring

    before = scrape()
    keyring.reset()
    try:
        settings.STRONGROOM_ROOT_KEY = None
        settings.STRONGROOM_EMBEDDED_ROOT_KEY_PATH = tmp_path / "none.key"
        response = Client().get(f"{BASE}/api/v3/secrets/raw/{SECRET_NAME}?workspaceSlug=acme&environment=dev")
    finally:
        keyring.reset()
    assert response.status_code == 503
    after = scrape()

    responses = "strongroom_http_responses_total"
    assert (
        sample(after, responses, family="compat_secrets", status="5xx")
        - sample(before, responses, family="compat_secrets", status="5xx")
        == 1
    )
    assert sample(after, responses, family="unmatched", status="5xx") == sample(
        before, responses, family="unmatched", status="5xx"
    )
