"""The root key: sealed start, rotation that re-wraps only data keys (security bar C5)."""

from __future__ import annotations

import io
import re
import stat

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from audit.models import AuditEvent
from secrets_app.crypto import envelope
from secrets_app.keyring import SealedError, keyring
from secrets_app.models import DataKey, RootKeyCheck, Secret
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope
from secrets_app.selectors.secrets import secret_get, secret_list, secret_versions
from secrets_app.services.secrets import SecretInput, secret_update
from tests.secrets_app.conftest import dump_tables, put, value_of


def new_root_key() -> str:
    return envelope.encode_root_key(envelope.new_key())


def restart_with(**overrides):
    """Settings as a restarted process would see them (the keyring forgets what it loaded)."""
    keyring.reset()
    return override_settings(**overrides)


def all_values(cast) -> dict[tuple[str, str, str], str | None]:
    found = {}
    scopes = [("acme", cast.scope(cast.alice)), ("evil", project_scope(Principal.for_user(cast.mallory), "evil"))]
    for project, scope in scopes:
        for env in ("dev", "staging", "prod"):
            for view in secret_list(scope, environment=env, path="/", include_values=True).secrets:
                found[(project, env, view.key)] = view.value
    return found


@pytest.fixture
def stored(cast):
    """Secrets with comments and several versions in both projects."""
    alice = cast.scope(cast.alice)
    put(alice, "DB_PASS", "dev-pass", comment="dev comment")
    put(alice, "DB_PASS", "prod-pass", env="prod")
    secret_update(
        scope=alice, environment="prod", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="prod-pass-2")
    )
    put(project_scope(Principal.for_user(cast.mallory), "evil"), "EVIL", "evil-value")
    return all_values(cast)


@pytest.mark.django_db
def test_it_seals_when_started_with_a_different_valid_key(cast, stored) -> None:
    with restart_with(STRONGROOM_ROOT_KEY=new_root_key()):
        assert keyring.sealed_reason() == "the configured root key does not match this database"
        alice = cast.scope(cast.alice)
        with pytest.raises(SealedError):
            secret_list(alice, environment="dev", path="/", include_values=True)
        with pytest.raises(SealedError):
            value_of(alice, "DB_PASS")
        with pytest.raises(SealedError):
            put(alice, "NEW", "never stored")
        with pytest.raises(SealedError):
            secret_update(
                scope=alice, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="x")
            )
    assert not Secret.objects.filter(key="NEW").exists()

    keyring.reset()
    assert keyring.sealed_reason() is None
    assert all_values(cast) == stored


@pytest.mark.django_db
def test_it_answers_nothing_about_secrets_while_sealed(cast, stored) -> None:
    with restart_with(STRONGROOM_ROOT_KEY=new_root_key()):
        alice = cast.scope(cast.alice)
        with pytest.raises(SealedError):
            secret_list(alice, environment="dev", path="/")
        with pytest.raises(SealedError):
            secret_get(alice, environment="dev", path="/", key="DB_PASS", include_value=False)
        with pytest.raises(SealedError):
            secret_versions(alice, environment="dev", path="/", key="DB_PASS")


@pytest.mark.django_db
def test_it_seals_without_any_root_key(cast, stored, tmp_path) -> None:
    with restart_with(STRONGROOM_ROOT_KEY=None, STRONGROOM_EMBEDDED_ROOT_KEY_PATH=tmp_path / "absent.key"):
        assert keyring.sealed_reason() == "no root key is configured"
        with pytest.raises(SealedError):
            secret_list(cast.scope(cast.alice), environment="dev", path="/", include_values=True)
    assert not (tmp_path / "absent.key").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("malformed", ["not-base64!!", envelope.encode_root_key(bytes(16)), " "])
def test_it_seals_with_a_malformed_root_key(cast, stored, malformed, tmp_path) -> None:
    with restart_with(STRONGROOM_ROOT_KEY=malformed, STRONGROOM_EMBEDDED_ROOT_KEY_PATH=tmp_path / "absent.key"):
        assert keyring.sealed_reason() is not None
        with pytest.raises(SealedError):
            value_of(cast.scope(cast.alice), "DB_PASS")


@pytest.mark.django_db
def test_it_opens_with_the_right_key_from_the_embedded_key_file(cast, stored, tmp_path) -> None:
    key_file = tmp_path / "root.key"
    key_file.write_text(settings.STRONGROOM_ROOT_KEY + "\n")

    with restart_with(STRONGROOM_ROOT_KEY=None, STRONGROOM_EMBEDDED_ROOT_KEY_PATH=key_file):
        assert keyring.sealed_reason() is None
        assert all_values(cast) == stored


@pytest.mark.django_db
def test_it_reads_every_project_with_a_data_key_cache_of_one(cast, stored) -> None:
    with restart_with(STRONGROOM_DATA_KEY_CACHE_SIZE=1):
        for _ in range(3):
            assert all_values(cast) == stored


# --- root key rotation ----------------------------------------------------------------------------

