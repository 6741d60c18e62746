"""Export formats. Each takes ``[(key, value)]`` sorted by key and returns the text to write.

Quoting is chosen so that each format's usual reader gives back every value byte for byte:
python-dotenv / docker for ``dotenv``, a POSIX shell for ``dotenv-export``, YAML 1.1/1.2 loaders,
CSV readers (Go's ``encoding/csv`` rules), JSON, HCL (Terraform ``.tfvars``), the Azure Pipelines
agent's logging-command parser and the GitHub Actions runner.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Callable

Pairs = list[tuple[str, str]]

# --- dotenv ----------------------------------------------------------------------------------------


def _dotenv_value(value: str) -> str:
    # Infisical writes KEY='VALUE'. That is kept whenever it reads back exactly (no ' or \, which
    # single-quoted dotenv values treat specially, and no CR, which text-mode readers turn into LF);
    # otherwise the value is double-quoted with backslash escapes.
    if "'" not in value and "\\" not in value and "\r" not in value:
        return "'" + value + "'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped + '"'


def dotenv(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    return "".join(f"{key}={_dotenv_value(value)}\n" for key, value in pairs)


def shell_quote(value: str) -> str:
    """POSIX single quotes: everything literal, ``'`` written as ``'\\''``."""
    return "'" + value.replace("'", "'\\''") + "'"


def dotenv_export(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    # Meant for `eval "$(strongroom export --format=dotenv-export)"` and `source`.
    return "".join(f"export {key}={shell_quote(value)}\n" for key, value in pairs)


# --- json ------------------------------------------------------------------------------------------


def as_json(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    # Infisical's export is a compact array of Go-marshalled objects (<, >, & escaped, no newline).
    items = [
        {"key": key, "workspace": project, "value": value, "type": "shared", "environment": environment}
        for key, value in pairs
    ]
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- yaml ------------------------------------------------------------------------------------------

_YAML_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
_YAML_SHORT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _yaml_printable(char: str) -> bool:
    code = ord(char)
    return (
        code in (0x09, 0x0A, 0x0D, 0x85)
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    ) and code not in (0x2028, 0x2029, 0xFEFF, 0x85)


def yaml_quote(text: str) -> str:
    out = ['"']
    for char in text:
        if char in _YAML_SHORT:
            out.append(_YAML_SHORT[char])
        elif _yaml_printable(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def as_yaml(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    # A map of KEY: "value", keys sorted. Values are always double-quoted, so that no value can
    # be read back as a number, a boolean, null or a different string.
    lines = []
    for key, value in pairs:
        plain = _YAML_PLAIN_KEY.match(key) and key.lower() not in _YAML_RESERVED
        lines.append(f"{key if plain else yaml_quote(key)}: {yaml_quote(value)}\n")
    return "".join(lines) if lines else "{}\n"


# --- csv -------------------------------------------------------------------------------------------


def _csv_field(field: str) -> str:
    # Go encoding/csv: quote when the field has , " CR LF or starts with a space; double the ".
    if field == "" or not (any(c in field for c in ',"\r\n') or field[0].isspace() or field == "\\."):
        return field
    return '"' + field.replace('"', '""') + '"'


def as_csv(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    return "Key,Value\n" + "".join(f"{_csv_field(key)},{_csv_field(value)}\n" for key, value in pairs)


# --- tfvars (HCL) ----------------------------------------------------------------------------------

_HCL_IDENTIFIER = re.compile(r"[^\W\d][\w-]*\Z")


def hcl_quote(value: str) -> str:
    out = ['"']
    index = 0
    while index < len(value):
        char = value[index]
        following = value[index + 1 : index + 2]
        if char in ("$", "%") and following == "{":
            out.append(char + char + "{")  # "${" and "%{" start templates; doubled they are literal
            index += 2
            continue
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
        index += 1
    out.append('"')
    return "".join(out)


def tfvars(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    from strongroom_cli.errors import USAGE, CliError

    for key, _ in pairs:
        if not _HCL_IDENTIFIER.match(key):
            raise CliError(f"tfvars: {key!r} is not a valid Terraform variable name", USAGE)
    return "".join(f"{key} = {hcl_quote(value)}\n" for key, value in pairs)


# --- Azure Pipelines logging commands --------------------------------------------------------------


def azure_escape_data(value: str) -> str:
    """The agent unescapes ``%AZP25`` → ``%``, ``%0D`` → CR, ``%0A`` → LF in a command's data
    (``%`` first, so that a literal ``%0A`` in a value survives)."""
    return value.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def azure_escape_property(value: str) -> str:
    """Properties additionally escape ``;`` (the separator) as ``%3B`` and ``]`` (the end) as ``%5D``."""
    return azure_escape_data(value).replace(";", "%3B").replace("]", "%5D")


def azure_devops(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    return "".join(
        f"##vso[task.setvariable variable={azure_escape_property(key)};issecret=true]{azure_escape_data(value)}\n"
        for key, value in pairs
    )


# --- GitHub Actions --------------------------------------------------------------------------------


def github_escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_masks(pairs: Pairs) -> str:
    """``::add-mask::`` for each value and, for multi-line values, each of their lines (the runner
    masks line by line)."""
    lines: list[str] = []
    seen = set()
    for _, value in pairs:
        parts = [value] if "\n" not in value and "\r" not in value else [value, *re.split(r"\r\n|\r|\n", value)]
        for part in parts:
            if part.strip() and part not in seen:
                seen.add(part)
                lines.append(f"::add-mask::{github_escape_data(part)}\n")
    return "".join(lines)


def github_env(pairs: Pairs) -> str:
    """``$GITHUB_ENV`` lines: ``KEY<<DELIM`` / value / ``DELIM`` with a random delimiter that
    occurs in no value."""
    out: list[str] = []
    for key, value in pairs:
        delimiter = "ghadelimiter_" + uuid.uuid4().hex
        while delimiter in value:  # pragma: no cover - a 128-bit collision
            delimiter = "ghadelimiter_" + uuid.uuid4().hex
        out.append(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(out)


def github_actions(pairs: Pairs, *, project: str = "", environment: str = "") -> str:
    return github_masks(pairs) + github_env(pairs)


FORMATS: dict[str, Callable[..., str]] = {
    "dotenv": dotenv,
    "dotenv-export": dotenv_export,
    "json": as_json,
    "yaml": as_yaml,
    "csv": as_csv,
    "tfvars": tfvars,
    "azure-devops": azure_devops,
    "github-actions": github_actions,
}
