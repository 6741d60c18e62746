"""Where settings come from (flag, then environment, then the stored login) and the token store.

The stored login lives in ``$XDG_CONFIG_HOME/strongroom/credentials.json`` (default
``~/.config/strongroom/``; ``STRONGROOM_CONFIG_DIR`` overrides the folder), mode 0600 in a 0700
folder. A stored token is only ever sent to the domain it was issued by.
"""

from __future__ import annotations

import json
import os
import time

from strongroom_cli.errors import AUTH, CliError

DEFAULT_DOMAIN = "http://127.0.0.1:8000"

# First set wins. Strongroom's names first, then the Infisical CLI's (so pipelines written for it
# work unchanged). Infisical's bare ``TOKEN`` is deliberately not read: too generic a name.
TOKEN_ENV = ("STRONGROOM_TOKEN", "INFISICAL_UNIVERSAL_AUTH_ACCESS_TOKEN", "INFISICAL_TOKEN")
DOMAIN_ENV = ("STRONGROOM_API_URL", "INFISICAL_DOMAIN", "INFISICAL_API_URL")
PROJECT_ENV = ("STRONGROOM_PROJECT_ID", "INFISICAL_PROJECT_ID")
CLIENT_ID_ENV = ("STRONGROOM_CLIENT_ID", "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID")
CLIENT_SECRET_ENV = ("STRONGROOM_CLIENT_SECRET", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET")
IDENTITY_ID_ENV = ("STRONGROOM_MACHINE_IDENTITY_ID", "INFISICAL_MACHINE_IDENTITY_ID")
JWT_ENV = ("STRONGROOM_JWT", "INFISICAL_JWT", "INFISICAL_OIDC_AUTH_JWT")
K8S_TOKEN_PATH_ENV = (
    "STRONGROOM_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH",
    "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH",
)
K8S_DEFAULT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 (a path)


def first_env(names: tuple) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def pick(flag: str | None, names: tuple) -> str | None:
    """A flag always beats its environment variables."""
    return flag if flag else first_env(names)


def normalize_domain(url: str) -> str:
    """``https://host/api`` (Infisical's form) and ``https://host/compat/infisical[/api]`` both mean
    ``https://host``: the CLI speaks the native API under ``/api/v1/``."""
    url = url.strip().rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    if url.endswith("/compat/infisical"):
        url = url[: -len("/compat/infisical")]
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--domain must be a URL such as https://strongroom.example.com (got {url!r})")
    return url.rstrip("/")


def config_dir() -> str:
    explicit = os.environ.get("STRONGROOM_CONFIG_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "strongroom")


def credentials_path() -> str:
    return os.path.join(config_dir(), "credentials.json")


def stored_login() -> dict[str, object]:
    """The stored login, or {} when there is none (or it cannot be read)."""
    try:
        with open(credentials_path(), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def store_login(*, domain: str, token: str, expires_in: int | None, method: str) -> str:
    """Write the login atomically with mode 0600 (the folder 0700); returns the file's path."""
    folder = config_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    data = {
        "domain": domain,
        "token": token,
        "method": method,
        "expiresAt": int(time.time()) + int(expires_in) if expires_in else None,
    }
    write_private_file(credentials_path(), json.dumps(data, indent=2) + "\n")
    return credentials_path()


def forget_login() -> bool:
    try:
        os.unlink(credentials_path())
    except FileNotFoundError:
        return False
    return True


def write_private_file(path: str, text: str) -> None:
    """Atomically replace *path* with *text*, readable by its owner only (0600) from the first byte."""
    import tempfile  # not at module level: it costs milliseconds on every start

    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".strongroom-", dir=directory)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def resolve_domain(flag: str | None) -> str:
    explicit = pick(flag, DOMAIN_ENV)
    if explicit:
        return normalize_domain(explicit)
    stored = stored_login().get("domain")
    if isinstance(stored, str) and stored:
        return normalize_domain(stored)
    return DEFAULT_DOMAIN


def resolve_token(flag: str | None, domain: str, *, required: bool = True) -> str | None:
    token = pick(flag, TOKEN_ENV)
    if token:
        return token.strip()
    stored = stored_login()
    if stored.get("token") and isinstance(stored.get("domain"), str):
        if normalize_domain(str(stored["domain"])) == domain:
            return str(stored["token"])
    if required:
        raise CliError(
            "no token: pass --token, set STRONGROOM_TOKEN (or INFISICAL_TOKEN), or run `strongroom login` first",
            AUTH,
        )
    return None
