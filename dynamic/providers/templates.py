"""Usernames, passwords and SQL statement templates: the parts of a provider that must never let
a value change the meaning of a statement.

Statements
    Each ``{{name}}`` placeholder is replaced according to where it stands, found by a scanner
    that knows SQL quoting: inside ``'…'`` the value's single quotes are doubled, inside ``"…"``
    its double quotes, inside a MySQL ``\\`…\\``` its backticks; a placeholder outside any quotes
    takes only ``[A-Za-z0-9_]`` values. Backslashes, NUL and ``$`` (a PostgreSQL dollar-quote
    delimiter) are refused in every value, so neither ``E'…'`` strings, MySQL's backslash escapes
    nor a ``DO $$ … $$`` body can be closed by a value. Creation, renewal and revocation are
    rendered by the same code (Infisical escaped them differently; lesson 5).

Splitting
    A statement list is a JSON array; one text is split on ``;`` *outside* quotes, comments and
    dollar-quoted bodies, so a ``DO $$ … ; … $$`` block runs whole.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}\Z")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
BARE_VALUE_RE = re.compile(r"^[A-Za-z0-9_]+\Z")
# Symbols a password may draw from: none of them is a quote, a backslash, '$', whitespace or ';'.
SAFE_SYMBOLS = "-_.~!*@#%^+=:,?"
DEFAULT_SYMBOLS = "-_.~!*"
MAX_PASSWORD_LENGTH = 250


class TemplateError(ValueError):
    """A template or a value cannot be used. ``str()`` names the problem, never a value."""


# --- statements -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    name: str
    backticks: bool  # MySQL quotes identifiers with `…`
    hash_comments: bool  # MySQL: '#' starts a comment
    dollar_quotes: bool  # PostgreSQL: $$…$$ / $tag$…$tag$
    # Redis: a command is words separated by whitespace, with no quoting and no comments; the
    # provider splits the rendered command on whitespace and sends each word as one argument, so a
    # value may hold any printable character except whitespace (it can only ever be one argument).
    words: bool = False


POSTGRESQL = Dialect("postgresql", backticks=False, hash_comments=False, dollar_quotes=True)
MYSQL = Dialect("mysql", backticks=True, hash_comments=True, dollar_quotes=False)
REDIS = Dialect("redis", backticks=False, hash_comments=False, dollar_quotes=False, words=True)
WORD_VALUE_RE = re.compile(r"^[\x21-\x7e]+\Z")  # printable ASCII, no space

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _scan(text: str, dialect: Dialect, on_placeholder: object = None) -> list[tuple[str, str]]:
    """Tokenise *text* into (kind, text) pieces: ``code``, ``'``, ``"``, ``` ` ```, ``comment``,
    ``dollar`` (a whole dollar-quoted body with its tags) and ``;``. Unterminated quotes raise."""
    pieces: list[tuple[str, str]] = []
    i, n, start = 0, len(text), 0

    def flush(kind: str, end: int) -> None:
        if end > start:
            pieces.append((kind, text[start:end]))

    while i < n:
        char = text[i]
        if dialect.words:
            if char == ";":
                flush("code", i)
                pieces.append((";", ";"))
                start = i + 1
            i += 1
            continue
        if char in "'\"" or (char == "`" and dialect.backticks):
            flush("code", i)
            start = i
            j = i + 1
            while True:
                j = text.find(char, j)
                if j < 0:
                    raise TemplateError(f"unterminated {char} quote")
                if j + 1 < n and text[j + 1] == char:  # doubled quote: still inside
                    j += 2
                    continue
                break
            pieces.append((char, text[i : j + 1]))
            i = start = j + 1
            continue
        if text.startswith("--", i) or (char == "#" and dialect.hash_comments):
            flush("code", i)
            end = text.find("\n", i)
            end = n if end < 0 else end
            pieces.append(("comment", text[i:end]))
            i = start = end
            continue
        if text.startswith("/*", i):
            flush("code", i)
            end = text.find("*/", i + 2)
            if end < 0:
                raise TemplateError("unterminated /* comment")
            pieces.append(("comment", text[i : end + 2]))
            i = start = end + 2
            continue
        if char == "$" and dialect.dollar_quotes:
            match = _DOLLAR_TAG.match(text, i)
            if match and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                tag = match.group(0)
                end = text.find(tag, match.end())
                if end < 0:
                    raise TemplateError(f"unterminated {tag} block")
                flush("code", i)
                pieces.append(("dollar", text[i : end + len(tag)]))
                i = start = end + len(tag)
                continue
        if char == ";":
            flush("code", i)
            pieces.append((";", ";"))
            i = start = i + 1
            continue
        i += 1
    flush("code", n)
    return pieces


def split_statements(text: str, dialect: Dialect) -> list[str]:
    """*text* split on ``;`` outside quotes, comments and dollar-quoted bodies; empty parts dropped."""
    statements: list[str] = []
    current: list[str] = []
    for kind, piece in _scan(text, dialect):
        if kind == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(piece)
    statements.append("".join(current))
    return [statement.strip() for statement in statements if _has_code(statement, dialect)]


def _has_code(statement: str, dialect: Dialect) -> bool:
    return any(kind != "comment" and piece.strip() for kind, piece in _scan(statement, dialect))


def normalise_statements(raw: str | Sequence[str] | None, dialect: Dialect, *, field: str) -> list[str]:
    """A list of statements from a JSON array or one text (split as above). Raises TemplateError
    naming *field* for a template that does not scan (unterminated quotes or blocks)."""
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    statements: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TemplateError(f"{field}: each statement must be text")
        try:
            statements += split_statements(item, dialect)
        except TemplateError as exc:
            raise TemplateError(f"{field}: {exc}") from None
    return statements


def placeholders(statements: Sequence[str]) -> set[str]:
    return {match.group(1) for statement in statements for match in PLACEHOLDER_RE.finditer(statement)}


def check_placeholders(statements: Sequence[str], allowed: set[str], *, field: str) -> None:
    unknown = sorted(placeholders(statements) - allowed)
    if unknown:
        raise TemplateError(f"{field}: {{{{{unknown[0]}}}}} is not available here (use {', '.join(sorted(allowed))})")


def _escape(value: str, context: str, dialect: Dialect, *, in_dollar: bool, name: str) -> str:
    if dialect.words:
        # One word, one argument: whitespace (or a control character) would split it into more.
        if not WORD_VALUE_RE.match(value) or "\\" in value or "$" in value:
            raise TemplateError(f"the value of {{{{{name}}}}} contains a character that is never rendered")
        return value
    if "\x00" in value or "\\" in value or "$" in value:
        # A backslash could end a quote (MySQL, E'' strings) and '$' a dollar-quoted body: refused
        # everywhere, so the rule cannot depend on getting the context right.
        raise TemplateError(f"the value of {{{{{name}}}}} contains a character that is never rendered")
    if context in ("'", '"', "`"):
        return value.replace(context, context * 2)
    if not BARE_VALUE_RE.match(value):
        raise TemplateError(f"{{{{{name}}}}} must stand inside quotes in this statement")
    return value


def _render_piece(kind: str, piece: str, values: Mapping[str, str], dialect: Dialect, *, in_dollar: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"{{{{{name}}}}} is not available here")
        return _escape(values[name], kind, dialect, in_dollar=in_dollar, name=name)

    if kind == "comment":
        return piece
    if kind in ("'", '"', "`"):
        inner = PLACEHOLDER_RE.sub(replace, piece[1:-1])
        return kind + inner + kind
    return PLACEHOLDER_RE.sub(replace, piece)


def render_statement(template: str, values: Mapping[str, str], dialect: Dialect) -> str:
    """*template* with every placeholder replaced by its value, escaped for where it stands. A
    dollar-quoted body is scanned again as SQL, so quotes inside ``DO $$ … $$`` are honoured."""
    out: list[str] = []
    for kind, piece in _scan(template, dialect):
        if kind == "dollar":
            tag = _DOLLAR_TAG.match(piece)
            assert tag is not None
            body = piece[len(tag.group(0)) : len(piece) - len(tag.group(0))]
            rendered = "".join(
                _render_piece(inner_kind, inner, values, dialect, in_dollar=True)
                for inner_kind, inner in _scan(body, dialect)
            )
            out.append(tag.group(0) + rendered + tag.group(0))
        else:
            out.append(_render_piece(kind, piece, values, dialect, in_dollar=False))
    return "".join(out)


def render_statements(templates: Sequence[str], values: Mapping[str, str], dialect: Dialect) -> list[str]:
    return [render_statement(template, values, dialect) for template in templates]


# --- usernames --------------------------------------------------------------------------------------

_ALNUM_LOWER = string.ascii_lowercase + string.digits
_USERNAME_TEMPLATE_RE = re.compile(r"^[A-Za-z0-9_\-{}\[\]. |']{0,255}\Z")
_TEMPLATE_TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
DEFAULT_USERNAME_TEMPLATE = "sr-{{random 24}}"


def check_username_template(template: str) -> str:
    """The template, or TemplateError. Variables: ``randomUsername``, ``unixTimestamp``,
    ``identity.name``, ``dynamicSecret.name``, ``dynamicSecret.type``, ``random N`` (N ≤ 40)."""
    if not _USERNAME_TEMPLATE_RE.match(template):
        raise TemplateError("usernameTemplate: at most 255 letters, digits, _ - { } [ ] . ' | and spaces")
    for token in _TEMPLATE_TOKEN.findall(template):
        _token_value(token, identity_name="x", secret_name="x", secret_type="x")  # noqa: S106 - names, not passwords
    return template


def _token_value(token: str, *, identity_name: str, secret_name: str, secret_type: str) -> str:
    parts = token.split()
    if len(parts) == 2 and parts[0] == "random" and parts[1].isdigit() and 1 <= int(parts[1]) <= 40:
        return "".join(secrets.choice(_ALNUM_LOWER) for _ in range(int(parts[1])))
    simple = {
        "randomUsername": lambda: "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)),
        "unixTimestamp": lambda: str(int(time.time())),
        "identity.name": lambda: identity_name,
        "dynamicSecret.name": lambda: secret_name,
        "dynamicSecret.type": lambda: secret_type,
    }
    if len(parts) == 1 and parts[0] in simple:
        return simple[parts[0]]()
    raise TemplateError(f"usernameTemplate: unknown variable {{{{{token}}}}}")


def _identity_part(label: str) -> str:
    local = label.split("@", 1)[0]
    return re.sub(r"[^A-Za-z0-9_-]", "_", local)[:32] or "x"


def render_username(
    template: str, *, identity_label: str, secret_name: str, secret_type: str, max_length: int = 63
) -> str:
    """A username from *template* (or the default). Raises TemplateError unless the result matches
    ``^[A-Za-z0-9_-]{1,63}$`` and fits *max_length* (the provider's limit)."""
    template = template or DEFAULT_USERNAME_TEMPLATE
    rendered = _TEMPLATE_TOKEN.sub(
        lambda match: _token_value(
            match.group(1).strip(),
            identity_name=_identity_part(identity_label),
            secret_name=secret_name,
            secret_type=secret_type,
        ),
        template,
    )
    if not USERNAME_RE.match(rendered):
        raise TemplateError("usernameTemplate: the username must be 1-63 letters, digits, '_' or '-'")
    if len(rendered) > max_length:
        raise TemplateError(f"usernameTemplate: the username must be at most {max_length} characters here")
    return rendered


# --- passwords --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordRequirements:
    length: int = 48
    lowercase: int = 1
    uppercase: int = 1
    digits: int = 1
    symbols: int = 0
    allowed_symbols: str = DEFAULT_SYMBOLS

    def as_dict(self) -> dict[str, object]:
        return {
            "length": self.length,
            "required": {
                "lowercase": self.lowercase,
                "uppercase": self.uppercase,
                "digits": self.digits,
                "symbols": self.symbols,
            },
            "allowedSymbols": self.allowed_symbols,
        }


def password_requirements_from(raw: Mapping[str, object] | None) -> PasswordRequirements:
    """Infisical's shape (``length``, ``required {lowercase, uppercase, digits, symbols}``,
    ``allowedSymbols``), checked; TemplateError naming the field otherwise."""
    if not raw:
        return PasswordRequirements()
    if not isinstance(raw, Mapping):
        raise TemplateError("passwordRequirements: must be an object")

    def number(value: object, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TemplateError(f"passwordRequirements.{field}: must be a whole number from {low} to {high}")
        return value

    unknown = sorted(set(raw) - {"length", "required", "allowedSymbols"})
    if unknown:
        raise TemplateError(f"passwordRequirements.{unknown[0]}: unknown field")
    length = number(raw.get("length", 48), "length", 12, MAX_PASSWORD_LENGTH)
    required = raw.get("required") or {}
    if not isinstance(required, Mapping):
        raise TemplateError("passwordRequirements.required: must be an object")
    unknown = sorted(set(required) - {"lowercase", "uppercase", "digits", "symbols"})
    if unknown:
        raise TemplateError(f"passwordRequirements.required.{unknown[0]}: unknown field")
    counts = {
        key: number(required.get(key, default), f"required.{key}", 0, MAX_PASSWORD_LENGTH)
        for key, default in (("lowercase", 1), ("uppercase", 1), ("digits", 1), ("symbols", 0))
    }
    if sum(counts.values()) > length:
        raise TemplateError("passwordRequirements.required: the required counts add up to more than length")
    symbols = raw.get("allowedSymbols", DEFAULT_SYMBOLS)
    if not isinstance(symbols, str) or (symbols and not set(symbols) <= set(SAFE_SYMBOLS)):
        raise TemplateError(f"passwordRequirements.allowedSymbols: only these symbols may be used: {SAFE_SYMBOLS}")
    if counts["symbols"] and not symbols:
        raise TemplateError("passwordRequirements.allowedSymbols: symbols are required but none is allowed")
    if not any(counts.values()):
        counts["lowercase"] = 1
    return PasswordRequirements(length=length, allowed_symbols="".join(dict.fromkeys(symbols)), **counts)


def generate_password(requirements: PasswordRequirements) -> str:
    """Draw the required characters of each class, fill up from the classes asked for, shuffle:
    all with ``secrets`` (a CSPRNG)."""
    classes = {
        "lowercase": string.ascii_lowercase,
        "uppercase": string.ascii_uppercase,
        "digits": string.digits,
        "symbols": requirements.allowed_symbols,
    }
    wanted = {
        "lowercase": requirements.lowercase,
        "uppercase": requirements.uppercase,
        "digits": requirements.digits,
        "symbols": requirements.symbols,
    }
    chars = [secrets.choice(classes[name]) for name, count in wanted.items() for _ in range(count)]
    pool = "".join(classes[name] for name, count in wanted.items() if count > 0 and classes[name])
    chars += [secrets.choice(pool) for _ in range(requirements.length - len(chars))]
    for index in range(len(chars) - 1, 0, -1):  # Fisher-Yates with a CSPRNG
        other = secrets.randbelow(index + 1)
        chars[index], chars[other] = chars[other], chars[index]
    return "".join(chars)
