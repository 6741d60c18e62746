"""AWS IAM access key rotation against moto in server mode with authentication enforced, driven by
the real boto3: a key that "works" signed a real ``sts:GetCallerIdentity``, a retired key is
refused with ``InvalidClientTokenId``. The rotation's root is an IAM user holding only the policy
docs/rotation.md asks for (moto matches only ``"Resource": "*"``; the docs scope it to the users).

PYTEST_DONT_REWRITE: these assertions handle real secret access keys, so a failure reports the
line, never the values pytest's rewriting would print.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import error_of
from tests.dynamic.providers.aws import MotoServer, RecordingProxy
from tests.support.celery_worker import require_postgres
from tests.support.crash_runner import run_killed_at

pytestmark = pytest.mark.django_db
KIND = "aws_iam_access_key"
KEY_ID, SECRET = "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"
MAPPING = {"key_id": KEY_ID, "secret": SECRET}


def _define(cast: Any, root_key: tuple[str, str], user: str, url: str, name: str = "aws") -> Any:
    from rotation.services.rotations import RotationInput, rotation_create

    return rotation_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        data=RotationInput(
            name=name,
            kind=KIND,
            config={"region": "us-east-1", "endpointUrl": url},
            credentials={"accessKey": root_key[0], "secretAccessKey": root_key[1]},
            usernames=[user],
            secrets_mapping=dict(MAPPING),
        ),
    )


def _owned(cast: Any) -> dict[str, str]:
    from secrets_app.selectors.secrets import secret_list

    result = secret_list(cast.scope(cast.alice), environment="dev", path="/", include_values=True)
    return {view.key: str(view.value) for view in result.secrets if view.key in (KEY_ID, SECRET)}


def _caller(moto: MotoServer, key: str, secret: str) -> str:
    """The ARN STS answers for the key, or the error code it refuses it with."""
    try:
        return str(moto.client("sts", key, secret).get_caller_identity()["Arn"])
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])


def _keys(moto: MotoServer, user: str) -> set[str]:
    listed = moto.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"] for key in listed}


def _rotate(rotation: Any) -> Any:
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run

    result = rotation_run(rotation_id=rotation.pk)
    assert result.outcome == "success", Rotation.objects.get(pk=rotation.pk).last_error
    return Rotation.objects.get(pk=rotation.pk)


def test_it_rotates_to_a_new_key_and_retires_the_oldest_one_rotation_later(
    cast: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str
) -> None:
    from audit.models import AuditEvent

    rotation = _define(cast, root_key, app_user, moto.url)
    arn_suffix = f":user/{app_user}"

    first = _rotate(rotation)
    one = _owned(cast)
    assert _caller(moto, one[KEY_ID], one[SECRET]).endswith(arn_suffix)  # the new key works, alone
    assert first.issued_keys == {"active": one[KEY_ID]}
    assert _keys(moto, app_user) == {one[KEY_ID]}

    second = _rotate(rotation)
    two = _owned(cast)
    assert two[KEY_ID] != one[KEY_ID] and _caller(moto, two[KEY_ID], two[SECRET]).endswith(arn_suffix)
    assert _caller(moto, one[KEY_ID], one[SECRET]).endswith(arn_suffix)  # previous: valid one more interval
    assert second.issued_keys == {"active": two[KEY_ID], "previous": one[KEY_ID]}
    assert _keys(moto, app_user) == {one[KEY_ID], two[KEY_ID]}

    third = _rotate(rotation)
    three = _owned(cast)
    assert _caller(moto, three[KEY_ID], three[SECRET]).endswith(arn_suffix)
    assert _caller(moto, two[KEY_ID], two[SECRET]).endswith(arn_suffix)
    assert _caller(moto, one[KEY_ID], one[SECRET]) == "InvalidClientTokenId"  # the oldest: deleted
    assert third.issued_keys == {"active": three[KEY_ID], "previous": two[KEY_ID]}
    assert _keys(moto, app_user) == {two[KEY_ID], three[KEY_ID]}  # never more than two

    events = AuditEvent.objects.filter(resource_id=str(rotation.public_id))
    rotated = [event.metadata for event in events if event.action == "rotation.rotated"]
    assert {meta["key_id"] for meta in rotated} == {one[KEY_ID], two[KEY_ID], three[KEY_ID]}
    dumped = json.dumps([event.metadata for event in events])
    assert not any(values[SECRET] in dumped for values in (one, two, three)) and root_key[1] not in dumped


CRASH_POINTS = ("after_pending", "issued_unrecorded", "after_issue", "after_verify")


def _unlock(rotation: Any) -> None:
    """End the dead run's claim (its lease would run out by itself)."""
    from django.utils import timezone

    from rotation.models import Rotation

    Rotation.objects.filter(pk=rotation.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_at_each_crash_point_converges_with_no_orphaned_key(
    cast: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str, tmp_path: Path
) -> None:
    """One rotation, its run killed in turn at every crash point of the issued-credential path
    (a real process SIGKILLed there, tests/support/crash_runner.py), then run again in this
    process; one transactional test, as a database flush after each would cost more than the runs.
    Last, a key recorded by a killed run and then deleted by hand: the next run discards the
    record and converges on a fresh key instead of failing for ever."""
    require_postgres("a separate process needs the PostgreSQL test database")
    from audit.models import AuditEvent
    from rotation.models import PendingRotation, Rotation
    from rotation.services.engine import rotation_run

    rotation = _define(cast, root_key, app_user, moto.url)
    _rotate(rotation)
    oldest = _owned(cast)
    _rotate(rotation)
    secrets_seen = [root_key[1], oldest[SECRET]]
    for step in CRASH_POINTS:
        before = _owned(cast)  # active; ``oldest`` is the previous key, the one the next run retires
        log = tmp_path / f"{step}.log"
        assert run_killed_at(step, rotation.pk, log) == -9, step  # SIGKILL at the step, nothing cleaned up

        pending = PendingRotation.objects.get(rotation=rotation)
        assert bool(pending.key_id) is (step in ("after_issue", "after_verify")), step
        held = _keys(moto, app_user)
        assert _owned(cast) == before and _caller(moto, before[KEY_ID], before[SECRET]).endswith(app_user), step
        if step == "issued_unrecorded":
            orphans = held - {before[KEY_ID], oldest[KEY_ID]}
            assert len(orphans) == 1 and not pending.key_id, step  # issued, never recorded
        _unlock(rotation)

        result = rotation_run(rotation_id=rotation.pk, trigger="retry")

        assert result.outcome == "success" and result.rolled_forward, step
        after = _owned(cast)
        secrets_seen.append(after[SECRET])
        if pending.key_id:
            assert after[KEY_ID] == pending.key_id, step  # the recorded key was switched, never issued over
        assert _caller(moto, after[KEY_ID], after[SECRET]).endswith(app_user), step
        assert _caller(moto, before[KEY_ID], before[SECRET]).endswith(app_user), step  # now the previous one
        assert _caller(moto, oldest[KEY_ID], oldest[SECRET]) == "InvalidClientTokenId", step
        assert _keys(moto, app_user) == {before[KEY_ID], after[KEY_ID]}, step  # no orphan left
        keys = Rotation.objects.get(pk=rotation.pk).issued_keys
        assert keys == {"active": after[KEY_ID], "previous": before[KEY_ID]}, step
        assert not PendingRotation.objects.filter(rotation=rotation).exists(), step
        assert not any(secret in log.read_text() for secret in secrets_seen), step
        oldest = before

    # A key recorded by a killed run, then deleted by hand before the switch.
    before = _owned(cast)
    assert run_killed_at("after_issue", rotation.pk, tmp_path / "deleted.log") == -9
    pending = PendingRotation.objects.get(rotation=rotation)
    moto.client("iam").delete_access_key(UserName=app_user, AccessKeyId=pending.key_id)
    # Recorded longer ago than IAM takes to list a new key (the kind's verify_seconds).
    PendingRotation.objects.filter(pk=pending.pk).update(applied_at=pending.applied_at - dt.timedelta(minutes=5))
    _unlock(rotation)

    result = rotation_run(rotation_id=rotation.pk, trigger="retry")

    assert result.outcome == "success", Rotation.objects.get(pk=rotation.pk).last_error
    after = _owned(cast)
    assert after[KEY_ID] != pending.key_id and _caller(moto, after[KEY_ID], after[SECRET]).endswith(app_user)
    assert _caller(moto, before[KEY_ID], before[SECRET]).endswith(app_user)
    assert _keys(moto, app_user) == {before[KEY_ID], after[KEY_ID]}  # no orphan, the old previous retired
    assert Rotation.objects.get(pk=rotation.pk).issued_keys == {"active": after[KEY_ID], "previous": before[KEY_ID]}
    assert not PendingRotation.objects.filter(rotation=rotation).exists()
    (discarded,) = AuditEvent.objects.filter(resource_id=str(rotation.public_id), action="rotation.pending_discarded")
    assert discarded.metadata["key_id"] == pending.key_id and "no longer exists" in discarded.metadata["reason"]
    assert _rotate(rotation).issued_keys["previous"] == after[KEY_ID]  # and later runs go on as usual


def test_a_previous_key_deleted_by_hand_does_not_stop_the_next_run(
    cast: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str
) -> None:
    rotation = _define(cast, root_key, app_user, moto.url)
    _rotate(rotation)
    previous = _owned(cast)
    _rotate(rotation)
    active = _owned(cast)
    moto.client("iam").delete_access_key(UserName=app_user, AccessKeyId=previous[KEY_ID])

    rotated = _rotate(rotation)

    new = _owned(cast)
    assert _caller(moto, new[KEY_ID], new[SECRET]).endswith(app_user)
    assert rotated.issued_keys == {"active": new[KEY_ID], "previous": active[KEY_ID]}
    assert _keys(moto, app_user) == {active[KEY_ID], new[KEY_ID]}


def test_a_target_that_is_down_fails_with_a_safe_reason_and_leaves_the_secrets_alone(
    cast: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str
) -> None:
    from rotation.models import Rotation, RotationAttempt
    from rotation.services.engine import rotation_run

    proxy = RecordingProxy(moto.url)
    try:
        rotation = _define(cast, root_key, app_user, proxy.url)
        _rotate(rotation)
    finally:
        proxy.stop()  # the endpoint is gone
    before = _owned(cast)

    result = rotation_run(rotation_id=rotation.pk)

    assert result.outcome == "failed"
    failed = Rotation.objects.get(pk=rotation.pk)
    assert failed.status == "retrying" and "connection failed" in failed.last_error
    assert RotationAttempt.objects.get(pk=result.attempt_id).error == failed.last_error
    assert root_key[1] not in failed.last_error and before[SECRET] not in failed.last_error
    assert _owned(cast) == before and _caller(moto, before[KEY_ID], before[SECRET]).endswith(app_user)
    assert _keys(moto, app_user) == {before[KEY_ID]} and failed.issued_keys == {"active": before[KEY_ID]}


def _next_second() -> None:
    """IAM dates keys to the second: what is made before this call is older than what comes after."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def test_a_key_made_by_hand_before_the_rotation_is_never_deleted_and_a_full_user_fails_with_its_name(
    cast: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str
) -> None:
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run

    by_hand = moto.client("iam").create_access_key(UserName=app_user)["AccessKey"]
    _next_second()
    rotation = _define(cast, root_key, app_user, moto.url)

    _rotate(rotation)  # the hand-made key is not an orphan: it is older than the rotation
    first = _owned(cast)
    assert _keys(moto, app_user) == {by_hand["AccessKeyId"], first[KEY_ID]}
    assert _caller(moto, by_hand["AccessKeyId"], by_hand["SecretAccessKey"]).endswith(app_user)

    result = rotation_run(rotation_id=rotation.pk)  # no room for a new key: say why, delete nothing

    failed = Rotation.objects.get(pk=rotation.pk)
    assert result.outcome == "failed" and failed.status == "retrying"
    assert by_hand["AccessKeyId"] in failed.last_error and "created before this rotation" in failed.last_error
    assert "Delete that key by hand" in failed.last_error and by_hand["SecretAccessKey"] not in failed.last_error
    assert _keys(moto, app_user) == {by_hand["AccessKeyId"], first[KEY_ID]}
    assert _caller(moto, by_hand["AccessKeyId"], by_hand["SecretAccessKey"]).endswith(app_user)
    assert _owned(cast) == first and _caller(moto, first[KEY_ID], first[SECRET]).endswith(app_user)

    moto.client("iam").delete_access_key(UserName=app_user, AccessKeyId=by_hand["AccessKeyId"])
    second = _rotate(rotation)  # room again: the next run goes through
    assert second.issued_keys == {"active": _owned(cast)[KEY_ID], "previous": first[KEY_ID]}


def test_a_key_made_by_hand_after_the_rotation_is_taken_for_an_orphan_and_deleted(
    cast: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str
) -> None:
    """The documented price of a user that is not dedicated to the rotation."""
    rotation = _define(cast, root_key, app_user, moto.url)
    _rotate(rotation)
    first = _owned(cast)
    stray = moto.client("iam").create_access_key(UserName=app_user)["AccessKey"]

    second = _rotate(rotation)

    assert _keys(moto, app_user) == {first[KEY_ID], second.issued_keys["active"]}
    assert _caller(moto, stray["AccessKeyId"], stray["SecretAccessKey"]) == "InvalidClientTokenId"


BASE = "/api/v1/projects/acme/rotations/"


def _body(moto: MotoServer, root_key: tuple[str, str], user: str, **extra: Any) -> dict[str, Any]:
    return {
        "environment": "dev",
        "name": "deploy-keys",
        "kind": KIND,
        "config": {"region": "eu-west-1", "endpointUrl": moto.url},
        "credentials": {"accessKey": root_key[0], "secretAccessKey": root_key[1]},
        "usernames": [user],
        "secretsMapping": dict(MAPPING),
        "intervalDays": 30,
        **extra,
    }


def test_the_api_creates_and_lists_an_aws_rotation_and_names_the_field_it_refuses(
    cast: Any, api: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str
) -> None:
    alice, bob, charlie = api(cast.alice), api(cast.bob), api(cast.charlie)
    body = _body(moto, root_key, app_user)
    for bad, field in (
        ({"mode": "single"}, "mode"),
        ({"usernames": [app_user, "other-user"]}, "usernames"),
        ({"usernames": ["no-such-user"]}, "usernames"),
        ({"config": {"region": "moon-1", "endpointUrl": moto.url}}, "config"),
        ({"config": {"endpointUrl": moto.url, "host": "db"}}, "config"),
        ({"credentials": {"accessKey": root_key[0]}}, "credentials"),
        ({"credentials": {"accessKey": root_key[0], "secretAccessKey": "wrong-secret"}}, "config"),
        ({"secretsMapping": {"username": "A", "password": "B"}}, "secretsMapping"),
    ):
        refused = alice.post(BASE, {**body, **bad}, format="json")
        assert refused.status_code == 400, (bad, refused.status_code)
        assert field in json.dumps(error_of(refused)), (bad, error_of(refused))
        assert root_key[1] not in refused.content.decode()
    assert charlie.post(BASE, body, format="json").status_code == 404
    assert bob.post(BASE, body, format="json").status_code == 403

    full = f"{app_user}-full"  # a user holding the two keys IAM allows: no room, and not dedicated
    iam = moto.client("iam")
    iam.create_user(UserName=full)
    held = {iam.create_access_key(UserName=full)["AccessKey"]["AccessKeyId"] for _ in range(2)}
    refused = alice.post(BASE, {**body, "usernames": [full]}, format="json")
    assert refused.status_code == 400 and "usernames" in json.dumps(error_of(refused)), error_of(refused)
    assert "dedicated to it" in json.dumps(error_of(refused)) and _keys(moto, full) == held

    created = alice.post(BASE, body, format="json")
    assert created.status_code == 201, error_of(created)
    rotation = created.json()
    assert root_key[1] not in created.content.decode()
    assert (rotation["kind"], rotation["mode"], rotation["usernames"]) == (KIND, "alternate", [app_user])
    assert rotation["secretsMapping"] == MAPPING and rotation["issuedKeys"] == {}
    assert rotation["config"] == {"region": "eu-west-1", "endpointUrl": moto.url}
    listed = bob.get(BASE).json()["rotations"]
    assert [(item["name"], item["kind"]) for item in listed] == [("deploy-keys", KIND)]
    assert charlie.get(BASE).status_code == 404

    from rotation.models import Rotation

    _rotate(Rotation.objects.get(public_id=rotation["id"]))
    shown = bob.get(f"{BASE}{rotation['id']}/").json()
    owned = _owned(cast)
    assert shown["issuedKeys"] == {"active": owned[KEY_ID]} and owned[SECRET] not in json.dumps(shown)


def test_the_ui_form_creates_an_aws_rotation_whose_page_shows_the_key_ids_never_a_secret(
    cast: Any, allow_local: None, moto: MotoServer, root_key: tuple[str, str], app_user: str
) -> None:
    from django.test import Client

    from rotation.models import Rotation
    from tests.ui.conftest import HX, assert_csp_clean

    alice: Any = Client()
    charlie: Any = Client()
    alice.force_login(cast.alice)
    charlie.force_login(cast.charlie)
    new = "/projects/acme/rotations/new/"

    form = alice.get(new + "?kind=" + KIND)
    html = form.content.decode()
    assert form.status_code == 200 and "IAM user name" in html and "Root secret access key" in html
    assert 'value="AWS_ACCESS_KEY_ID"' in html and 'value="AWS_SECRET_ACCESS_KEY"' in html
    assert "Downtime trade-off" not in html and "iam:CreateAccessKey" in html
    assert "Give the rotation an IAM user of its own" in html  # the orphan cleanup's condition, stated
    assert_csp_clean(form)

    post = {
        "kind": KIND,
        "path": "/",
        "environment": "dev",
        "name": "deploy-keys",
        "region": "us-east-1",
        "endpointUrl": moto.url,
        "accessKey": root_key[0],
        "secretAccessKey": root_key[1],
        "user_1": app_user,
        "key_key_id": KEY_ID,
        "key_secret": SECRET,
        "schedule": "interval",
        "interval_days": "30",
        "rotate_at": "03:30",
        "cron": "",
    }
    refused = alice.post(new, {**post, "user_1": "no-such-user"}, **HX)
    assert refused.status_code == 422 and not Rotation.objects.exists()
    assert "does not exist" in refused.content.decode() and root_key[1] not in refused.content.decode()
    assert charlie.post(new, post, **HX).status_code == 404 and not Rotation.objects.exists()

    created = alice.post(new, post, **HX)
    assert created.status_code == 204, created.content.decode()[:2000]
    rotation = Rotation.objects.get()
    assert (rotation.kind, rotation.usernames, rotation.mode) == (KIND, [app_user], "alternate")
    assert rotation.secrets_mapping == MAPPING and rotation.config == {"region": "us-east-1", "endpointUrl": moto.url}

    _rotate(rotation)
    _rotate(rotation)
    rotation.refresh_from_db()
    page = alice.get(f"/projects/acme/rotations/{rotation.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200 and "Active key" in html and "Previous key" in html
    assert rotation.issued_keys["active"] in html and rotation.issued_keys["previous"] in html
    assert _owned(cast)[SECRET] not in html and root_key[1] not in html and "set, encrypted" in html
    assert_csp_clean(page)
    assert charlie.get(f"/projects/acme/rotations/{rotation.public_id}/").status_code == 404
