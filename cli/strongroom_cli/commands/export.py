"""``strongroom export``: the secrets of a folder in one of the formats of formats.py.

Keys are sorted by their UTF-8 bytes (as Infisical sorts), ``--prefix`` is prepended to each.
``-o FILE`` replaces FILE atomically with mode 0600. For ``github-actions`` the ``::add-mask::``
lines always go to stdout (the runner reads them there) and the ``KEY<<DELIM`` lines go to
``-o FILE``, else are appended to ``$GITHUB_ENV`` when it is set, else follow on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

from strongroom_cli import config, formats, source
from strongroom_cli.http import Client


def handle(args: argparse.Namespace) -> int:
    domain = config.resolve_domain(args.domain)
    client = Client(domain, config.resolve_token(args.token, domain))
    project = config.pick(args.project_id, config.PROJECT_ENV)
    items = source.fetch_secrets(
        client,
        project=project,
        environment=args.environment,
        paths=args.paths or ["/"],
        recursive=args.recursive,
        include_imports=args.include_imports,
        expand=args.expand,
        tags=args.tags,
    )
    merged = source.merge(items)
    pairs = sorted(((args.prefix + key, value) for key, value in merged.items()), key=lambda p: p[0].encode("utf-8"))
    if args.format == "github-actions":
        return _github_actions(pairs, args.output)
    text = formats.FORMATS[args.format](pairs, project=project or "", environment=args.environment)
    if args.output:
        config.write_private_file(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _github_actions(pairs: formats.Pairs, output: str) -> int:
    masks, env_lines = formats.github_masks(pairs), formats.github_env(pairs)
    sys.stdout.write(masks)
    sys.stdout.flush()
    if output:
        config.write_private_file(output, env_lines)
    elif os.environ.get("GITHUB_ENV"):
        with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8", newline="") as handle:
            handle.write(env_lines)
    else:
        sys.stdout.write(env_lines)
    return 0
