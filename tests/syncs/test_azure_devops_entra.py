"""Azure DevOps with an Entra ID service principal: the client secret is exchanged at the (local)
authority for a token for the Azure DevOps resource, which the variable-group API then accepts."""

from __future__ import annotations

from typing import Any

from secrets_app.principals import Principal
from syncs.services.connections import connection_create
from tests.syncs.conftest import make_sync, put_secret, run_now
from tests.syncs.kv_support import CLIENT_ID, CLIENT_SECRET, TENANT, kv_fixture  # noqa: F401 (fixture)


def _entra_connection(cast: Any, ado: Any, kv: Any, secret: str = CLIENT_SECRET) -> Any:
    return connection_create(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        kind="azure_devops",
        method="client_secret",
        name="ado-entra",
        credentials={"client_secret": secret},
        config={
            "organization_url": ado.org_url,
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "authority_host": kv.authority,
        },
    )


def test_it_syncs_to_azure_devops_with_an_entra_service_principal(cast: Any, ado: Any, kv: Any) -> None:
    ado.tokens = kv.tokens  # the ADO emulator accepts exactly the tokens the authority issued
    connection = _entra_connection(cast, ado, kv)
    put_secret(cast, "DB_PASSWORD", "p@ss;word]%")
    sync = make_sync(cast, connection)
    run_now(sync)
    assert sync.status == "succeeded", sync.last_error
    group = next(iter(ado.groups.values()))
    assert group.variables["DB_PASSWORD"].is_secret is True
    assert kv.tokens  # a token was really issued by the authority


def test_it_reports_a_wrong_entra_client_secret_at_connection_test(cast: Any, ado: Any, kv: Any) -> None:
    from syncs.services.connections import connection_test

    ado.tokens = kv.tokens
    connection = _entra_connection(cast, ado, kv, secret="wrong-secret")
    ok, message = connection_test(principal=Principal.for_user(cast.alice), connection=connection)
    assert not ok
    assert "Entra" in message and "wrong-secret" not in message
    assert not kv.tokens
