"""The resource page and the import wizard, after a real scan of the EstateEmulator: an admin maps a
group, sees what the import will do, applies it, types (or uploads) the secret values Azure DevOps
never returns, and hands the group over to a sync; no page ever shows a value."""

from __future__ import annotations

import re
from typing import Any

import pytest

from estate.models import EstateImport, ImportStatus
from tests.estate.conftest import (
    PIPELINE_SECRET_VALUE,
    PLAIN_PASSWORD_VALUE,
    PLAIN_SECRET_VALUE,
    PLAIN_SETTING_VALUE,
    SECRET_VALUE,
)
from tests.estate.conftest_imports import (
    ENTERED_VALUE,
    KV_DB_PASSWORD,
    Scanned,
    assert_no_value_leaked,
    kv_fixture,  # noqa: F401 - the kv fixture
    make_kv_connection,
    scanned_fixture,  # noqa: F401 - the scanned fixture
    value_of,
)
from tests.estate.ui_fixtures import signed_in

pytestmark = pytest.mark.django_db(transaction=False)
VALUES = (PLAIN_SECRET_VALUE, PLAIN_PASSWORD_VALUE, PLAIN_SETTING_VALUE, SECRET_VALUE, PIPELINE_SECRET_VALUE)
ESTATE = "/org/acme-org/estate/"


def _no_value(html: str) -> None:
    for value in (*VALUES, ENTERED_VALUE):
        assert value not in html, "a value is on the page"


def _mapping(html: str) -> dict[str, str]:
    """The map form's hidden names and key inputs: {ADO name: index}."""
    return {name: index for index, name in re.findall(r'name="name_(\d+)" value="([^"]+)"', html)}


def test_the_estate_page_after_a_scan_lists_names_and_never_a_value(scanned: Scanned) -> None:
    alice = signed_in(scanned.cast.alice)

    html = alice.get(ESTATE).content.decode()
    plain = alice.get(ESTATE, {"finding": "plain_secret_variable"}, HTTP_HX_REQUEST="true").content.decode()

    for name in ("app-settings", "legacy", "kv-prod", "web-ci", "arm-prod", "signing.pfx"):
        assert f">{name}</a>" in html
    assert set(re.findall(r'class="row-link" href="[^"]+">([^<]+)</a>', plain)) == {"app-settings", "legacy"}
    _no_value(html + plain)


def test_the_resource_page_shows_flags_pipelines_and_findings_without_values(scanned: Scanned) -> None:
    alice = signed_in(scanned.cast.alice)
    group = scanned.resource("app-settings")
    pipeline = scanned.resource("web-ci", "pipeline")

    html = alice.get(f"{ESTATE}resources/{group.pk}/").content.decode()
    pipeline_html = alice.get(f"{ESTATE}resources/{pipeline.pk}/").content.decode()

    row = re.search(r'<tr data-variable="API_TOKEN">.*?</tr>', html, re.S)
    assert row is not None and "plain" in row.group(0) and "looks like a secret" in row.group(0)
    secret_row = re.search(r'<tr data-variable="DB_PASSWORD">.*?</tr>', html, re.S)
    assert secret_row is not None and 'badge ok">secret' in secret_row.group(0)
    assert "Open to <strong>every pipeline</strong>" in html
    assert "Secret stored as a plain variable" in html and 'id="import-button"' in html
    assert "Not imported yet." in html
    assert f'href="{ESTATE}resources/{group.pk}/"' in pipeline_html  # the group it uses
    _no_value(html + pipeline_html)


