"""A quarantined secret seen by real clients against a live server: the official Python SDK
(``infisicalsdk``, unmodified) still parses the list, which leaves the key out, and gets 423 for a
single get; ``strongroom run`` runs the child without the key and prints one warning line naming it."""

from __future__ import annotations

import sys

import pytest

from tests.cli.conftest import CliServer, cli_server  # noqa: F401 (fixture)
from tests.compat.conftest import BASE

infisical_sdk = pytest.importorskip("infisical_sdk")

pytestmark = pytest.mark.slow


def test_it_leaves_the_key_out_for_the_sdk_and_the_cli_and_refuses_the_single_get(cli_server: CliServer) -> None:  # noqa: F811
    from governance.services.quarantine import secret_quarantine
    from secrets_app.services.secrets import SecretInput, secret_create

    cast = cli_server.cast
    old = secret_create(
        scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="OLD_TOKEN", value="old-4e1d")
    )
    secret_quarantine(scope=cast.scope(cast.alice), secret_id=old.pk, reason="not delivered for 120 days")
    machine = cli_server.machine

    with infisical_sdk.InfisicalSDKClient(host=cli_server.url + BASE, cache_ttl=None) as client:
        client.auth.universal_auth.login(client_id=machine.client_id, client_secret=machine.client_secret)
        listed = client.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=cli_server.project_id)
        with pytest.raises(Exception) as refused:
            client.secrets.get_secret_by_name(
                secret_name="OLD_TOKEN", environment_slug="dev", secret_path="/", project_id=cli_server.project_id
            )
    run = cli_server.run(
        "run",
        f"--token={cli_server.token}",
        f"--projectId={cli_server.project_id}",
        "--env=dev",
        "--",
        sys.executable,
        "-c",
        "import os; print(os.environ.get('GREETING'), os.environ.get('OLD_TOKEN'))",
    )

    assert [secret.secretKey for secret in listed.secrets] == ["GREETING"]
    assert getattr(refused.value, "status_code", None) == 423
    assert "OLD_TOKEN is quarantined since" in str(refused.value) and "old-4e1d" not in str(refused.value)
    assert run.returncode == 0, run.stderr
    assert run.stdout == b"hello-from-dev None\n"
    warnings = run.stderr.decode().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("strongroom: warning: OLD_TOKEN is quarantined since ")
