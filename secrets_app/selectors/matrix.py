"""The environment matrix: one folder path across every environment the caller may see.

Rows are secret keys, columns environments (in position order). Each cell says whether the key is
set there and at which version; each row says whether the values agree between environments.

A column holds exactly what the CLI receives for that folder (``secret_list`` with imports and
expanded references, the API's own read): imported secrets are cells marked with their source
(read-only here), local keys win over imported ones, and values are compared *resolved*, so
``API_URL=${HOST}/v1`` differs where ``HOST`` differs. A cell whose value holds references names
them (the ``${...}`` tokens, never a value) for those who may read the value.

Values never leave this module. Comparing needs plaintext, so for each environment where the
caller may read values we decrypt once through ``secret_list``, hash each value with
SHA-256 in memory and keep only *equality classes*: cell ``group`` 0, 1, … says which cells hold
the same value. Neither values nor digests are returned (a digest of a short value can be
brute-forced, so it is as sensitive as the value).

One matrix is one audit event, recorded before the matrix is returned: ``secret.values_compared``
naming every environment compared (and those only listed), the path, the keys and the count; or
``secret.listed`` (same shape) when the caller may read no value anywhere here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from secrets_app.models import Environment, Folder
from secrets_app.paths import canonical_path, join_path
from secrets_app.references import REFERENCE_RE
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.secrets import secret_list

COMPARED_ACTION = "secret.values_compared"
LISTED_ACTION = "secret.listed"
AUDITED_KEYS_LIMIT = 500


class CellState:
    SET = "set"
    MISSING = "missing"  # the environment has no such key here (or not even the folder)
    HIDDEN = "hidden"  # the caller may not list secrets at this path in the environment


class ColumnState:
    OK = "ok"
    NO_FOLDER = "no-folder"
    NO_ACCESS = "no-access"


class RowComparison:
    SAME = "same"  # set in two or more environments, all values equal
    DIFFERS = "differs"  # at least two values differ
    HIDDEN = "hidden"  # the caller may not read some of the values, and the readable ones agree
    SINGLE = "single"  # set in one environment only: nothing to compare


@dataclass
class MatrixColumn:
    slug: str
    name: str
    state: str
    can_read_values: bool = False
    secret_count: int = 0


@dataclass
class MatrixCell:
    environment: str
    state: str
    version: int | None = None
    group: int | None = None  # equality class among the cells whose value was compared
    tags: list[str] = field(default_factory=list)
    is_personal_override: bool = False
    quarantined: bool = False  # governance: listed (names only), its value neither compared nor delivered
    imported_from: str = ""  # "env:/path" of the import it comes from ("" for a secret of this folder)
    source_environment: str = ""  # where an imported secret lives (its panel opens there)
    source_path: str = ""
    references: list[str] = field(default_factory=list)  # the ${...} tokens its value holds (readers only)

    @property
    def group_label(self) -> str:
        return chr(ord("A") + self.group) if self.group is not None and self.group < 26 else ""


@dataclass
class MatrixRow:
    key: str
    cells: list[MatrixCell]
    comparison: str

    @property
    def missing_somewhere(self) -> bool:
        return any(cell.state == CellState.MISSING for cell in self.cells)


@dataclass
class Subfolder:
    name: str
    path: str
    environments: list[str]


@dataclass
class SecretMatrix:
    path: str
    columns: list[MatrixColumn]
    rows: list[MatrixRow]
    subfolders: list[Subfolder]

    @property
    def folder_exists(self) -> bool:
        return any(column.state != ColumnState.NO_FOLDER for column in self.columns)


def matrix_environments(scope: ProjectScope) -> list[Environment]:
    """The project's environments the caller may list secrets somewhere in, in position order."""
    return [
        environment
        for environment in Environment.objects.filter(project=scope.project).order_by("position", "id")
        if scope.access.can_anywhere_in("secrets.read", environment.slug)
    ]


def _comparison(cells: list[MatrixCell], digests: dict[str, bytes | None]) -> str:
    present = [cell for cell in cells if cell.state == CellState.SET]
    if len(present) < 2:
        return RowComparison.SINGLE
    known = {digests[cell.environment] for cell in present if digests.get(cell.environment) is not None}
    if len(known) > 1:
        return RowComparison.DIFFERS
    if any(digests.get(cell.environment) is None for cell in present):
        return RowComparison.HIDDEN
    return RowComparison.SAME


def matrix_columns(scope: ProjectScope, path: str) -> list[MatrixColumn]:
    """The matrix's columns at *path* and whether each can be listed, without reading any secret."""
    path = canonical_path(path)
    environments = matrix_environments(scope)
    present = set(
        Folder.objects.filter(project=scope.project, path=path, environment__in=environments).values_list(
            "environment_id", flat=True
        )
    )
    columns = []
    for environment in environments:
        column = MatrixColumn(slug=environment.slug, name=environment.name, state=ColumnState.OK)
        if environment.pk not in present:
            column.state = ColumnState.NO_FOLDER
        elif not scope.access.can("secrets.read", environment=environment.slug, path=path):
            column.state = ColumnState.NO_ACCESS
        else:
            column.can_read_values = scope.access.can("secrets.read_value", environment=environment.slug, path=path)
        columns.append(column)
    return columns


