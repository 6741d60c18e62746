"""Envelope encryption: tampering and moved ciphertexts fail, nonces never repeat (security bar C2, C3)."""

from __future__ import annotations

import base64

import pytest

from secrets_app.crypto import envelope
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.models import SecretVersion
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope
from secrets_app.selectors.secrets import secret_list
from secrets_app.services.secrets import SecretInput, secret_update
from tests.secrets_app.conftest import put, value_of

KEY = bytes(range(32))
AAD = b"secret|1|2|3|1|value"


def test_it_round_trips_under_the_same_key_and_binding() -> None:
    sealed = envelope.encrypt(KEY, 7, b"hunter2", AAD)

    assert envelope.decrypt(KEY, sealed, AAD) == b"hunter2"
    assert envelope.key_id_of(sealed) == 7
    assert b"hunter2" not in sealed


@pytest.mark.parametrize(
    "other_aad",
    [b"secret|1|2|3|2|value", b"secret|1|2|3|1|comment", b"secret|1|2|4|1|value", b"secret|9|2|3|1|value", b""],
)
def test_it_refuses_a_ciphertext_opened_under_another_binding(other_aad) -> None:
    sealed = envelope.encrypt(KEY, 7, b"hunter2", AAD)

    with pytest.raises(DecryptionError):
        envelope.decrypt(KEY, sealed, other_aad)


def test_it_refuses_a_ciphertext_opened_with_another_key() -> None:
    sealed = envelope.encrypt(KEY, 7, b"hunter2", AAD)

    with pytest.raises(DecryptionError):
        envelope.decrypt(bytes(32), sealed, AAD)


@pytest.mark.parametrize("position", [0, 1, 4, 5, 10, 16, 17, 20, -17, -1])
def test_it_detects_a_flipped_byte_anywhere(position) -> None:
    sealed = bytearray(envelope.encrypt(KEY, 7, b"a secret value", AAD))
    sealed[position] ^= 0x01

    with pytest.raises(DecryptionError):
        envelope.decrypt(KEY, bytes(sealed), AAD)


@pytest.mark.parametrize("length", [0, 1, 5, 16, 32])
def test_it_refuses_truncated_ciphertexts(length) -> None:
    sealed = envelope.encrypt(KEY, 7, b"value", AAD)

    with pytest.raises(DecryptionError):
        envelope.decrypt(KEY, sealed[:length], AAD)


def test_it_never_repeats_a_nonce_or_ciphertext() -> None:
    sealed = [envelope.encrypt(KEY, 7, b"same plaintext", AAD) for _ in range(20_000)]

    nonces = {item[5:17] for item in sealed}
    assert len(nonces) == len(sealed)
    assert len(set(sealed)) == len(sealed)


def test_it_accepts_standard_and_urlsafe_base64_root_keys() -> None:
    raw = bytes([0xFB, 0xFF] * 16)

    assert envelope.parse_root_key(base64.b64encode(raw).decode()) == raw
    assert envelope.parse_root_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert envelope.parse_root_key(f"  {envelope.encode_root_key(raw)}\n") == raw


@pytest.mark.parametrize(
    "text", ["", "not base64!", base64.b64encode(bytes(31)).decode(), base64.b64encode(bytes(33)).decode()]
)
def test_it_refuses_root_keys_that_are_not_32_bytes_of_base64(text) -> None:
    with pytest.raises(ValueError):
        envelope.parse_root_key(text)


# --- ciphertexts moved between database rows ------------------------------------------------------


def current_row(key: str, env: str = "dev") -> SecretVersion:
    return SecretVersion.objects.filter(
        secret__key=key, secret__environment__slug=env, secret__deleted_at__isnull=True
    ).first()


@pytest.mark.django_db
def test_it_refuses_a_value_copied_onto_another_secret(cast) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "SOURCE", "source-value")
    put(alice, "TARGET", "target-value")
    SecretVersion.objects.filter(pk=current_row("TARGET").pk).update(
        value_ciphertext=current_row("SOURCE").value_ciphertext
    )

    with pytest.raises(DecryptionError):
        value_of(alice, "TARGET")
    with pytest.raises(DecryptionError):
        secret_list(alice, environment="dev", path="/", include_values=True)
    assert value_of(alice, "SOURCE") == "source-value"


@pytest.mark.django_db
def test_it_refuses_a_value_copied_from_another_environment_or_version(cast) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "DB_PASS", "dev-value")
    put(alice, "DB_PASS", "prod-value", env="prod")
    secret_update(
        scope=alice, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="dev-2")
    )
    version_one = SecretVersion.objects.get(secret__key="DB_PASS", secret__environment__slug="dev", version=1)

    SecretVersion.objects.filter(pk=current_row("DB_PASS", "dev").pk).update(
        value_ciphertext=version_one.value_ciphertext
    )
    with pytest.raises(DecryptionError):
        value_of(alice, "DB_PASS")

    SecretVersion.objects.filter(pk=current_row("DB_PASS", "prod").pk).update(
        value_ciphertext=version_one.value_ciphertext
    )
    with pytest.raises(DecryptionError):
        value_of(alice, "DB_PASS", env="prod")


@pytest.mark.django_db
def test_it_refuses_swapped_value_and_comment(cast) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "DB_PASS", "the-value", comment="the-comment")
    row = current_row("DB_PASS")
    SecretVersion.objects.filter(pk=row.pk).update(
        value_ciphertext=row.comment_ciphertext, comment_ciphertext=row.value_ciphertext
    )

    with pytest.raises(DecryptionError):
        value_of(alice, "DB_PASS")


@pytest.mark.django_db
def test_it_refuses_a_value_copied_across_projects(cast) -> None:
    alice = cast.scope(cast.alice)
    mallory = project_scope(Principal.for_user(cast.mallory), "evil")
    put(alice, "DB_PASS", "acme-secret")
    put(mallory, "DB_PASS", "evil-value")
    acme_row = SecretVersion.objects.get(secret__project=cast.project, secret__key="DB_PASS")
    evil_row = SecretVersion.objects.get(secret__project=cast.other_project, secret__key="DB_PASS")
    SecretVersion.objects.filter(pk=evil_row.pk).update(value_ciphertext=acme_row.value_ciphertext)

    with pytest.raises(DecryptionError):
        value_of(mallory, "DB_PASS")


@pytest.mark.django_db
def test_it_stores_values_and_comments_only_as_ciphertext(cast) -> None:
    put(cast.scope(cast.alice), "DB_PASS", "plain-value", comment="plain-comment")
    row = current_row("DB_PASS")

    assert b"plain-value" not in bytes(row.value_ciphertext)
    assert b"plain-comment" not in bytes(row.comment_ciphertext)
    assert bytes(row.value_ciphertext)[0] == envelope.FORMAT_V1


@pytest.mark.django_db
@pytest.mark.parametrize("position", [0, 1, 2, 3, 4, 8, -1])
def test_it_reports_a_tampered_stored_ciphertext_as_a_decryption_error(cast, position) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "DB_PASS", "stored-value")
    row = current_row("DB_PASS")
    tampered = bytearray(row.value_ciphertext)
    tampered[position] ^= 0x40
    SecretVersion.objects.filter(pk=row.pk).update(value_ciphertext=bytes(tampered))

    with pytest.raises(DecryptionError):
        value_of(alice, "DB_PASS")
