"""Judging what a scan reads, in memory: does a plain variable look like a secret, and what kind
of credential does a service connection hold.

``looks_secret(name, value)`` is the only place a plain Azure DevOps value is looked at during a
scan. It returns a verdict and a short reason naming the rule ("name", "value shape: JWT") and
never the value or a piece of it: callers store the verdict, drop the value.

Rules, first match wins:
1. known token shapes: the Azure shapes below (storage and Service Bus connection strings, ADO.NET
   connection strings with a password, URLs with a password, SAS signatures), then detect-secrets'
   named detectors (JWT, private keys, GitHub/GitLab, AWS, Slack, Stripe, npm, PyPI, OpenAI,
   Twilio, SendGrid, …: the library keeps that list current);
2. a name that says secret (password, secret, token, apikey, connectionstring, pwd, …) with a value
   that is not obviously a setting (empty, a boolean, a number, a variable reference ``$(…)``);
3. a long, high-entropy value with no spaces that is neither a GUID, a URL nor a path.
detect-secrets' own entropy and keyword plugins are not used: they judge lines of source code, and
given a bare value they flag plain words such as ``production``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import cache
from typing import Any

# detect-secrets secret types → our reasons (the wording shown on the findings page).
_DETECTOR_REASONS = {
    "JSON Web Token": "value shape: JWT",
    "Private Key": "value shape: private key",
    "GitHub Token": "value shape: GitHub token",
    "AWS Access Key": "value shape: AWS access key",
    "Slack Token": "value shape: Slack token",
    "Stripe Access Key": "value shape: Stripe key",
    "GitLab Token": "value shape: GitLab token",
    "NPM tokens": "value shape: npm token",
    "Basic Auth Credentials": "value shape: URL with a password",
}
# Detectors that judge source code or network facts rather than a credential's shape.
_DETECTORS_LEFT_OUT = {"Base64HighEntropyString", "HexHighEntropyString", "KeywordDetector", "IPPublicDetector"}

# (compiled pattern, reason): Azure shapes detect-secrets has no detector for.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"AccountKey=[^;\s]{10,}", re.IGNORECASE), "value shape: storage connection string"),
    (re.compile(r"SharedAccessKey=[^;\s]{10,}", re.IGNORECASE), "value shape: Service Bus connection string"),
    (
        re.compile(r"(?:^|;)\s*(?:Password|Pwd)\s*=\s*[^;\s]+", re.IGNORECASE),
        "value shape: connection string with a password",
    ),
    (re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE), "value shape: URL with a password"),
    (re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{20,}"), "value shape: SAS signature"),
)


@cache
def _detectors() -> tuple[Any, ...]:
    """detect-secrets' named detectors, built once per process."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    return tuple(detector() for detector in classes if detector.__name__ not in _DETECTORS_LEFT_OUT)


def _known_token(text: str) -> str | None:
    """Our reason when a detect-secrets detector recognises *text* (line by line), else None."""
    lines = text.splitlines() or [text]
    for detector in _detectors():
        if any(True for line in lines for _ in detector.analyze_string(line)):
            return _DETECTOR_REASONS.get(detector.secret_type, f"value shape: {detector.secret_type}")
    return None


# Name fragments (compared without separators, lower case) that say "this is a secret".
_NAME_HINTS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "connectionstring",
    "connstr",
    "credential",
    "signingkey",
    "sastoken",
    "clientsecret",
)
# Names with a hint that are settings about secrets, not secrets (PASSWORD_MIN_LENGTH, TOKEN_URL …).
_NAME_EXCEPTIONS = re.compile(r"(length|expir|ttl|url|uri|endpoint|path|file|name|user|header|type|policy|enabled)$")

_NOT_A_SECRET = re.compile(
    r"^(?:true|false|yes|no|on|off|none|null|enabled|disabled|\d+(?:\.\d+)*|\$\([^)]*\)|\$\{\{[^}]*\}\})$",
    re.IGNORECASE,
)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_URL_OR_PATH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|/|\\|[A-Za-z]:\\|\./|~/)", re.IGNORECASE)
_TOKENISH = re.compile(r"^[A-Za-z0-9+/=_\-.~]+$")


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    length = len(value)
    return -sum((n / length) * math.log2(n / length) for n in counts.values())


def _high_entropy(value: str) -> bool:
    if len(value) < 20 or len(value) > 4096 or not _TOKENISH.match(value):
        return False
    if _GUID.match(value) or _URL_OR_PATH.match(value):
        return False
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value)))
    if classes < 2:
        return False
    is_hex = all(c in "0123456789abcdefABCDEF" for c in value)
    # Hex carries at most 4 bits a character; base64-like text up to 6.
    return _entropy(value) >= (3.0 if is_hex and len(value) >= 32 else 4.0)


def _name_says_secret(name: str) -> bool:
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    if not any(hint in flat for hint in _NAME_HINTS):
        return False
    return not _NAME_EXCEPTIONS.search(flat)


def looks_secret(name: str, value: str | None) -> tuple[bool, str]:
    """(verdict, reason) for one plain variable. The reason names the rule, never the value; an
    empty value is never a secret."""
    text = (value or "").strip()
    if not text:
        return False, ""
    for pattern, reason in _SHAPES:
        if pattern.search(text):
            return True, reason
    known = _known_token(text)
    if known is not None:
        return True, known
    if _name_says_secret(name) and not _NOT_A_SECRET.match(text):
        return True, "name"
    if _high_entropy(text):
        return True, "value shape: high entropy"
    return False, ""


# --- service connections ---------------------------------------------------------------------
CLIENT_SECRET = "client_secret"  # noqa: S105 - a kind's name
CERTIFICATE = "certificate"
FEDERATED = "federated"
MANAGED_IDENTITY = "managed_identity"
PASSWORD = "password"  # noqa: S105 - a kind's name
TOKEN = "token"  # noqa: S105 - a kind's name
OTHER = "other"

LEGACY_ISSUER_PREFIXES = ("https://vstoken.dev.azure.com/", "https://vstoken.azure.com/")


def credential_kind(endpoint_type: str, scheme: str, parameters: dict[str, object]) -> str:
    """What a service connection authenticates with (ado-governance.md §3.4), from its type,
    scheme and non-secret parameters."""
    scheme_l = (scheme or "").lower()
    if scheme_l == "serviceprincipal":
        authentication = str(parameters.get("authenticationType") or parameters.get("authenticationtype") or "")
        return CERTIFICATE if authentication.lower() == "spncertificate" else CLIENT_SECRET
    if scheme_l == "workloadidentityfederation":
        return FEDERATED
    if scheme_l == "managedserviceidentity":
        return MANAGED_IDENTITY
    if scheme_l in ("usernamepassword", "basic"):
        return PASSWORD
    if scheme_l in ("token", "personalaccesstoken", "apitoken"):
        return TOKEN
    return OTHER


def is_legacy_issuer(issuer: str) -> bool:
    """A federated connection still on the Azure DevOps issuer (retired 2027-07-01, §3.4)."""
    lowered = (issuer or "").strip().lower()
    return lowered.startswith(LEGACY_ISSUER_PREFIXES) or lowered.startswith("vstoken.")
