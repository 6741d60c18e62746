"""Documented fields must exist: the JSON request fields in docs/*.md examples are fields of the
OpenAPI schema's request bodies (drf-spectacular), and every repository path docs/architecture.md
names exists.

Request examples are found in three shapes the docs use:

- a line ``POST /api/v1/... {"field": ...}`` (``http`` blocks, route summaries);
- a ``curl -X POST $SR/api/v1/... -d '{...}'`` command (continued lines joined, split like a shell);
- a table row ``| `POST imports/` `{"resource", "project"}` |`` whose path is relative to the page's
  API base (``RELATIVE_BASES``).

Only top-level keys are checked (a ``{"a", "b"}`` list of names counts as keys; ``…`` is a value).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
METHODS = ("POST", "PATCH", "PUT")
# Pages whose API tables give paths relative to one base.
RELATIVE_BASES = {"ado-migration.md": "/api/v1/organizations/acme/estate/"}
CHECKED_PAGES = tuple(sorted(p.name for p in DOCS.glob("*.md")))
# Pages known to show request bodies: finding none there means the extractor lost them.
PAGES_WITH_EXAMPLES = (
    "ado-migration.md",
    "api.md",
    "azure-devops.md",
    "dynamic-secrets.md",
    "governance.md",
    "identities.md",
    "sso.md",
    "syncs.md",
)


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    method: str
    path: str
    keys: frozenset[str]


def top_level_keys(body: str) -> set[str]:
    """Names at depth 1 of a JSON-like object: a string right after ``{`` or ``,``."""
    keys: set[str] = set()
    depth = 0
    previous = ""
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+', body):
        text = token.group(0)
        if text in "{[":
            depth += 1
        elif text in "}]":
            depth -= 1
        elif text.startswith('"') and depth == 1 and previous in ("{", ","):
            keys.add(json.loads(text))
        previous = text
    return keys


def _balanced_object(text: str, start: int) -> str | None:
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    return None


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with shell continuations (``\\`` at the end) and open JSON joined; 1-based numbers."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, joined = index + 1, lines[index]
        while index + 1 < len(lines) and (joined.endswith("\\") or ("curl " in joined and joined.count("'") % 2 == 1)):
            index += 1
            joined = joined.rstrip("\\") + " " + lines[index].strip()
        yield number, joined
        index += 1


def request_examples(page: Path) -> list[Example]:
    text = page.read_text(encoding="utf-8")
    found: list[Example] = []
    route_line = re.compile(r"\b(" + "|".join(METHODS) + r")\s+(/api/v1/\S*)\s+(\{.*)")
    table_row = re.compile(r"`(" + "|".join(METHODS) + r") ([\w{}/.-]+)`\s*`(\{[^`]*\})`")
    for number, line in _logical_lines(text):
        if "curl " in line:
            try:
                words = shlex.split(line.replace("\\ ", " "), comments=False)
            except ValueError:
                continue
            method = words[words.index("-X") + 1] if "-X" in words else "GET"
            urls = [word for word in words if "/api/v1/" in word]
            body = words[words.index("-d") + 1] if "-d" in words else None
            if method in METHODS and urls and body and body.startswith("{"):
                path = urls[0][urls[0].index("/api/v1/") :]
                found.append(Example(page.name, number, method, path, frozenset(top_level_keys(body))))
            continue
        for match in route_line.finditer(line):
            body = _balanced_object(match.group(3), 0)
            if body is not None:
                keys = frozenset(top_level_keys(body))
                found.append(Example(page.name, number, match.group(1), match.group(2), keys))
        base = RELATIVE_BASES.get(page.name)
        if base is not None:
            for match in table_row.finditer(line):
                path = base + match.group(2)
                found.append(
                    Example(page.name, number, match.group(1), path, frozenset(top_level_keys(match.group(3))))
                )
    found += _fenced_examples(page.name, text)
    return found


def _fenced_examples(page: str, text: str) -> list[Example]:
    """A fenced block holding one JSON object, its route on the block's first line or in the prose
    just above the fence (the last route named in the three lines before it)."""
    found: list[Example] = []
    route = re.compile(r"\b(" + "|".join(METHODS) + r")\s+(/api/v1/[^\s`]+)")
    for block in re.finditer(r"^```\w*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        body = block.group(1)
        line = text.count("\n", 0, block.start()) + 1
        first, _, rest = body.partition("\n")
        if route.fullmatch(first.strip()) and rest.lstrip().startswith("{"):
            named = route.fullmatch(first.strip())
        elif body.lstrip().startswith("{"):
            above = [row for row in text[: block.start()].splitlines() if row.strip()][-3:]
            matches = list(route.finditer(" ".join(above)))
            named = matches[-1] if matches else None
            rest = body
        else:
            continue
        if named is not None:
            keys = frozenset(top_level_keys(rest))
            found.append(Example(page, line, named.group(1), named.group(2), keys))
    return found


@cache
def _schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _route(path: str) -> str | None:
    """The schema path a documented path names: literal segments equal, the others parameters."""
    wanted = path.split("?")[0].rstrip("/").split("/")
    best: tuple[int, str] | None = None
    for candidate in _schema()["paths"]:
        segments = candidate.rstrip("/").split("/")
        if len(segments) != len(wanted):
            continue
        literal = 0
        for have, want in zip(segments, wanted, strict=True):
            if have == want:
                literal += 1
            elif not have.startswith("{"):
                break
        else:
            if best is None or literal > best[0]:
                best = (literal, candidate)
    return best[1] if best else None


def _properties(schema: dict[str, Any]) -> tuple[set[str], bool]:
    """(named properties, whether other names are allowed) of a request body schema."""
    if "$ref" in schema:
        schema = _schema()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    names = set(schema.get("properties", {}))
    open_ended = bool(schema.get("additionalProperties")) or schema.get("additionalProperties") == {}
    for part in schema.get("allOf", []) + schema.get("oneOf", []) + schema.get("anyOf", []):
        more, more_open = _properties(part)
        names |= more
        open_ended = open_ended or more_open
    return names, open_ended and not names


def request_fields(method: str, path: str) -> tuple[set[str], bool] | None:
    route = _route(path)
    if route is None:
        return None
    operation = _schema()["paths"][route].get(method.lower())
    if operation is None:
        return None
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return set(), False
    return _properties(content["application/json"]["schema"])


def test_the_extractor_reads_each_shape_the_docs_use() -> None:
    assert top_level_keys('{"a": 1, "b": {"c": [{"d": 2}]}, "e": "f"}') == {"a", "b", "e"}
    assert top_level_keys('{"confirm": true, "name"}') == {"confirm", "name"}
    assert top_level_keys('{"name": …}') == {"name"}
    page = DOCS / "syncs.md"
    examples = {(e.method, e.path.split("?")[0]): e.keys for e in request_examples(page)}
    assert examples[("POST", "/api/v1/projects/acme/syncs/")] >= {"name", "destination", "keyNameTemplate"}
    assert examples[("POST", "/api/v1/projects/acme/syncs/{id}/run/")] == {"overwrite"}
    migration = {(e.method, e.path): e.keys for e in request_examples(DOCS / "ado-migration.md")}
    assert migration[("POST", "/api/v1/organizations/acme/estate/imports/{id}/apply/")] == {
        "keyVaultConnection",
        "vaultUrl",
    }


def test_a_field_the_api_refuses_is_caught() -> None:
    fields, open_ended = request_fields("POST", "/api/v1/projects/acme/syncs/") or (set(), True)

    assert not open_ended and "options" in fields and "providerOptions" not in fields


def problems(page: Path) -> list[str]:
    found = []
    for example in request_examples(page):
        fields = request_fields(example.method, example.path)
        where = f"docs/{page.name}:{example.line}: {example.method} {example.path}"
        if fields is None:
            found.append(f"{where} is no route of the API")
            continue
        names, open_ended = fields
        unknown = sorted(example.keys - names) if not open_ended else []
        if unknown:
            found.append(f"{where} has no field {unknown}")
    return found


@pytest.mark.parametrize("page", CHECKED_PAGES)
def test_every_documented_request_field_exists_in_the_schema(page: str) -> None:
    if page in PAGES_WITH_EXAMPLES:
        assert request_examples(DOCS / page), f"no request example found in docs/{page}"
    assert problems(DOCS / page) == []


def test_a_misnamed_field_or_route_in_any_shape_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Create it with `POST /api/v1/projects/acme/syncs/`:\n\n"
        '```json\n{"name": "x", "providerOptions": {"removal": "delete"}}\n```\n\n'
        '```http\nPOST /api/v1/projects/acme/syncs/{id}/run/   {"overwite": true}\n'
        'POST /api/v1/projects/acme/synx/   {"name": "x"}\n```\n',
        encoding="utf-8",
    )

    assert problems(page) == [
        "docs/page.md:8: POST /api/v1/projects/acme/syncs/{id}/run/ has no field ['overwite']",
        "docs/page.md:9: POST /api/v1/projects/acme/synx/ is no route of the API",
        "docs/page.md:3: POST /api/v1/projects/acme/syncs/ has no field ['providerOptions']",
    ]


def test_sync_options_documented_in_prose_are_request_fields() -> None:
    """docs/syncs.md's option table and `"field": …` snippets name fields of the create request."""
    text = (DOCS / "syncs.md").read_text(encoding="utf-8")
    create, _ = request_fields("POST", "/api/v1/projects/acme/syncs/") or (set(), False)
    options_table = text[text.index("## Syncs") : text.index("**Initial behaviour**")]
    named = set(re.findall(r"^\| `(\w+)` \|", options_table, flags=re.MULTILINE))
    named |= set(re.findall(r'`"(\w+)": \{', text))  # e.g. `"options": {"removal": "delete"}`
    named |= set(re.findall(r"`(\w+): \{", text))  # the old spelling, `providerOptions: {...}`

    assert {"autoSync", "options"} <= named
    assert sorted(named - create) == []


TOP_LEVEL = {entry.name for entry in ROOT.iterdir() if not entry.name.startswith(".")}


def repository_paths(text: str) -> list[tuple[str, str | None]]:
    """Backticked ``path`` or ``path::name`` spans whose first segment is a top-level entry of the
    repository (``api/`` alone is a pattern, not a path)."""
    found = []
    for span in re.findall(r"`([^`\s]+)`", text):
        path, _, name = span.partition("::")
        if "/" in path and path.split("/")[0] in TOP_LEVEL:
            found.append((path, name or None))
    return found


def _defines(source: str, name: str) -> bool:
    return (
        re.search(rf"^\s*(?:def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]", source, re.MULTILINE)
        is not None
    )


def test_every_path_and_name_in_architecture_md_exists() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    named = repository_paths(text)
    missing = []
    for path, name in named:
        target = ROOT / path
        if not target.exists():
            missing.append(path)
        elif name is not None and not _defines(target.read_text(encoding="utf-8"), name):
            missing.append(f"{path}::{name}")
    links = re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]*)?\)", text)

    assert len(named) >= 40 and {"secrets_app/policy/enforcement.py", "scripts/run_tests.py"} <= {p for p, _ in named}
    assert missing == []
    assert [link for link in links if not (DOCS / link).exists()] == []


def test_a_moved_file_or_renamed_function_is_reported() -> None:
    named = repository_paths("`secrets_app/policy/enforcement.py::require` `secrets_app/nowhere.py` `api/` `/api/v1`")

    assert named == [("secrets_app/policy/enforcement.py", "require"), ("secrets_app/nowhere.py", None)]
    assert _defines((ROOT / "secrets_app/policy/enforcement.py").read_text(encoding="utf-8"), "require")
    assert not _defines((ROOT / "secrets_app/policy/enforcement.py").read_text(encoding="utf-8"), "requires")
    assert not (ROOT / "secrets_app/nowhere.py").exists()
