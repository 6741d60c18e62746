"""Lag alerts: one notification to the organization's admins (e-mail) and its routed channels when a
stream falls behind its threshold, nothing more while it stays behind, a follow-up when it caught up."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.streams.alerts import stream_lag_check, streams_lag_check
from audit.streams.delivery import stream_deliver
from audit.streams.models import AuditStream, StreamState
from tests.audit.streams.engine_support import Receiver, make_stream, record, seal
from tests.notifications.fixtures import deliver_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_channel(org_admin: Any, teams_webhook: Any, notify_settings: Any, stream_org: Any) -> Any:
    from notifications.services import channel_create

    return channel_create(
        principal=org_admin,
        organization=stream_org,
        kind="teams_webhook",
        name="ops",
        credentials={"webhook_url": teams_webhook.webhook_url},
        routes=[{"events": ["audit.*"]}],
    )


def test_it_alerts_the_org_admins_once_and_follows_up_when_caught_up(
    stream_org: Any, receiver: Receiver, org_admin: Any, ops_channel: Any, teams_webhook: Any, smtp_server: Any
) -> None:
    stream = make_stream(stream_org, receiver, lag_alert_seconds=60)
    receiver.down()
    record(stream_org, 3)
    seal()
    stream_deliver(stream_id=stream.pk)
    now = timezone.now()

    assert not stream_lag_check(stream_id=stream.pk, now=now + timedelta(seconds=30)).alerted  # under the threshold
    check = stream_lag_check(stream_id=stream.pk, now=now + timedelta(seconds=90))
    assert check.alerted and check.lag_seconds >= 90
    assert not stream_lag_check(stream_id=stream.pk, now=now + timedelta(seconds=600)).alerted  # once only
    assert sorted(deliver_all()) == ["sent", "sent"]

    (mail,) = smtp_server.messages
    assert mail["To"] == org_admin.user.email
    assert "Audit stream 'siem'" in mail["Subject"] and "behind" in mail["Subject"]
    assert "connection" in mail.get_body(preferencelist=("plain",)).get_content()  # the last error, sanitised
    assert "Audit stream 'siem'" in json.dumps(teams_webhook.cards[-1])
    cards = len(teams_webhook.cards)
    stream.refresh_from_db()
    assert stream.lag_alerted_at is not None

    receiver.up()
    stream_deliver(stream_id=stream.pk, ignore_backoff=True)
    check = stream_lag_check(stream_id=stream.pk)
    assert check.recovered and not check.alerted
    assert sorted(deliver_all()) == ["sent", "sent"]
    assert "caught up" in smtp_server.messages[-1]["Subject"].lower()
    assert len(teams_webhook.cards) == cards + 1
    stream.refresh_from_db()
    assert stream.lag_alerted_at is None
    assert not stream_lag_check(stream_id=stream.pk).recovered  # once only


def test_a_paused_stream_raises_no_alert(stream_org: Any, receiver: Receiver, org_admin: Any) -> None:
    from notifications.models import Notification

    stream = make_stream(stream_org, receiver, lag_alert_seconds=60)
    AuditStream.objects.filter(pk=stream.pk).update(state=StreamState.PAUSED)
    record(stream_org, 2)
    assert streams_lag_check() == []
    assert not stream_lag_check(stream_id=stream.pk, now=timezone.now() + timedelta(hours=1)).alerted
    assert not Notification.objects.exists()
