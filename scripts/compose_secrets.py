#!/usr/bin/env python3
"""Create the secret files docker-compose.yml mounts: ``python3 scripts/compose_secrets.py [DIR]``.

Writes, only where missing (an existing file is never overwritten — that would lose the root key):

* ``strongroom_secret_key``   Django's signing key (sessions, CSRF)
* ``strongroom_root_key``     the root key: 32 random bytes, base64. Back it up apart from the
                               database backups; without it no secret can be decrypted.
* ``postgres_password``       the password of the owner role ``strongroom`` (POSTGRES_USER),
* ``strongroom_database_owner_url`` the owner's URL, holding that password: only the one-shot
                               ``migrate`` service gets it (migrations, ``db_roles``, bootstrap), and
* ``strongroom_database_url`` the URL web, worker and beat use: the app role ``strongroom_app``
                               with a password of its own (``db_roles`` sets it from this URL).

Upgrading from a release where the app connected as the owner: a ``strongroom_database_url`` that
still names the owner is rewritten to the app role (the one exception to "never overwritten").

The folder is 0700 so other users of the host cannot read it. The files are 0644 because the
containers read them as their own users (uid 10001 for the app, 999 for postgres) through a bind
mount that keeps the host's owner and mode. Standard library only: runs with any Python 3.11.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
OWNER_ROLE = "strongroom"  # POSTGRES_USER in docker-compose.yml
APP_ROLE = "strongroom_app"


def _write_once(path: Path, value: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o644)  # whatever the umask
    return True


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else ROOT / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    # Keep these out of git even if .gitignore is edited.
    _write_once(folder / ".gitignore", "*")

    password_file = folder / "postgres_password"
    created = _write_once(password_file, secrets.token_urlsafe(32))
    print(f"{'created' if created else 'kept   '} {password_file}")
    password = password_file.read_text(encoding="utf-8").strip()

    app_url = f"postgres://{APP_ROLE}:{secrets.token_urlsafe(32)}@postgres:5432/strongroom"
    wanted = {
        "strongroom_secret_key": secrets.token_urlsafe(50),
        "strongroom_root_key": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
        "strongroom_database_owner_url": f"postgres://{OWNER_ROLE}:{password}@postgres:5432/strongroom",
        "strongroom_database_url": app_url,
    }
    app_file = folder / "strongroom_database_url"
    if app_file.exists() and urlsplit(app_file.read_text(encoding="utf-8").strip()).username == OWNER_ROLE:
        app_file.unlink()  # written by an older release: the app connected as the owner
        print(f"replacing {app_file}: the app now connects as {APP_ROLE}, not the owner")
    for name, value in wanted.items():
        created = _write_once(folder / name, value)
        print(f"{'created' if created else 'kept   '} {folder / name}")
    print("Back up strongroom_root_key somewhere other than the database backups.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
