"""Data key rotation: new writes use the new key, a real worker moves old ciphertexts, every
secret stays readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from secrets_app.crypto import envelope
from secrets_app.models import DataKey, SecretVersion
from secrets_app.selectors.secrets import secret_list
from secrets_app.services.keys import data_key_reencrypt, data_key_rotate, data_key_usage_check
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_update
from tests.support.celery_worker import celery_worker, require_postgres, send_task, wait_until


def _key_ids(project_id: int) -> set[int]:
    return {
        envelope.key_id_of(bytes(row))
        for row in SecretVersion.objects.filter(secret__project_id=project_id).values_list(
            "value_ciphertext", flat=True
        )
    }


def _values(cast) -> dict[str, str]:  # type: ignore[no-untyped-def]
    result = secret_list(cast.scope(cast.alice), environment="dev", path="/", include_values=True)
    return {view.key: view.value for view in result.secrets}


def _seed(cast, count: int = 30) -> dict[str, str]:  # type: ignore[no-untyped-def]
    items = [SecretInput(key=f"K{i}", value=f"value-{i}\nline two") for i in range(count)]
    secret_bulk_upsert(scope=cast.scope(cast.alice), environment="dev", path="/", items=items)
    return {item.key: item.value for item in items}  # type: ignore[misc]


def test_it_reencrypts_every_version_under_the_new_key_and_keeps_values(cast) -> None:  # type: ignore[no-untyped-def]
    expected = _seed(cast)
    old_key = DataKey.objects.get(project=cast.project, version=1)
    new_key = data_key_rotate(project_id=cast.project.pk)
    secret_update(
        scope=cast.scope(cast.alice), environment="dev", path="/", key="K1", item=SecretInput(key="K1", value="changed")
    )
    expected["K1"] = "changed"
    assert _key_ids(cast.project.pk) == {old_key.pk, new_key.pk}
    while data_key_reencrypt(project_id=cast.project.pk, batch_size=7):
        pass
    assert _key_ids(cast.project.pk) == {new_key.pk}
    assert _values(cast) == expected


def test_it_rotates_a_key_past_its_encryption_budget(cast) -> None:  # type: ignore[no-untyped-def]
    _seed(cast, 5)
    rotated = data_key_usage_check(max_encryptions=10)
    assert cast.project.pk in rotated
    assert DataKey.objects.filter(project=cast.project).count() == 2


def test_it_rotates_from_the_command_line(cast) -> None:  # type: ignore[no-untyped-def]
    expected = _seed(cast, 3)
    call_command("rotate_data_keys", "--project", "acme", "--now")
    newest = DataKey.objects.filter(project=cast.project).order_by("-version").first()
    assert _key_ids(cast.project.pk) == {newest.pk}
    assert _values(cast) == expected


@pytest.mark.django_db(transaction=True)
def test_it_reencrypts_in_a_real_celery_worker(tmp_path: Path) -> None:
    require_postgres("a worker process needs the PostgreSQL test database")
    from tests.conftest import build_cast

    cast = build_cast()
    expected = _seed(cast, 40)
    new_key = data_key_rotate(project_id=cast.project.pk)
    with celery_worker(tmp_path / "worker.log") as queue:
        send_task("secrets_app.tasks.data_key_reencrypt", [cast.project.pk], queue)
        wait_until(lambda: _key_ids(cast.project.pk) == {new_key.pk})
    assert _values(cast) == expected
    assert "value-" not in (tmp_path / "worker.log").read_text()
