"""Secret keys and values: refused with the field named, or kept byte for byte (security bar E2/E3)."""

from __future__ import annotations

import unicodedata

import pytest
from django.test import override_settings

from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.models import Secret, SecretVersion
from secrets_app.selectors.secrets import secret_get, secret_list
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_update
from secrets_app.validation import encode_secret_value, validate_secret_key
from tests.secrets_app.conftest import put, value_of

MIB = 1024 * 1024

BAD_KEYS = [
    "",
    "a/b",
    "a:b",
    "a\\b",
    "a b",
    " LEADING",
    "TRAILING ",
    "a\tb",
    "a\nb",
    "a\rb",
    "a\x00b",
    "a\x07b",
    "a\x7fb",
    "a\u200bb",  # zero-width space
    "a\u200db",  # zero-width joiner
    "a\ufeffb",  # byte order mark
    "a\u202eb",  # right-to-left override
    "a\u00a0b",  # no-break space
    "a\u2028b",  # line separator
    "a\ud800b",  # lone surrogate
    "${OTHER}",
    "K" * 257,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_it_refuses_keys_with_separators_spaces_invisible_or_control_characters(key) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_secret_key(key)

    assert list(refused.value.fields) == ["key"]


@pytest.mark.parametrize("key", ["DB_PASS", "db-pass", "db.pass", "K" * 256, "CAFÉ", "ключ", "🔑KEY"])
def test_it_accepts_ordinary_keys(key) -> None:
    assert validate_secret_key(key) == unicodedata.normalize("NFC", key)


def test_it_stores_keys_in_nfc() -> None:
    assert validate_secret_key("CAFE\u0301") == "CAF\u00c9"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["a/b", "a:b", "a b", "a\u200bb", "a\x00b", "K" * 257])
def test_it_refuses_a_bad_key_in_every_write_and_names_the_field(cast, key) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "GOOD", "v")

    with pytest.raises(ValidationFailed) as on_create:
        put(alice, key, "v")
    with pytest.raises(ValidationFailed) as on_rename:
        secret_update(scope=alice, environment="dev", path="/", key="GOOD", item=SecretInput(key="GOOD"), new_key=key)
    with pytest.raises(ValidationFailed) as on_bulk:
        secret_bulk_upsert(
            scope=alice,
            environment="dev",
            path="/",
            items=[SecretInput(key="OK", value="1"), SecretInput(key=key, value="2")],
        )

    assert list(on_create.value.fields) == ["key"]
    assert list(on_rename.value.fields) == ["newKey"]
    assert list(on_bulk.value.fields) == ["secrets[1].key"]
    assert list(Secret.objects.filter(project=cast.project).values_list("key", flat=True)) == ["GOOD"]


@pytest.mark.django_db
def test_it_treats_nfc_and_nfd_spellings_as_the_same_key(cast) -> None:
    alice = cast.scope(cast.alice)
    nfc, nfd = "CAF\u00c9_URL", unicodedata.normalize("NFD", "CAF\u00c9_URL")
    assert nfc != nfd
    put(alice, nfc, "first")

    with pytest.raises(Conflict) as clash:
        put(alice, nfd, "second")

    assert clash.value.status == 409
    assert value_of(alice, nfd) == "first"
    secret_update(scope=alice, environment="dev", path="/", key=nfd, item=SecretInput(key=nfd, value="updated"))
    assert value_of(alice, nfc) == "updated"
    assert [view.key for view in secret_list(alice, environment="dev", path="/").secrets] == [nfc]


