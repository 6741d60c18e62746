"""Import test helpers (imported by tests/estate/test_import*.py; the shared estate fixtures live in
conftest.py): a scanned small estate, resource look-up, values a person would see, and the
checks that no seeded value leaked into audit metadata, import rows or API responses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.estate.conftest import (
    PIPELINE_SECRET_VALUE,
    PLAIN_PASSWORD_VALUE,
    PLAIN_SECRET_VALUE,
    PLAIN_SETTING_VALUE,
    SECRET_VALUE,
    SmallEstate,
    seed_small_estate,
)
from tests.syncs.kv_support import kv_fixture, make_kv_connection  # noqa: F401 - the kv fixture, re-exported

KV_DB_PASSWORD = "kv-db-password-Vq93xL"  # noqa: S105 - a test value that must never leak
ENTERED_VALUE = "entered-by-hand-7Hq2"
SEEDED_VALUES = (
    PIPELINE_SECRET_VALUE,
    PLAIN_PASSWORD_VALUE,
    PLAIN_SECRET_VALUE,
    PLAIN_SETTING_VALUE,
    SECRET_VALUE,
    KV_DB_PASSWORD,
    ENTERED_VALUE,
)


@dataclass
class Scanned:
    cast: Any
    ado: Any
    connection: Any
    estate: SmallEstate

    def resource(self, name: str, kind: str = "variable_group") -> Any:
        from estate.models import EstateResource

        return EstateResource.objects.get(organization=self.cast.organization, kind=kind, name=name)

    @property
    def alice(self) -> Any:
        from secrets_app.principals import Principal

        return Principal.for_user(self.cast.alice)


@pytest.fixture(name="scanned")
def scanned_fixture(cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any) -> Scanned:
    """The small estate (tests/estate/conftest.py), scanned once by alice (an organization admin)."""
    estate = seed_small_estate(estate_ado)
    scan = run_scan(cast, estate_connection)
    assert scan.status == "succeeded", scan.error
    return Scanned(cast, estate_ado, estate_connection, estate)


def rescan(scanned: Scanned, run_scan: Any) -> None:
    scan = run_scan(scanned.cast, scanned.connection)
    assert scan.status == "succeeded", scan.error


def value_of(cast: Any, environment: str, path: str, key: str) -> str | None:
    """The live shared value at a place, as Strongroom decrypts it (None when absent)."""
    from secrets_app.models import Secret, SecretType
    from secrets_app.selectors.secrets import current_plaintext

    secret = Secret.objects.filter(
        project=cast.project,
        environment__slug=environment,
        folder__path=path,
        key=key,
        type=SecretType.SHARED,
        deleted_at__isnull=True,
    ).first()
    return None if secret is None else current_plaintext(secret)[0].decode()


def version_of(cast: Any, environment: str, path: str, key: str) -> int | None:
    from secrets_app.models import Secret

    return (
        Secret.objects.filter(
            project=cast.project, environment__slug=environment, folder__path=path, key=key, deleted_at__isnull=True
        )
        .values_list("version", flat=True)
        .first()
    )


def assert_no_value_leaked(*texts: Any) -> None:
    """No seeded or entered value in audit metadata, import rows or the given texts/objects."""
    from audit.models import AuditEvent
    from estate.models import EstateImport, EstateImportItem

    haystacks = [json.dumps(text, default=str) if not isinstance(text, str | bytes) else text for text in texts]
    haystacks += [json.dumps(list(AuditEvent.objects.values("action", "metadata", "resource_id")), default=str)]
    haystacks += [json.dumps(list(EstateImport.objects.values()), default=str)]
    haystacks += [json.dumps(list(EstateImportItem.objects.values()), default=str)]
    for haystack in haystacks:
        text = haystack.decode() if isinstance(haystack, bytes) else haystack
        for value in SEEDED_VALUES:
            assert value not in text, "a value leaked"


def actions(prefix: str = "estate.") -> list[str]:
    from audit.models import AuditEvent

    return list(AuditEvent.objects.filter(action__startswith=prefix).order_by("id").values_list("action", flat=True))