UNTOUCHED_BY_ROTATION = ("audit_auditevent", "secrets_app_datakey", "secrets_app_rootkeycheck")


@pytest.mark.django_db
def test_it_rotates_the_root_key_so_only_the_new_key_opens_everything(cast, stored) -> None:
    old_key, new_key = settings.STRONGROOM_ROOT_KEY, new_root_key()
    before = dump_tables(exclude=UNTOUCHED_BY_ROTATION)
    wrapped_before = dict(DataKey.objects.values_list("pk", "wrapped_key"))
    out = io.StringIO()

    call_command("rotate_root_key", "--new-key", new_key, stdout=out)

    assert "Re-wrapped 2 data keys" in out.getvalue()
    assert new_key not in out.getvalue()
    assert dump_tables(exclude=UNTOUCHED_BY_ROTATION) == before
    new_id = envelope.fingerprint(envelope.parse_root_key(new_key))
    for data_key in DataKey.objects.all():
        assert bytes(data_key.wrapped_key) != bytes(wrapped_before[data_key.pk])
        assert data_key.root_key_id == new_id
    assert RootKeyCheck.objects.get().root_key_id == new_id
    event = AuditEvent.objects.get(action="root_key.rotated")
    assert event.metadata == {"data_keys": 2}

    with restart_with(STRONGROOM_ROOT_KEY=new_key):
        assert keyring.sealed_reason() is None
        assert all_values(cast) == stored
        put(cast.scope(cast.alice), "AFTER", "after-rotation")
        assert value_of(cast.scope(cast.alice), "AFTER") == "after-rotation"
    with restart_with(STRONGROOM_ROOT_KEY=old_key):
        assert keyring.sealed_reason() is not None
        with pytest.raises(SealedError):
            all_values(cast)


@pytest.mark.django_db
def test_it_generates_and_prints_a_new_root_key_once_when_none_is_given(cast, stored) -> None:
    out = io.StringIO()

    call_command("rotate_root_key", stdout=out)

    printed = re.search(r"New root key \(shown once\): (\S+)", out.getvalue()).group(1)
    assert printed not in "".join(str(event.metadata) for event in AuditEvent.objects.all())
    with restart_with(STRONGROOM_ROOT_KEY=printed):
        assert all_values(cast) == stored


@pytest.mark.django_db
def test_it_writes_the_rotated_key_to_the_embedded_file_with_mode_0600(cast, stored, tmp_path) -> None:
    key_file = tmp_path / "root.key"
    key_file.write_text(settings.STRONGROOM_ROOT_KEY)

    with restart_with(STRONGROOM_ROOT_KEY=None, STRONGROOM_EMBEDDED_ROOT_KEY_PATH=key_file):
        call_command("rotate_root_key", "--write-embedded", stdout=io.StringIO())
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().strip() != settings.STRONGROOM_ROOT_KEY
        keyring.reset()
        assert all_values(cast) == stored


@pytest.mark.django_db
def test_it_refuses_to_rotate_while_sealed_or_to_a_malformed_key(cast, stored) -> None:
    wrapped_before = dict(DataKey.objects.values_list("pk", "wrapped_key"))

    with pytest.raises(CommandError, match="32 bytes"):
        call_command("rotate_root_key", "--new-key", envelope.encode_root_key(bytes(8)), stdout=io.StringIO())
    with restart_with(STRONGROOM_ROOT_KEY=new_root_key()):
        with pytest.raises(CommandError, match="does not match"):
            call_command("rotate_root_key", stdout=io.StringIO())

    assert {pk: bytes(value) for pk, value in DataKey.objects.values_list("pk", "wrapped_key")} == {
        pk: bytes(value) for pk, value in wrapped_before.items()
    }
    keyring.reset()
    assert all_values(cast) == stored


def test_it_keeps_server_owned_secrets_readable_after_root_rotation(cast, stored) -> None:
    """TOTP seeds (and auth-method or connection credentials) live under the system data key, so a
    root rotation re-wraps that key and they keep opening with the new root key alone."""
    import pyotp

    from secrets_app.models import UserTOTP
    from secrets_app.services.users import user_totp_begin, user_totp_check, user_totp_confirm

    uri = user_totp_begin(user=cast.bob)
    seed = pyotp.parse_uri(uri).secret
    assert user_totp_confirm(user=cast.bob, code=pyotp.TOTP(seed).now())
    sealed_before = bytes(UserTOTP.objects.get(user=cast.bob).seed_ciphertext)
    new_key = new_root_key()

    call_command("rotate_root_key", "--new-key", new_key, stdout=io.StringIO())

    assert bytes(UserTOTP.objects.get(user=cast.bob).seed_ciphertext) == sealed_before  # not re-encrypted
    with restart_with(STRONGROOM_ROOT_KEY=new_key):
        record = UserTOTP.objects.get(user=cast.bob)
        record.last_used_step = 0
        record.save(update_fields=["last_used_step"])
        assert user_totp_check(user=cast.bob, code=pyotp.TOTP(seed).now())