def secret_matrix(scope: ProjectScope, path: str) -> SecretMatrix:
    """The matrix at *path*. One ``secret_list`` per environment that has the folder and lets the
    caller list it (with imports, as the CLI reads it); values are read, their references expanded
    (and the comparison audited) only where the caller may read them."""
    path = canonical_path(path)
    columns = matrix_columns(scope, path)
    # key -> environment slug -> the cell (its group still unset) and the digest of its resolved value
    found: dict[str, dict[str, tuple[MatrixCell, bytes | None]]] = {}
    read_ids: list[int] = []
    for column in columns:
        if column.state != ColumnState.OK:
            continue
        result = secret_list(
            scope,
            environment=column.slug,
            path=path,
            include_values=column.can_read_values,
            expand=column.can_read_values,
            include_imports=True,
            audited=False,
            include_quarantined=True,
        )
        column.secret_count = len(result.secrets)
        read_ids.extend(view.id for view in result.secrets)
        for view in result.secrets:
            digest = hashlib.sha256(view.value.encode("utf-8")).digest() if view.value is not None else None
            references = sorted({match.group(0) for match in REFERENCE_RE.finditer(view.raw_value or "")})
            view.value = view.comment = view.raw_value = None  # drop plaintext as soon as it is hashed
            cell = MatrixCell(
                environment=column.slug,
                state=CellState.SET,
                version=view.version,
                tags=view.tags,
                is_personal_override=view.is_personal_override,
                quarantined=view.quarantined_at is not None,
                imported_from=view.imported_from or "",
                source_environment=view.environment if view.imported_from else "",
                source_path=view.path if view.imported_from else "",
                references=references,
            )
            found.setdefault(view.key, {})[column.slug] = (cell, digest)

    rows = []
    for key in sorted(found):
        per_env = found[key]
        groups: dict[bytes, int] = {}
        cells = []
        digests: dict[str, bytes | None] = {}
        for column in columns:
            if column.state == ColumnState.NO_ACCESS:
                cells.append(MatrixCell(environment=column.slug, state=CellState.HIDDEN))
                continue
            if column.slug not in per_env:
                cells.append(MatrixCell(environment=column.slug, state=CellState.MISSING))
                continue
            cell, digest = per_env[column.slug]
            digests[column.slug] = digest
            cell.group = groups.setdefault(digest, len(groups)) if digest is not None else None
            cells.append(cell)
        comparison = _comparison(cells, digests)
        if comparison != RowComparison.DIFFERS:
            for cell in cells:
                cell.group = None  # letters only help tell differing values apart
        rows.append(MatrixRow(key=key, cells=cells, comparison=comparison))
    _audit_matrix(scope, path, columns, sorted(found), read_ids)
    return SecretMatrix(path=path, columns=columns, rows=rows, subfolders=_subfolders(scope, path))


def _audit_matrix(scope: ProjectScope, path: str, columns: list[MatrixColumn], keys: list[str], ids: list[int]) -> None:
    """One event for the whole matrix (not one per environment). One INSERT, atomic by itself: the
    comparison is returned only if it succeeded. Nothing read (no column listable): nothing recorded."""
    read = [column for column in columns if column.state == ColumnState.OK]
    if not read:
        return
    compared = [column.slug for column in read if column.can_read_values]
    scope.audit(
        COMPARED_ACTION if compared else LISTED_ACTION,
        path=path,
        resource_type="secret",
        metadata={
            "environments": compared or [column.slug for column in read],
            "listed_only": [column.slug for column in read if not column.can_read_values] if compared else [],
            "per_environment": {column.slug: column.secret_count for column in read},
            "keys": keys[:AUDITED_KEYS_LIMIT],
            "ids": ids[:AUDITED_KEYS_LIMIT],
            "count": len(ids),
            "imports": True,  # imported secrets compared too, references resolved (as the CLI reads them)
        },
    )


def _subfolders(scope: ProjectScope, path: str) -> list[Subfolder]:
    """Child folders of *path*, merged across environments, that lead somewhere the caller may look."""
    environments = matrix_environments(scope)
    by_name: dict[str, Subfolder] = {}
    children = (
        Folder.objects.filter(project=scope.project, environment__in=environments, parent__path=path)
        .select_related("environment")
        .order_by("name")
    )
    order = {environment.pk: index for index, environment in enumerate(environments)}
    for child in sorted(children, key=lambda item: (item.name, order[item.environment_id])):
        slug = child.environment.slug
        if not (
            scope.access.visible_path_prefix("secrets.read", slug, child.path)
            or scope.access.visible_path_prefix("folders.read", slug, child.path)
        ):
            continue
        entry = by_name.setdefault(
            child.name, Subfolder(name=child.name, path=join_path(path, child.name), environments=[])
        )
        entry.environments.append(slug)
    return list(by_name.values())
