"""Expiry by the real beat scheduler and a real worker, and no merge past expiry when beat is down."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from approvals.models import ChangeRequest, RequestStatus
from audit.models import AuditEvent
from tests.api.conftest import error_of
from tests.approvals.conftest import CANARY
from tests.support.celery_worker import celery_worker, require_postgres, wait_until

P = "/api/v1/projects/acme/"


def _held_request(api: Any, cast: Any) -> str:
    response = api(cast.alice).patch(P + "secrets/DB_PASSWORD/?environment=prod", {"value": CANARY}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["changeRequest"]["id"]


@pytest.mark.django_db(transaction=True)
def test_a_request_past_its_expiry_is_expired_by_the_running_beat(
    seeded: Any, make_policy: Any, api: Any, tmp_path: Path
) -> None:
    require_postgres("a real worker reads the test database")
    make_policy(approvers=[seeded.bob])
    request_id = _held_request(api, seeded)
    ChangeRequest.objects.filter(public_id=request_id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    with celery_worker(tmp_path / "worker.log", beat=True, env={"STRONGROOM_APPROVALS_EXPIRY_SWEEP_SECONDS": "1"}):
        wait_until(lambda: ChangeRequest.objects.get(public_id=request_id).status == RequestStatus.EXPIRED, timeout=45)

    assert AuditEvent.objects.filter(action="change_request.expired", resource_id=request_id).count() == 1


def test_a_request_past_its_expiry_cannot_be_reviewed_or_merged_while_beat_is_down(
    seeded: Any, make_policy: Any, api: Any
) -> None:
    make_policy(approvers=[seeded.bob])
    request_id = _held_request(api, seeded)
    ChangeRequest.objects.filter(public_id=request_id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    review = api(seeded.bob).post(P + f"change-requests/{request_id}/review/", {"status": "approved"}, format="json")
    merge = api(seeded.alice).post(P + f"change-requests/{request_id}/merge/", {}, format="json")

    assert review.status_code == 409 and "expired" in error_of(review)["message"]
    assert merge.status_code == 409
    assert ChangeRequest.objects.get(public_id=request_id).status == RequestStatus.OPEN  # beat marks it later
