"""A. Authorisation isolation, through the real API: the A1 decision matrix against a checked-in
oracle (tests/security/access_oracle.yaml), A2 path canonicalisation and prefix collisions,
A4 references and imports, A5 revocation taking effect at once."""

from __future__ import annotations

import json
from typing import Any

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


def test_A1_every_principal_gets_exactly_what_the_oracle_says(cast: Any) -> None:
    """The oracle fixes the status of every refusal per principal and place, so this also proves that
    each endpoint refuses one way (403 for a member refused an action, 404 for a hidden environment or
    project, 401 for a dead credential) and never another."""
    world = build_world(cast)
    mismatches: list[str] = []
    leaks: list[str] = []

    for principal in oracle()["principals"]:
        found = _run_matrix(world, principal)
        mismatches += found[0]
        leaks += found[1]

    assert mismatches == [], "\n".join(mismatches)
    assert leaks == [], "\n".join(leaks)