def test_it_walks_the_wizard_of_a_plain_group_from_mapping_to_a_sync(scanned: Scanned) -> None:
    alice = signed_in(scanned.cast.alice)
    group = scanned.resource("app-settings")
    new_url = f"{ESTATE}resources/{group.pk}/import/"

    form = alice.get(new_url).content.decode()
    rows = _mapping(form)
    assert set(rows) == {"API_TOKEN", "DB_PASSWORD", "REGION"}
    assert '<option value="acme" selected>' in form
    environments = alice.get(new_url, {"project": "acme"}, HTTP_HX_REQUEST="true").content.decode()
    assert environments.strip().startswith('<div class="est-target" id="import-target">')
    assert 'value="dev"' in environments and 'value="prod"' in environments

    post = {"project": "acme", "environment": "dev", "path": "/app"}
    for name, index in rows.items():
        post[f"name_{index}"] = name
        post[f"key_{index}"] = "AWS_REGION" if name == "REGION" else name
    created = alice.post(new_url, post)
    estate_import = EstateImport.objects.get(resource=group)
    detail = f"{ESTATE}imports/{estate_import.public_id}/"
    assert created.status_code == 302 and created["Location"] == f"{detail}?notice=created"

    preview = alice.get(created["Location"]).content.decode()
    assert 'data-table="preview"' in preview and "Mapping saved" in preview
    assert re.search(r'data-variable="DB_PASSWORD">.*?needs a value', preview, re.S)
    assert re.search(r'data-variable="REGION">.*?AWS_REGION.*?badge ok">create', preview, re.S)
    _no_value(preview)

    applied = alice.post(detail, {"action": "apply"})
    assert applied.status_code == 302 and applied["Location"] == f"{detail}?notice=applied"
    assert value_of(scanned.cast, "dev", "/app", "API_TOKEN") == PLAIN_SECRET_VALUE
    assert value_of(scanned.cast, "dev", "/app", "AWS_REGION") == PLAIN_SETTING_VALUE
    step3 = alice.get(applied["Location"]).content.decode()
    field = re.search(r'<input type="password" id="value-(\d+)" name="(value_\d+)"', step3)
    assert field is not None and 'data-yaml="oidc"' in step3 and 'data-yaml="cli"' in step3
    _no_value(step3)

    entered = alice.post(detail, {"action": "values", field.group(2): ENTERED_VALUE})
    assert entered.status_code == 302, entered.content.decode()[:2000]
    assert value_of(scanned.cast, "dev", "/app", "DB_PASSWORD") == ENTERED_VALUE
    estate_import.refresh_from_db()
    assert estate_import.status == ImportStatus.COMPLETE
    done = alice.get(entered["Location"]).content.decode()
    assert 'id="values-form"' not in done and 'id="convert-form"' in done
    _no_value(done)

    unconfirmed = alice.post(detail, {"action": "convert"})
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.content.decode()
    converted = alice.post(detail, {"action": "convert", "confirm": "1", "sync_name": "app-settings-sync"})
    assert converted.status_code == 302
    estate_import.refresh_from_db()
    assert estate_import.sync is not None and estate_import.sync.name == "app-settings-sync"
    assert "Managed by the sync" in alice.get(detail).content.decode()
    assert_no_value_leaked()


def test_values_from_a_csv_and_a_bad_csv_names_the_line_not_the_value(scanned: Scanned) -> None:
    from estate.services.imports import import_apply, import_create

    alice = signed_in(scanned.cast.alice)
    estate_import = import_create(
        principal=scanned.alice,
        organization=scanned.cast.organization,
        resource=scanned.resource("app-settings"),
        project="acme",
        environment="dev",
        path="/app",
    )
    import_apply(principal=scanned.alice, estate_import=estate_import)
    detail = f"{ESTATE}imports/{estate_import.public_id}/"

    bad = alice.post(detail, {"action": "values", "csv_text": f"name,value\nNOPE,{ENTERED_VALUE}\n"})
    assert bad.status_code == 400 and "is not a variable of this import" in bad.content.decode()
    _no_value(bad.content.decode())
    empty = alice.post(detail, {"action": "values"})
    assert empty.status_code == 400 and "Type at least one value" in empty.content.decode()

    good = alice.post(detail, {"action": "values", "csv_text": f"name,value\nDB_PASSWORD,{ENTERED_VALUE}\n"})
    assert good.status_code == 302
    assert value_of(scanned.cast, "dev", "/app", "DB_PASSWORD") == ENTERED_VALUE


def test_a_bad_mapping_is_refused_naming_the_field(scanned: Scanned) -> None:
    alice = signed_in(scanned.cast.alice)
    group = scanned.resource("legacy")

    response = alice.post(
        f"{ESTATE}resources/{group.pk}/import/", {"project": "acme", "environment": "nowhere", "path": "/x"}
    )

    assert response.status_code in (400, 404)
    assert 'id="import-error"' in response.content.decode()
    assert not EstateImport.objects.exists()


