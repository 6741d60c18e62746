"""``strongroom rotations list|rotate`` as a subprocess against a live server and the machine's
MariaDB: the list shows the rotation, ``rotate --wait`` ends when the run has switched the owned
secrets to a new password that logs in, a rotate while a run holds the rotation is one line and exit
9, a failed run is one line with the server's reason and exit 10, an unknown name one line and exit 4,
a rotate without ``rotations.rotate`` one line naming it and exit 3.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import CliServer
from tests.dynamic.conftest import mysql_admin
from tests.rotation.conftest import RotationTarget, define_rotation, login, mysql_rotation_target, mysql_target  # noqa: F401
from tests.support.celery_worker import eager  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def rotating(cli_server: CliServer, mysql_rotation_target: RotationTarget, eager: None) -> CliServer:  # noqa: F811
    from dynamic.models import TargetAllowlist

    cast = cli_server.cast
    TargetAllowlist.objects.update_or_create(organization=cast.organization, defaults={"entries": ["127.0.0.1/32"]})
    define_rotation(cast, mysql_rotation_target, name="app-db")
    return cli_server


def _base(server: CliServer) -> list[str]:
    return [f"--token={server.token}", "--projectId=acme"]


def _owned(server: CliServer) -> dict[str, str]:
    result = server.run("export", *_base(server), "--env=dev", "--format=json")
    assert result.returncode == 0, result.stderr
    return {item["key"]: item["value"] for item in json.loads(result.stdout) if item["key"].startswith("DB_")}


def _one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.count("\n") == 1 and text.startswith("strongroom: error: "), text
    return text


def test_list_shows_the_rotation_with_its_status_and_schedule(rotating: CliServer) -> None:
    table = rotating.run("rotations", "list", *_base(rotating))
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.decode().splitlines()
    assert header.split()[:5] == ["NAME", "KIND", "PLACE", "MODE", "STATUS"]
    assert row.split()[:6] == ["app-db", "mysql", "dev:/", "alternate", "new", "never"]

    listed = rotating.run("rotations", "list", *_base(rotating), "--env=dev", "--path=/", "--format=json")
    assert listed.returncode == 0, listed.stderr
    [item] = json.loads(listed.stdout)
    assert (item["name"], item["status"], item["lastRotatedAt"]) == ("app-db", "new", None) and item["nextRunAt"]
    elsewhere = rotating.run("rotations", "list", *_base(rotating), "--env=prod", "--plain")
    assert (elsewhere.returncode, elsewhere.stdout) == (0, b"")


def test_rotate_wait_ends_when_the_owned_secrets_hold_a_new_password_that_logs_in(
    rotating: CliServer,
    mysql_rotation_target: RotationTarget,  # noqa: F811
) -> None:
    target = mysql_rotation_target
    first = rotating.run("rotations", "rotate", "app-db", *_base(rotating), "--wait", "--timeout=20")
    assert first.returncode == 0, first.stderr
    assert first.stdout.decode() == f"rotated app-db: the owned secrets now hold user {target.users[0]}\n"
    before = _owned(rotating)

    second = rotating.run(
        "rotations", "rotate", "app-db", *_base(rotating), "--env=dev", "--path=/", "--wait", "--timeout=20"
    )
    assert second.returncode == 0, second.stderr
    after = _owned(rotating)
    assert after["DB_USERNAME"] == target.users[1] != before["DB_USERNAME"]
    assert after["DB_PASSWORD"] != before["DB_PASSWORD"]
    assert login(target, after["DB_USERNAME"], after["DB_PASSWORD"])
    assert after["DB_PASSWORD"] not in (first.stdout + second.stdout + first.stderr + second.stderr).decode()

    listed = json.loads(rotating.run("rotations", "list", *_base(rotating), "--format=json").stdout)
    assert listed[0]["status"] == "success" and listed[0]["lastRotatedAt"]


def test_rotate_while_a_run_holds_the_rotation_is_one_line_and_exit_9(rotating: CliServer) -> None:
    from django.utils import timezone

    from rotation.models import Rotation
    from rotation.services.engine import _claim

    rotation = Rotation.objects.get(name="app-db")
    _claim(rotation.pk, timezone.now())  # a run holds it

    held = rotating.run("rotations", "rotate", "app-db", *_base(rotating), "--wait", "--timeout=5")
    assert held.returncode == 9
    assert _one_line(held.stderr) == "strongroom: error: a rotation of app-db is already running\n"
    assert not rotation.attempts.exists()


def test_rotate_wait_reports_a_failed_run_with_its_reason_and_exit_10(
    rotating: CliServer,
    mysql_rotation_target: RotationTarget,  # noqa: F811
    settings: Any,
) -> None:
    settings.STRONGROOM_ROTATION_MAX_ATTEMPTS = 1
    admin = mysql_admin()
    with admin.cursor() as cursor:  # the user the first run would set a password for is gone
        cursor.execute(f"DROP USER '{mysql_rotation_target.users[0]}'@'%'")
    admin.close()

    failed = rotating.run("rotations", "rotate", "app-db", *_base(rotating), "--wait", "--timeout=20")
    assert failed.returncode == 10, failed.stderr
    line = _one_line(failed.stderr)
    assert line.startswith("strongroom: error: the rotation of app-db failed: ")
    assert mysql_rotation_target.db.password not in line


def test_an_unknown_rotation_is_one_line_and_exit_4(rotating: CliServer) -> None:
    missing = rotating.run("rotations", "rotate", "nope", *_base(rotating), "--env=dev")
    assert missing.returncode == 4
    assert "no rotation named 'nope' in dev:/" in _one_line(missing.stderr)
    assert rotating.run("rotations", "rotate", "app-db", *_base(rotating), "--path=/x").returncode == 1


def test_rotate_without_rotations_rotate_names_the_permission_and_exits_3(rotating: CliServer) -> None:
    """bob (member) holds neither rotations action: one line naming what to ask for, exit 3;
    with a custom role granting ``rotations.rotate`` alone the same command queues the run."""
    from rotation.models import Rotation
    from secrets_app.services.personal_tokens import personal_token_create
    from tests.rotation.test_permissions import on_call

    bob = [f"--token={personal_token_create(user=rotating.cast.bob, name='cli-bob')[1]}", "--projectId=acme"]
    refused = rotating.run("rotations", "rotate", "app-db", *bob)
    assert refused.returncode == 3
    line = _one_line(refused.stderr)
    assert "not allowed to rotate credentials in this project (it needs rotations.rotate)" in line, line
    assert "dynamic" not in line and not Rotation.objects.get(name="app-db").attempts.exists()

    on_call(rotating.cast, rotating.cast.bob)
    rotated = rotating.run("rotations", "rotate", "app-db", *bob, "--wait", "--timeout=20")
    assert rotated.returncode == 0, rotated.stderr
    assert Rotation.objects.get(name="app-db").attempts.filter(outcome="success").count() == 1
