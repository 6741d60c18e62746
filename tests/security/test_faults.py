"""Fault-tolerance checks that need no private servers (the real-process fault tests, F1/F3/F4,
live in tests/faults/)."""

from __future__ import annotations

from typing import Any

import pytest

from secrets_app.services.keys import data_key_reencrypt, data_key_reencrypt_pending, data_key_rotate
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

pytestmark = pytest.mark.django_db


def test_F3_reencryption_whose_message_was_lost_is_found_by_the_beat_reconciler(cast: Any) -> None:
    """``rotate_data_keys`` while the broker is down rotates the key but cannot queue the
    re-encryption; the beat reconciler must find the project and queue it, until nothing is behind."""
    from django.conf import settings

    items = [SecretInput(key=f"K{i}", value=f"v{i}") for i in range(5)]
    secret_bulk_upsert(scope=cast.scope(cast.alice), environment="dev", path="/", items=items)
    assert data_key_reencrypt_pending() == []  # one data key: nothing can be behind

    data_key_rotate(project_id=cast.project.pk)  # the message that should follow is lost
    assert data_key_reencrypt_pending() == [cast.project.pk]
    # New writes use the new key and do not count as behind.
    secret_bulk_upsert(
        scope=cast.scope(cast.alice), environment="dev", path="/", items=[SecretInput(key="N", value="n")]
    )

    assert data_key_reencrypt(project_id=cast.project.pk) == 5
    assert data_key_reencrypt_pending() == []
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["secrets_app.tasks.data_keys_reencrypt_reconcile"] <= 300
