"""``strongroom login``: exchange machine-identity credentials for an access token.

``--plain`` prints only the token (for ``TOKEN=$(strongroom login … --silent --plain)``) and stores
nothing; otherwise the token is stored in the config folder (0600) for later commands.
"""

from __future__ import annotations

import argparse
import sys

from strongroom_cli import config
from strongroom_cli.errors import AUTH, USAGE, CliError
from strongroom_cli.http import Client

METHODS = ("universal-auth", "jwt-auth", "oidc-auth", "kubernetes", "kubernetes-auth")
ROUTES = {
    "universal-auth": "/api/v1/auth/universal-auth/login",
    "jwt-auth": "/api/v1/auth/jwt-auth/login",
    "oidc-auth": "/api/v1/auth/oidc-auth/login",
    "kubernetes": "/api/v1/auth/kubernetes-auth/login",
}


def _require(value: str | None, what: str) -> str:
    if not value:
        raise CliError(f"login: {what} is required", USAGE)
    return value


def login_body(method: str, args: argparse.Namespace) -> dict:
    if method == "universal-auth":
        return {
            "clientId": _require(
                config.pick(args.client_id, config.CLIENT_ID_ENV), "--client-id (or STRONGROOM_CLIENT_ID)"
            ),
            "clientSecret": _require(
                config.pick(args.client_secret, config.CLIENT_SECRET_ENV),
                "--client-secret (or STRONGROOM_CLIENT_SECRET)",
            ),
        }
    identity = _require(
        config.pick(args.machine_identity_id, config.IDENTITY_ID_ENV),
        "--machine-identity-id (or STRONGROOM_MACHINE_IDENTITY_ID)",
    )
    if method == "kubernetes":
        path = config.pick(args.service_account_token_path, config.K8S_TOKEN_PATH_ENV) or config.K8S_DEFAULT_TOKEN_PATH
        try:
            with open(path, encoding="utf-8") as handle:
                jwt = handle.read().strip()
        except OSError as exc:
            raise CliError(f"login: cannot read the service account token {path}: {exc.strerror}", USAGE) from None
        return {"identityId": identity, "jwt": _require(jwt, f"a token in {path}")}
    return {"identityId": identity, "jwt": _require(config.pick(args.jwt, config.JWT_ENV), "--jwt (or STRONGROOM_JWT)")}


def login(client: Client, method: str, body: dict) -> dict:
    answer = client.request("POST", ROUTES[method], body=body, auth=False, idempotent_post=False)
    if not isinstance(answer, dict) or not isinstance(answer.get("accessToken"), str):
        raise CliError("login answered without an accessToken: is --domain a Strongroom server?", AUTH)
    return answer


def handle(args: argparse.Namespace) -> int:
    method = "kubernetes" if args.method == "kubernetes-auth" else args.method
    domain = config.resolve_domain(args.domain)
    body = login_body(method, args)
    answer = login(Client(domain), method, body)
    token = answer["accessToken"]
    if args.plain:
        sys.stdout.write(token + "\n")
        return 0
    expires_in = answer.get("expiresIn") if isinstance(answer.get("expiresIn"), int) else None
    path = config.store_login(domain=domain, token=token, expires_in=expires_in, method=method)
    if not args.silent:
        lifetime = f", valid {expires_in} s" if expires_in else ""
        sys.stdout.write(f"Logged in to {domain} with {method}{lifetime}; token stored in {path}\n")
    return 0
