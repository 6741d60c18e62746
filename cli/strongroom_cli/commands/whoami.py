"""``strongroom whoami`` (and ``logout``)."""

from __future__ import annotations

import argparse
import sys
import time

from strongroom_cli import config, tokens
from strongroom_cli.http import Client


def handle(args: argparse.Namespace) -> int:
    if args.action == "logout":
        removed = config.forget_login()
        sys.stdout.write("Logged out: stored token removed\n" if removed else "Not logged in\n")
        return 0
    domain = config.resolve_domain(args.domain)
    token = config.resolve_token(args.token, domain)
    client = Client(domain, token)
    claims = tokens.claims(token or "")
    if claims.get("identityId"):
        # Machine identities have no /me/: prove the token works by listing the projects it sees.
        answer = client.request("GET", "/api/v1/projects/")
        projects = [p.get("slug") for p in answer.get("projects", [])] if isinstance(answer, dict) else []
        left = tokens.seconds_left(token or "")
        sys.stdout.write(f"machine identity {claims['identityId']} at {domain}\n")
        if left is not None:
            sys.stdout.write(
                f"token expires in {max(0, int(left))} s ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(claims['exp']))})\n"
            )
        sys.stdout.write(f"projects: {', '.join(str(p) for p in projects) or '(none)'}\n")
        return 0
    answer = client.request("GET", "/api/v1/me/")
    organizations = ", ".join(f"{o.get('slug')} ({o.get('role')})" for o in answer.get("organizations", []))
    sys.stdout.write(f"{answer.get('email')} at {domain}\norganizations: {organizations or '(none)'}\n")
    return 0
