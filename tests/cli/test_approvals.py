"""A CLI write that a change policy holds: one line on stderr naming the change request and its
review page, exit code 8, nothing written; ``approvals list/show`` read requests back."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _protect_prod(cli_server: Any) -> None:
    from approvals.services.policies import MemberRef, approval_policy_create

    cast = cli_server.cast
    approval_policy_create(
        scope=cast.scope(cast.alice),
        name="prod-guard",
        environments=["prod"],
        path="/**",
        approvers=[MemberRef(kind="user", ref=cast.bob.email), MemberRef(kind="user", ref=cast.dave.email)],
        approvals_required=2,
    )


def test_a_held_write_exits_8_with_one_line_and_the_requests_can_be_listed_and_shown(cli_server: Any) -> None:
    from approvals.models import ChangeRequest

    _protect_prod(cli_server)
    where = ["--token", cli_server.token, "--projectId", "acme", "--env", "prod", "--path", "/backend/api"]

    held = cli_server.run("secrets", "set", *where, "DATABASE_URL=postgres://new-db/app")
    folder = cli_server.run(
        "folders", "delete", "--token", cli_server.token, "--projectId", "acme", "--env", "prod", "--path", "/backend"
    )
    unprotected = cli_server.run(
        "secrets", "set", "--token", cli_server.token, "--projectId", "acme", "--env", "dev", "A=1"
    )

    request = ChangeRequest.objects.order_by("created_at").first()
    assert request is not None
    lines = held.stderr.decode().splitlines()
    assert held.returncode == 8 and held.stdout == b""
    assert lines == [f"Change request {request.slug} opened: needs 2 approvals — {lines[0].rsplit(' ', 1)[-1]}"]
    assert lines[0].endswith(f"/projects/acme/approvals/changes/{request.public_id}/")
    assert "postgres://new-db/app" not in held.stderr.decode()
    assert folder.returncode == 8 and folder.stderr.decode().startswith("Change request ")
    assert unprotected.returncode == 0
    assert ChangeRequest.objects.count() == 2

    listed = cli_server.run("approvals", "list", "--status", "open", "--token", cli_server.token, "--projectId", "acme")
    shown = cli_server.run("approvals", "show", request.slug, "--token", cli_server.token, "--projectId", "acme")

    assert listed.returncode == 0 and request.slug in listed.stdout.decode() and "0/2" in listed.stdout.decode()
    out = shown.stdout.decode()
    assert shown.returncode == 0 and "approvals:  0 of 2" in out and "DATABASE_URL" in out
    assert "postgres://new-db/app" not in out
    missing = cli_server.run("approvals", "show", "nope", "--token", cli_server.token, "--projectId", "acme")
    assert missing.returncode == 4


def test_the_exit_code_is_documented_in_the_help() -> None:
    from strongroom_cli.main import EPILOG

    assert "8 held for approval" in EPILOG
