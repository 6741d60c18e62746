"""Large values: after a save, the response warns (never refuses) where the value will not fit —
``strongroom run`` above 32 KiB, a Key Vault sync of the folder above 25,000 bytes. The warning
names the key and its size, never the value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.syncs.kv_support import kv_fixture, make_kv_connection, make_kv_sync  # noqa: F401  (the kv fixture)
from tests.ui.conftest import HX, assert_csp_clean, assert_no_values

CREATE = "/projects/acme/secrets/"
EDIT = "/projects/acme/secrets/item/"
WARNING = 'class="alert alert-warning value-size-warning"'


def _value(marker: str, size: int) -> str:
    """*size* bytes starting with a distinctive *marker*, so its absence from the HTML means something."""
    return marker + "q" * (size - len(marker))


def _assert_value_absent(html: str, value: str) -> None:
    assert value[:16] not in html and "q" * 64 not in html, "the value leaked into the response"
    assert_no_values(html)


@pytest.mark.django_db
def test_a_40_kb_value_added_from_the_matrix_shows_the_run_warning(login: Any, seeded: Any) -> None:
    value = _value("runwarn-Val-7a2e", 40 * 1024)
    response = login(seeded.bob).post(
        CREATE,
        {"key": "TLS_BUNDLE", "environment": "staging", "value": value, "path": "/", "origin": "matrix"},
        **HX,
    )
    assert response.status_code == 200  # warned, not refused
    html = response.content.decode()
    assert "Added TLS_BUNDLE to staging." in html
    assert html.count(WARNING) == 1
    assert "TLS_BUNDLE is 40,960 bytes. `strongroom run` passes values as environment variables" in html
    assert "Linux refuses one over 128 KiB" in html and "strongroom export --format dotenv -o FILE" in html
    assert "Key Vault" not in html  # no sync here
    _assert_value_absent(html, value)
    assert_csp_clean(response)


@pytest.mark.django_db
def test_an_edit_to_a_value_over_128_kib_says_run_will_not_start_with_it(login: Any, seeded: Any) -> None:
    value = _value("toolong-Val-3c9d", 200_000)
    response = login(seeded.bob).post(
        EDIT,
        {
            "environment": "dev", "path": "/", "key": "DATABASE_URL", "version": "1", "new_key": "DATABASE_URL",
            "value": value, "comment": "", "owner_label": "", "purpose": "", "expires_at": "",
        },
        **HX,
    )  # fmt: skip
    assert response.status_code == 200
    html = response.content.decode()
    assert "DATABASE_URL is at v2" in html
    assert "DATABASE_URL is 200,000 bytes." in html
    assert "so `strongroom run` will not start a command with it" in html
    _assert_value_absent(html, value)

    # An edit that keeps the value (empty field) warns about nothing.
    kept = login(seeded.bob).post(
        EDIT,
        {
            "environment": "dev", "path": "/", "key": "DATABASE_URL", "version": "2", "new_key": "DATABASE_URL",
            "value": "", "comment": "", "owner_label": "db-team", "purpose": "", "expires_at": "",
        },
        **HX,
    )  # fmt: skip
    assert kept.status_code == 200 and "Saved. DATABASE_URL is at" in kept.content.decode()
    assert WARNING not in kept.content.decode()


@pytest.mark.django_db
def test_a_26_kb_value_in_a_folder_synced_to_key_vault_shows_the_key_vault_warning(
    login: Any, seeded: Any, kv: Any, settings: Any
) -> None:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    connection = make_kv_connection(seeded, kv)
    make_kv_sync(seeded, connection, kv, name="to-vault", environment="dev", path="/", recursive=True)
    value = _value("kvwarn-Val-61b0", 26_000)
    client = login(seeded.alice)

    # From the panel of a missing cell, in a subfolder of the recursive sync's source.
    response = client.post(
        CREATE,
        {"key": "SIGNING_KEY", "environment": "dev", "value": value, "path": "/backend", "origin": "panel"},
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="secret-panel"' in html
    assert html.count(WARNING) == 1  # 26,000 bytes: under the 32 KiB run warning
    assert (
        "SIGNING_KEY is 26,000 bytes, and this folder is synced to Azure Key Vault (to-vault), "
        "which stores at most 25,000 bytes per secret" in html
    )
    _assert_value_absent(html, value)

    # The same value where no Key Vault sync reads (staging) is not warned about.
    elsewhere = client.post(
        CREATE,
        {"key": "SIGNING_KEY", "environment": "staging", "value": value, "path": "/backend", "origin": "panel"},
        **HX,
    )
    assert elsewhere.status_code == 200 and WARNING not in elsewhere.content.decode()

    # At 25,000 bytes exactly it fits the vault.
    fits = client.post(
        CREATE,
        {"key": "FITS", "environment": "dev", "value": _value("fits-Val", 25_000), "path": "/", "origin": "panel"},
        **HX,
    )
    assert fits.status_code == 200 and WARNING not in fits.content.decode()


@pytest.mark.django_db
def test_a_small_value_shows_no_warning(login: Any, seeded: Any) -> None:
    response = login(seeded.alice).post(
        CREATE,
        {"key": "API_TOKEN", "environment": "dev", "value": "tok-Val-1", "path": "/", "origin": "matrix"},
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Added API_TOKEN to dev." in html
    assert WARNING not in html and "strongroom run" not in html