ROUND_TRIP_VALUES = {
    "pem": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n",
    "crlf": "line one\r\nline two\r\n",
    "trailing-spaces": "  padded value \t  ",
    "nul": "before\x00after",
    "emoji": "p\U0001f511ss\U0001f600",
    "looks-like-reference": "${OTHER} and ${prod.DB_PASS} and $${literal}",
    "empty": "",
    "unicode-line-separators": "a\u2028b\u2029c\x85d",
    "json-ish": '{"a": "\\u0000", "b": [1, 2]}',
    "nfd": unicodedata.normalize("NFD", "caf\u00e9"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(ROUND_TRIP_VALUES))
def test_it_returns_values_byte_for_byte(cast, name) -> None:
    value = ROUND_TRIP_VALUES[name]
    alice = cast.scope(cast.alice)
    put(alice, "VALUE", value, comment=f"comment {value}")

    got = secret_get(alice, environment="dev", path="/", key="VALUE")
    listed = secret_list(alice, environment="dev", path="/", include_values=True).secrets

    assert got.value.encode("utf-8") == value.encode("utf-8")
    assert got.comment == f"comment {value}"
    assert [(view.key, view.value) for view in listed] == [("VALUE", value)]


@pytest.mark.django_db
def test_it_expands_reference_like_text_only_when_asked(cast) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "OTHER", "expanded")
    put(alice, "VALUE", "x-${OTHER}-y")

    assert value_of(alice, "VALUE") == "x-${OTHER}-y"
    assert value_of(alice, "VALUE", expand=True) == "x-expanded-y"
    listing = secret_list(alice, environment="dev", path="/", include_values=True)
    assert {view.key: view.value for view in listing.secrets}["VALUE"] == "x-${OTHER}-y"


@pytest.mark.django_db
def test_it_accepts_a_value_of_exactly_one_mebibyte(cast) -> None:
    alice = cast.scope(cast.alice)
    value = "x" * (MIB - 4) + "\U0001f600"  # 1 MiB of UTF-8, ending in a 4-byte character

    put(alice, "BLOB", value)

    assert value_of(alice, "BLOB") == value


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["x" * (MIB + 1), "\U0001f600" * (MIB // 4 + 1)])
def test_it_refuses_a_value_one_byte_over_a_mebibyte_counting_utf8_bytes(cast, value) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "BLOB", "small")

    with pytest.raises(ValidationFailed) as on_create:
        put(alice, "BIG", value)
    with pytest.raises(ValidationFailed) as on_update:
        secret_update(scope=alice, environment="dev", path="/", key="BLOB", item=SecretInput(key="BLOB", value=value))

    assert list(on_create.value.fields) == ["value"]
    assert list(on_update.value.fields) == ["value"]
    assert value not in str(on_create.value)
    with pytest.raises(NotFound):
        value_of(alice, "BIG")
    assert value_of(alice, "BLOB") == "small"
    assert SecretVersion.objects.filter(secret__key="BLOB").count() == 1


@override_settings(STRONGROOM_MAX_SECRET_BYTES=16)
def test_it_reads_the_value_limit_from_settings() -> None:
    assert encode_secret_value("x" * 16) == b"x" * 16
    with pytest.raises(ValidationFailed):
        encode_secret_value("x" * 17)


@pytest.mark.django_db
def test_it_refuses_a_value_with_a_lone_surrogate(cast) -> None:
    with pytest.raises(ValidationFailed) as refused:
        put(cast.scope(cast.alice), "BROKEN", "abc\ud800def")

    assert list(refused.value.fields) == ["value"]
    assert not Secret.objects.filter(key="BROKEN").exists()


@pytest.mark.django_db
def test_it_refuses_a_comment_that_is_not_valid_unicode(cast) -> None:
    alice = cast.scope(cast.alice)
    put(alice, "KEY", "v")

    with pytest.raises(ValidationFailed) as on_create:
        put(alice, "OTHER", "v", comment="note \udfff")
    with pytest.raises(ValidationFailed) as on_update:
        secret_update(
            scope=alice, environment="dev", path="/", key="KEY", item=SecretInput(key="KEY", comment="\ud800")
        )

    assert list(on_create.value.fields) == ["comment"]
    assert list(on_update.value.fields) == ["comment"]
    assert not Secret.objects.filter(key="OTHER").exists()


@pytest.mark.django_db
def test_it_refuses_a_value_that_is_not_text(cast) -> None:
    with pytest.raises(ValidationFailed) as refused:
        put(cast.scope(cast.alice), "BYTES", b"raw")  # type: ignore[arg-type]

    assert list(refused.value.fields) == ["value"]
