"""Server-side failures answer in the one error shape, with no detail that could leak."""

from __future__ import annotations

from typing import Any

from django.db import connection

from secrets_app.models import SecretVersion
from tests.api.conftest import error_of, url


def test_it_answers_503_and_keeps_nothing_when_the_audit_log_refuses(seeded: Any, api: Any) -> None:
    client = api(seeded.alice)
    versions = SecretVersion.objects.count()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'refused SECRET-DETAIL'; END; $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_auditevent FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_auditevent BEGIN SELECT RAISE(ABORT, 'refused SECRET-DETAIL'); END"
            )
    response = client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "new"}, format="json")
    read = client.get(url("secrets/DB_PASSWORD/?environment=dev"))
    assert response.status_code == 503
    assert error_of(response)["code"] == "audit_unavailable"
    assert b"SECRET-DETAIL" not in response.content
    assert read.status_code == 503 and b"dev-password" not in read.content
    assert SecretVersion.objects.count() == versions


def test_it_answers_500_without_a_value_when_a_ciphertext_was_tampered_with(seeded: Any, api: Any) -> None:
    row = SecretVersion.objects.get(secret__key="DB_PASSWORD", secret__environment__slug="prod")
    other = SecretVersion.objects.get(secret__key="DB_PASSWORD", secret__environment__slug="dev")
    SecretVersion.objects.filter(pk=other.pk).update(value_ciphertext=row.value_ciphertext)
    response = api(seeded.alice).get(url("secrets/DB_PASSWORD/?environment=dev"))
    assert response.status_code == 500
    assert error_of(response)["code"] == "integrity_error"
    assert b"prod-password" not in response.content and b"dev-password" not in response.content