def test_a_key_vault_group_is_read_through_the_chosen_key_vault_connection(scanned: Scanned, kv: Any) -> None:
    from estate.services.imports import import_create

    kv.seed("db-password", KV_DB_PASSWORD)
    kv_connection = make_kv_connection(scanned.cast, kv)
    wrong = make_kv_connection(scanned.cast, kv, secret="wrong-secret", name="kv-wrong")
    estate_import = import_create(
        principal=scanned.alice,
        organization=scanned.cast.organization,
        resource=scanned.resource("kv-prod"),
        project="acme",
        environment="prod",
        path="/",
    )
    alice = signed_in(scanned.cast.alice)
    detail = f"{ESTATE}imports/{estate_import.public_id}/"

    picker = alice.get(detail).content.decode()
    read = alice.get(detail, {"key_vault_connection": str(kv_connection.public_id), "vault_url": kv.vault_url})
    refused = alice.post(
        detail, {"action": "apply", "key_vault_connection": str(wrong.public_id), "vault_url": kv.vault_url}
    )
    assert value_of(scanned.cast, "prod", "/", "db-password") is None  # nothing half-written
    applied = alice.post(
        detail, {"action": "apply", "key_vault_connection": str(kv_connection.public_id), "vault_url": kv.vault_url}
    )

    assert 'id="kv-connection"' in picker and "acme-kv" in picker and 'id="apply-button"' in picker
    assert "The vault is readable" in read.content.decode()
    assert re.search(r'data-variable="db-password">.*?Key Vault.*?badge ok">create', read.content.decode(), re.S)
    assert refused.status_code == 400 and "could not be read" in refused.content.decode()
    assert applied.status_code == 302
    assert value_of(scanned.cast, "prod", "/", "db-password") == KV_DB_PASSWORD
    for response in (picker, read.content.decode(), refused.content.decode()):
        assert KV_DB_PASSWORD not in response
    assert_no_value_leaked()


def test_only_organization_admins_reach_the_resource_and_the_wizard(scanned: Scanned) -> None:
    from estate.services.imports import import_create

    cast = scanned.cast
    group = scanned.resource("app-settings")
    estate_import = import_create(
        principal=scanned.alice,
        organization=cast.organization,
        resource=group,
        project="acme",
        environment="dev",
        path="/",
    )
    urls = [
        f"{ESTATE}resources/{group.pk}/",
        f"{ESTATE}resources/{group.pk}/import/",
        f"{ESTATE}imports/{estate_import.public_id}/",
    ]
    for user, status in ((cast.bob, 403), (cast.charlie, 403), (cast.mallory, 404)):
        client = signed_in(user)
        for url in urls:
            assert client.get(url).status_code == status, (user.email, url)
        assert client.post(urls[2], {"action": "apply"}).status_code == status
        assert client.post(urls[1], {"project": "acme", "environment": "dev", "path": "/"}).status_code == status
    assert value_of(cast, "dev", "/", "API_TOKEN") is None
    assert signed_in(cast.alice).get(f"{ESTATE}resources/999999/").status_code == 404
    endpoint = scanned.resource("arm-prod", "service_connection")
    not_importable = signed_in(cast.alice).get(f"{ESTATE}resources/{endpoint.pk}/import/")
    assert (
        not_importable.status_code == 400 and "only a variable group or a pipeline" in not_importable.content.decode()
    )


def test_a_pipeline_import_shows_the_yaml_without_the_variables(scanned: Any) -> None:
    from estate.services.imports import import_apply, import_create

    estate_import = import_create(
        principal=scanned.alice,
        organization=scanned.cast.organization,
        resource=scanned.resource("web-ci", "pipeline"),
        project="acme",
        environment="dev",
        path="/ci",
    )
    import_apply(principal=scanned.alice, estate_import=estate_import)

    html = signed_in(scanned.cast.alice).get(f"{ESTATE}imports/{estate_import.public_id}/").content.decode()

    assert "strongroom login" in html and "jwt-auth" in html
    assert 'id="convert"' not in html  # only a group becomes a sync target
    _no_value(html)
