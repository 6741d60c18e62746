"""Suggesting where an Azure DevOps variable group or pipeline lands in Strongroom, and which key
each of its variables becomes. Pure guesswork over names: nothing here reads Azure DevOps or a value.

Keys: an Azure DevOps name that is already a valid Strongroom key (``secrets_app.validation``) is
kept as it is, case and dots included (``db.password`` stays ``db.password``). This is deliberate:
converting the import into a sync pushes every key *under its own name* into the group, so a key
equal to the Azure DevOps name takes that variable over instead of adding a second one. Only a name
Strongroom refuses (whitespace, ``/ : \\ $ { }``, control characters) is rewritten: every refused
character becomes ``_``. A person may still map any name to any valid key.

Project: the Azure DevOps project name and the resource name are split into lower-case tokens
(on anything that is not a letter or digit, and on camelCase boundaries); the Strongroom project
(visible to the principal, in the organization) whose slug or name tokens overlap most wins, an
exact slug match first. Environment: an environment token (prod/production, staging/stage/stg,
dev/development, test/qa …) in the resource name, matched against the chosen project's
environment slugs. Path: the resource-name tokens left over once project and environment tokens
are removed, joined by ``-`` (``/`` when nothing is left).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from estate.models import EstateResource
from secrets_app.errors import ValidationFailed
from secrets_app.models import Environment, Organization, Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_list_for_principal
from secrets_app.validation import validate_secret_key

# Environment words → the canonical slug, and the slugs a project may use for it.
ENVIRONMENT_WORDS: dict[str, str] = {
    "prod": "prod",
    "production": "prod",
    "prd": "prod",
    "live": "prod",
    "staging": "staging",
    "stage": "staging",
    "stg": "staging",
    "preprod": "staging",
    "uat": "staging",
    "dev": "dev",
    "development": "dev",
    "develop": "dev",
    "test": "test",
    "testing": "test",
    "qa": "test",
}
ENVIRONMENT_ALIASES: dict[str, tuple[str, ...]] = {
    "prod": ("prod", "production", "prd", "live"),
    "staging": ("staging", "stage", "stg", "preprod", "uat"),
    "dev": ("dev", "development", "develop"),
    "test": ("test", "testing", "qa"),
}
# Words that say nothing about the place (dropped from the suggested path).
NOISE = {"vars", "variables", "var", "secrets", "secret", "group", "vg", "kv", "keyvault", "settings", "config"}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


@dataclass
class ImportSuggestion:
    """Where the resource could land: the project (None when nothing matched), the environment slug
    (None when no environment word matched one of the project's), the folder path, and the key for
    each Azure DevOps variable name."""

    project: Project | None
    environment: str | None
    path: str
    keys: dict[str, str] = field(default_factory=dict)


def tokens(text: str) -> list[str]:
    """Lower-case words of *text*: ``web-api_ProdVars`` → ``["web", "api", "prod", "vars"]``."""
    spaced = _CAMEL.sub(" ", unicodedata.normalize("NFKC", text or ""))
    return [part.lower() for part in _SPLIT.split(spaced) if part]


def suggest_key(ado_name: str) -> str:
    """The Strongroom key for an Azure DevOps variable name: unchanged when valid, otherwise every
    refused character replaced by ``_`` (and cut to the key length limit)."""
    try:
        return validate_secret_key(ado_name)
    except ValidationFailed:
        pass
    cleaned = "".join(
        "_" if (char.isspace() or unicodedata.category(char)[0] in {"C", "Z"} or char in "/:\\${}") else char
        for char in unicodedata.normalize("NFC", ado_name or "")
    )
    cleaned = cleaned[:256] or "_"
    return validate_secret_key(cleaned)


def variables_of(resource: EstateResource) -> list[dict[str, Any]]:
    """The resource's variables as the latest scan recorded them (names and flags)."""
    return [item for item in (resource.details or {}).get("variables") or [] if isinstance(item, dict)]


def _score(project: Project, words: set[str]) -> tuple[int, int]:
    slug_words = set(tokens(project.slug))
    name_words = set(tokens(project.name))
    exact = 1 if project.slug.lower() in words or "".join(tokens(project.slug)) in words else 0
    return exact, len((slug_words | name_words) & words)


def _environment_for(project: Project, words: list[str]) -> tuple[str | None, set[str]]:
    slugs = list(Environment.objects.filter(project=project).values_list("slug", flat=True))
    for word in reversed(words):  # a suffix wins over a prefix ("prod-to-dev-copy" is rare; "app-prod" is not)
        canonical = ENVIRONMENT_WORDS.get(word)
        if canonical is None:
            if word in slugs:
                return word, {word}
            continue
        for alias in ENVIRONMENT_ALIASES[canonical]:
            if alias in slugs:
                return alias, {word}
    return None, set()


def import_suggest(*, principal: Principal, organization: Organization, resource: EstateResource) -> ImportSuggestion:
    """Guess the place and keys for importing *resource* (a variable group or pipeline of
    *organization*). Never fails for a lack of match: the fields are then None or ``/``."""
    if resource.organization_id != organization.pk:
        raise ValidationFailed("resource", "not a resource of this organization")
    name_words = tokens(resource.name)
    ado_project_words = tokens(resource.ado_project_name)
    words = set(name_words) | set(ado_project_words)
    candidates = [
        project
        for project in project_list_for_principal(principal).filter(organization=organization)
        if _score(project, words) > (0, 0)
    ]
    project = max(candidates, key=lambda p: (*_score(p, words), -p.pk), default=None)
    environment: str | None = None
    used: set[str] = set()
    if project is not None:
        environment, used = _environment_for(project, name_words)
        used |= set(tokens(project.slug)) | set(tokens(project.name))
    else:
        environment_words = {word for word in name_words if word in ENVIRONMENT_WORDS}
        used |= environment_words
    used |= set(ado_project_words)
    rest = [word for word in name_words if word not in used and word not in NOISE]
    path = "/" + "-".join(rest)[:64].strip("-") if rest else "/"
    keys = {str(item.get("name")): suggest_key(str(item.get("name"))) for item in variables_of(resource)}
    return ImportSuggestion(project=project, environment=environment, path=path, keys=keys)
