"""A. Authorisation isolation, through the real API: the A1 decision matrix against a checked-in
oracle (tests/security/access_oracle.yaml), A2 path canonicalisation and prefix collisions,
A4 references and imports, A5 revocation taking effect at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.security.world import World, build_world, expected, key_for, matches, oracle

P = "/api/v1/projects"


def _call(client: APIClient, principal: str, slug: str, env: str, path: str, action: str) -> Any:
    """One cell of the matrix as the API call a user would make."""
    key = key_for(env, path)
    where = {"environment": env, "path": path}
    base = f"{P}/{slug}/secrets/"
    if action == "list_names":
        return client.get(base, where)
    if action == "export":
        return client.get(base, {**where, "include_values": "true"})
    if action == "read_metadata":
        return client.get(f"{base}{key}/", {**where, "include_value": "false"})
    if action == "read_value":
        return client.get(f"{base}{key}/", where)
    if action == "list_versions":
        return client.get(f"{base}{key}/versions/", where)
    if action == "create":
        return client.post(base, {**where, "key": f"NEW_{principal.upper()}", "value": "fresh"}, format="json")
    if action == "update":
        return client.patch(f"{base}{key}/?environment={env}&path={path}", {"value": f"u-{principal}"}, format="json")
    if action == "rollback":
        return client.post(f"{base}{key}/rollback/", {**where, "version": 1}, format="json")
    if action == "delete":
        return client.delete(f"{base}NEW_{principal.upper()}/?environment={env}&path={path}")
    if action == "manage_roles":
        return client.post(
            f"{P}/{slug}/roles/",
            {
                "slug": "r-" + principal.replace("_", "-"),
                "name": "r",
                "rules": [{"effect": "allow", "action": "secrets.read"}],
            },
            format="json",
        )
    raise AssertionError(action)


def _outcome(response: Any, action: str, key: str) -> str:
    status = response.status_code
    if status >= 400:
        return str(status)
    if action in ("list_names", "export"):
        keys = [secret["key"] for secret in response.json()["secrets"]]
        return "allow" if key in keys else "empty"
    return "allow"


def _run_matrix(world: World, principal: str) -> tuple[list[str], list[str]]:
    """Ask every cell the oracle lists; returns (mismatches, leaks)."""
    spec = oracle()
    mismatches: list[str] = []
    leaks: list[str] = []
    client = world.clients[principal]
    every_key = {key_for(e, p) for e in spec["environments"] for p in spec["paths"]}
    for project_name, project in world.projects.items():
        cells = [
            (env, path, action)
            for env in spec["environments"]
            for path in spec["paths"]
            for action in spec["actions"]
            if any(matches(entry, env, path, action) for entry in spec["asked"][project_name])
        ] + [("dev", "/", action) for action in spec["project_actions"]]
        for env, path, action in cells:
            want = expected(principal, project_name, env, path, action)
            response = _call(client, principal, project.slug, env, path, action)
            got = _outcome(response, action, key_for(env, path))
            if got != want:
                mismatches.append(f"{principal} {project_name} {env}:{path} {action}: expected {want}, got {got}")
            body = response.content.decode()
            # No value may reach a caller who may not read it there, and a refusal names no other secret.
            for value, (vp, ve, vpath) in world.all_values().items():
                if value in body and expected(principal, vp, ve, vpath, "read_value") != "allow":
                    leaks.append(
                        f"{principal} {project_name} {env}:{path} {action} returned a value of {vp} {ve}:{vpath}"
                    )
            if response.status_code >= 400:
                assert set(json.loads(body)) == {"error", "requestId"}, body
                named = sorted(other for other in every_key - {key_for(env, path)} if other in body)
                if named:
                    leaks.append(f"{principal} {project_name} {env}:{path} {action}: the refusal names {named}")
            if action == "update" and response.status_code == 200:
                world.values[(project_name, env, path)].add(f"u-{principal}")
    return mismatches, leaks


COMPAT = "/compat/infisical/api/v3/secrets/raw"


def _run_compat(world: World, principal: str) -> tuple[list[str], list[str]]:
    """The value reads of the matrix again through the Infisical-compatible API (same oracle). A
    caller who may list names but not read values gets the listing with every value blanked there
    (the Infisical clients need the field): "masked"."""
    spec = oracle()
    mismatches: list[str] = []
    leaks: list[str] = []
    client = world.clients[principal]
    for project_name, project in world.projects.items():
        for env in spec["environments"]:
            for path in ("/app", "/app-other"):
                for action, url in (("read_value", f"{COMPAT}/{key_for(env, path)}"), ("export", COMPAT)):
                    want = expected(principal, project_name, env, path, action)
                    if want != "allow" and expected(principal, project_name, env, path, "list_names") == "allow":
                        want = "masked"
                    response = client.get(
                        url, {"workspaceId": str(project.public_id), "environment": env, "secretPath": path}
                    )
                    body = response.content.decode()
                    own = world.values[(project_name, env, path)]
                    got = str(response.status_code)
                    if response.status_code == 200:
                        got = "allow" if any(value in body for value in own) else "masked"
                    if got != want:
                        mismatches.append(
                            f"compat {principal} {project_name} {env}:{path} {action}: expected {want}, got {got}"
                        )
                    for value, (vp, ve, vpath) in world.all_values().items():
                        if value in body and expected(principal, vp, ve, vpath, "read_value") != "allow":
                            leaks.append(
                                f"compat {principal} {project_name} {env}:{path} {action} returned a value of {vp} {ve}:{vpath}"
                            )
    return mismatches, leaks


def test_A1_every_principal_gets_exactly_what_the_oracle_says(cast: Any) -> None:
    """Native API v1 and the Infisical-compatible API (value reads) against one oracle.

    The oracle fixes the status of every refusal per principal and place, so this also proves that
    each endpoint refuses one way (403 for a member refused an action, 404 for a hidden environment or
    project, 401 for a dead credential) and never another."""
    world = build_world(cast)
    mismatches: list[str] = []
    leaks: list[str] = []

    for principal in oracle()["principals"]:
        for run in (_run_matrix, _run_compat):
            found = run(world, principal)
            mismatches += found[0]
            leaks += found[1]

    assert mismatches == [], "\n".join(mismatches)
    assert leaks == [], "\n".join(leaks)


# --- A2: path canonicalisation and prefix collisions ------------------------------------------------


def _ci_world(cast: Any) -> tuple[World, APIClient]:
    world = build_world(cast)
    return world, world.clients["ci_identity"]


def test_A2_keeps_a_grant_on_app_out_of_every_look_alike_folder(cast: Any) -> None:
    """ci_identity holds prod:/app/**. Siblings sharing a prefix, another case, a full-width slash or
    letter, an NFD spelling and traversal never reach anything, and the spelling of /app does not matter."""
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope_for
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    world, ci = _ci_world(cast)
    owner = project_scope_for(Principal.for_user(cast.alice), cast.project)
    folder_create(scope=owner, environment="prod", path="/", name="APP")
    secret_create(scope=owner, environment="prod", path="/APP", item=SecretInput(key="UPPER", value="upper-secret"))

    def value(path: str, key: str) -> Any:
        return ci.get(f"{P}/acme/secrets/{key}/", {"environment": "prod", "path": path})

    key = key_for("prod", "/app")
    assert value("/app", key).status_code == 200
    assert value("/app/", key).status_code == 200  # one trailing slash: the same folder
    assert value("app", key).status_code == 200  # a missing leading slash: the same folder
    assert value("/APP", "UPPER").status_code == 403  # another folder: names are case-sensitive
    for sibling in ("/app-other", "/application"):
        assert value(sibling, key_for("prod", sibling)).status_code == 403
    for spelling in ("/app/../app-other", "/app/./db", "//app", "/\uff0fapp", "\uff0fapp", "/\uff41pp", "/a\u0300pp"):
        answer = value(spelling, key)
        assert answer.status_code == 400, (spelling, answer.content)
        assert answer.json()["error"]["fields"].keys() == {"path"}
    assert b"upper-secret" not in value("/APP", "UPPER").content


@pytest.mark.parametrize("name", ["app*", "a?", "[ab]", "a+b", "**", "app/x", "..", "caf\u00e9", "cafe\u0301"])
def test_A2_refuses_folder_and_environment_names_that_are_not_plain_segments(cast: Any, api: Any, name: str) -> None:
    client = api(cast.alice)

    folder = client.post(f"{P}/acme/folders/", {"environment": "dev", "path": "/", "name": name}, format="json")
    environment = client.post(f"{P}/acme/environments/", {"slug": name, "name": "x"}, format="json")

    assert folder.status_code == 400 and "name" in folder.json()["error"]["fields"]
    assert environment.status_code == 400 and "slug" in environment.json()["error"]["fields"]


# The reference rules for a folder path, written independently of secrets_app.paths.
SEGMENT_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _reference_canonical(raw: str) -> str | None:
    import unicodedata

    text = unicodedata.normalize("NFC", raw.strip()) or "/"
    if len(text) > 1024:
        return None
    if not text.startswith("/"):
        text = "/" + text
    parts = text.split("/")[1:]
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if len(parts) > 20:
        return None
    if any(not part or len(part) > 64 or not set(part) <= SEGMENT_CHARS for part in parts):
        return None
    return "/" + "/".join(parts)


def test_A2_canonicalises_every_path_as_the_reference_rules_say() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from secrets_app.errors import ValidationFailed
    from secrets_app.paths import canonical_path, path_matches

    pieces = st.sampled_from(
        ["/", "app", "APP", "app-other", "application", "db", ".", "..", "*", "**", "?", "[a]", "+", "\\", "%2e",
         "\uff0f", "\uff41", "e\u0301", "\u00e9", "\u200b", "\u202e", "\x00", "\n", " ", "_", "-", "a" * 65]
    )  # fmt: skip

    @settings(max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(pieces, max_size=12).map("".join))
    def agrees(raw: str) -> None:
        want = _reference_canonical(raw)
        try:
            got = canonical_path(raw)
        except ValidationFailed as refused:
            assert want is None, (raw, want)
            assert refused.fields.keys() == {"path"}
            return
        assert got == want, raw
        assert canonical_path(got) == got  # idempotent
        segments = got.split("/")[1:] if got != "/" else []
        # A grant on /app/** covers exactly the paths whose first segment is "app", nothing sharing a prefix.
        assert path_matches("/app/**", got) == (segments[:1] == ["app"]), got
        assert path_matches("/app", got) == (segments == ["app"]), got

    agrees()


# --- A4: references and imports stay within the reader's rights -----------------------------------


def test_A4_never_expands_or_imports_prod_for_a_dev_only_reader_anywhere(cast: Any, api: Any, caplog: Any) -> None:
    import logging

    from audit.models import AuditEvent
    from secrets_app.services.folders import folder_create, import_create
    from secrets_app.services.secrets import SecretInput, secret_create

    alice = cast.scope(cast.alice)
    prod_value = "prod-only-9f3c1e"
    folder_create(scope=alice, environment="prod", path="/", name="shared")
    secret_create(scope=alice, environment="prod", path="/", item=SecretInput(key="DB_PASS", value=prod_value))
    secret_create(scope=alice, environment="prod", path="/shared", item=SecretInput(key="SHARED", value=prod_value))
    secret_create(scope=alice, environment="dev", path="/", item=SecretInput(key="HOST", value="dev-host"))
    secret_create(scope=alice, environment="dev", path="/", item=SecretInput(key="ABS", value="${prod.DB_PASS}"))
    secret_create(scope=alice, environment="dev", path="/", item=SecretInput(key="NESTED", value="${ABS}@${HOST}"))
    import_create(scope=alice, environment="dev", path="/", source_environment="prod", source_path="/shared")
    erin, bob = api(cast.erin), api(cast.bob)
    dev = {"environment": "dev", "path": "/", "expand": "true", "include_imports": "true"}

    with caplog.at_level(logging.DEBUG):
        answers = [
            erin.get(f"{P}/acme/secrets/NESTED/", dev),
            erin.get(f"{P}/acme/secrets/ABS/", dev),
            erin.get(f"{P}/acme/secrets/", {**dev, "include_values": "true"}),
            erin.get(f"{P}/acme/secrets/", {**dev, "include_values": "true", "recursive": "true"}),
            erin.get(f"{P}/acme/secrets/SHARED/", dev),
        ]
        allowed = bob.get(f"{P}/acme/secrets/NESTED/", dev)

    assert [answer.status_code for answer in answers[:4]] == [200, 200, 200, 200]
    assert answers[0].json()["value"] == "${prod.DB_PASS}@dev-host"  # left literal, the dev part expanded
    assert answers[4].status_code in (403, 404)
    assert "SHARED" not in {s["key"] for s in answers[2].json()["secrets"]}
    for answer in answers:
        assert prod_value not in answer.content.decode()
    assert prod_value not in caplog.text
    assert prod_value not in str(list(AuditEvent.objects.values()))
    # A reader with prod access gets the nested reference resolved where it points.
    assert allowed.json()["value"] == f"{prod_value}@dev-host"


# --- A5: revocation and deny take effect on the next request ----------------------------------------


def test_A5_takes_away_access_on_the_very_next_request(cast: Any, api: Any) -> None:
    from secrets_app.models import ProjectMembership
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    alice = cast.scope(cast.alice)
    folder_create(scope=alice, environment="prod", path="/", name="app")
    folder_create(scope=alice, environment="prod", path="/app", name="db")
    secret_create(scope=alice, environment="prod", path="/app", item=SecretInput(key="API", value="api-v"))
    secret_create(scope=alice, environment="prod", path="/app/db", item=SecretInput(key="PW", value="db-v"))
    admin, bob = api(cast.alice), api(cast.bob)
    membership = ProjectMembership.objects.get(project=cast.project, user=cast.bob)

    def reads() -> tuple[int, int]:
        app = bob.get(f"{P}/acme/secrets/API/", {"environment": "prod", "path": "/app"})
        db = bob.get(f"{P}/acme/secrets/PW/", {"environment": "prod", "path": "/app/db"})
        return app.status_code, db.status_code

    assert reads() == (200, 200)
    # A deny on /app/db under an allow on /app/** wins, whatever the order the rules are listed in.
    for rules in (
        [{"effect": "allow", "action": "secrets.*", "path": "/app/**"}, {"effect": "deny", "action": "secrets.read_value", "path": "/app/db/**"}],
        [{"effect": "deny", "action": "secrets.read_value", "path": "/app/db/**"}, {"effect": "allow", "action": "secrets.*", "path": "/app/**"}],
    ):  # fmt: skip
        admin.delete(f"{P}/acme/roles/app-no-db/")
        made = admin.post(f"{P}/acme/roles/", {"slug": "app-no-db", "name": "App", "rules": rules}, format="json")
        assert made.status_code == 201, made.content
        changed = admin.patch(f"{P}/acme/members/{membership.pk}/", {"role": "app-no-db"}, format="json")
        assert changed.status_code == 200, changed.content
        assert reads() == (200, 403)
        assert admin.patch(f"{P}/acme/members/{membership.pk}/", {"role": "member"}, format="json").status_code == 200
    # Editing the role in use changes the next answer too.
    admin.patch(f"{P}/acme/members/{membership.pk}/", {"role": "app-no-db"}, format="json")
    edited = admin.patch(
        f"{P}/acme/roles/app-no-db/",
        {"rules": [{"effect": "deny", "action": "secrets.*"}, {"effect": "allow", "action": "secrets.*"}]},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    app, db = reads()  # the deny on everything beats the allow on everything (403, or 404: prod is hidden)
    assert app in (403, 404) and db in (403, 404)
    # Removing the membership ends everything at once.
    admin.patch(f"{P}/acme/members/{membership.pk}/", {"role": "member"}, format="json")
    assert reads() == (200, 200)
    assert admin.delete(f"{P}/acme/members/{membership.pk}/").status_code == 204
    assert reads() == (404, 404)
