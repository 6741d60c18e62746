"""The root key, the sealed state, and per-project data keys (wrapped by the root key).

The server is *sealed* when no root key is configured, the configured one is malformed, or it
does not open the stored key check: then every secret operation raises ``SealedError`` (HTTP 503)
and nothing falls back to plaintext. Unwrapped data keys are cached in process memory (bounded).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from secrets_app.crypto import envelope
from secrets_app.crypto.bindings import ROOT_KEY_CHECK_AAD, data_key_aad
from secrets_app.models import DataKey, Project, RootKeyCheck

_CHECK_PLAINTEXT = b"strongroom root key check v1"


class SealedError(Exception):
    """The server has no usable root key."""


@dataclass(frozen=True)
class RootKey:
    key: bytes
    key_id: int


def _configured_root_key_text() -> str | None:
    if settings.STRONGROOM_ROOT_KEY:
        return settings.STRONGROOM_ROOT_KEY
    path = settings.STRONGROOM_EMBEDDED_ROOT_KEY_PATH
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    return None


class Keyring:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: RootKey | None = None
        self._sealed_reason: str | None = None
        self._loaded = False
        self._data_keys: OrderedDict[int, bytes] = OrderedDict()

    # --- root key -------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (tests, and after root key rotation)."""
        with self._lock:
            self._root = None
            self._sealed_reason = None
            self._loaded = False
            self._data_keys.clear()

    def _load(self) -> None:
        text = _configured_root_key_text()
        if text is None:
            self._sealed_reason = "no root key is configured"
            return
        try:
            raw = envelope.parse_root_key(text)
        except ValueError as exc:
            self._sealed_reason = str(exc)
            return
        root = RootKey(key=raw, key_id=envelope.fingerprint(raw))
        check = RootKeyCheck.objects.order_by("id").first()
        if check is None:
            RootKeyCheck.objects.create(
                root_key_id=root.key_id,
                check_ciphertext=envelope.encrypt(raw, root.key_id, _CHECK_PLAINTEXT, ROOT_KEY_CHECK_AAD),
            )
        else:
            try:
                envelope.decrypt(raw, bytes(check.check_ciphertext), ROOT_KEY_CHECK_AAD)
            except envelope.DecryptionError:
                self._sealed_reason = "the configured root key does not match this database"
                return
        self._root = root

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def sealed_reason(self) -> str | None:
        """None when unsealed; otherwise why the server is sealed."""
        self._ensure_loaded()
        return self._sealed_reason

    def root(self) -> RootKey:
        self._ensure_loaded()
        if self._root is None:
            raise SealedError(self._sealed_reason or "sealed")
        return self._root

    # --- generic root-key sealing (TOTP seeds, connection credentials) ---------------------
    def seal_with_root(self, plaintext: bytes, aad: bytes) -> bytes:
        """Seal a server-owned secret under the system data key (itself wrapped by the root key),
        so rotating the root key re-wraps keys only and never strands these values."""
        key_id, raw = self.system_data_key()
        return envelope.encrypt(raw, key_id, plaintext, aad)

    def open_with_root(self, ciphertext: bytes, aad: bytes) -> bytes:
        root = self.root()
        key_id = envelope.key_id_of(ciphertext)
        if key_id == root.key_id:  # sealed directly under the root key by an early version
            return envelope.decrypt(root.key, ciphertext, aad)
        return envelope.decrypt(self.data_key_by_id(key_id), ciphertext, aad)

    def seal_map_with_root(self, values: Mapping[str, str], aad: bytes) -> bytes:
        """``seal_with_root`` of a {name: value} map of server-owned credentials (JSON)."""
        return self.seal_with_root(json.dumps(dict(values), sort_keys=True).encode(), aad)

    def open_map_with_root(self, ciphertext: bytes | memoryview | None, aad: bytes) -> dict[str, str]:
        """The map ``seal_map_with_root`` sealed ({} for no ciphertext); DecryptionError when it
        cannot be opened (moved from another row, or its data key is gone)."""
        if not ciphertext:
            return {}
        return dict(json.loads(self.open_with_root(bytes(ciphertext), aad)))

    def system_data_key(self) -> tuple[int, bytes]:
        data_key = DataKey.objects.filter(project__isnull=True).order_by("-version", "-id").only("id").first()
        if data_key is None:
            with transaction.atomic():
                RootKeyCheck.objects.select_for_update().order_by("id").first()  # serialise creators
                data_key = DataKey.objects.filter(project__isnull=True).order_by("-version", "-id").first()
                data_key = data_key or self.create_data_key(None)
        return data_key.pk, self.data_key_by_id(data_key.pk)

    # --- data keys --------------------------------------------------------------------------
    def create_data_key(self, project: Project | None) -> DataKey:
        root = self.root()
        siblings = (
            DataKey.objects.filter(project=project)
            if project is not None
            else DataKey.objects.filter(project__isnull=True)
        )
        version = (siblings.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        raw = envelope.new_key()
        wrapped = envelope.encrypt(
            root.key, root.key_id, raw, data_key_aad(project_id=project.pk if project else None, version=version)
        )
        return DataKey.objects.create(project=project, version=version, wrapped_key=wrapped, root_key_id=root.key_id)

    def _unwrap(self, data_key: DataKey) -> bytes:
        return envelope.decrypt(
            self.root().key,
            bytes(data_key.wrapped_key),
            data_key_aad(project_id=data_key.project_id, version=data_key.version),
        )

    def _cached(self, data_key_id: int) -> bytes | None:
        with self._lock:
            raw = self._data_keys.get(data_key_id)
            if raw is not None:
                self._data_keys.move_to_end(data_key_id)
            return raw

    def _remember(self, data_key_id: int, raw: bytes) -> None:
        with self._lock:
            self._data_keys[data_key_id] = raw
            while len(self._data_keys) > settings.STRONGROOM_DATA_KEY_CACHE_SIZE:
                self._data_keys.popitem(last=False)

    def data_key_by_id(self, data_key_id: int) -> bytes:
        self.root()
        raw = self._cached(data_key_id)
        if raw is None:
            data_key = DataKey.objects.filter(pk=data_key_id).first()
            if data_key is None:
                # A tampered key id: the same integrity failure as any other, not a missing row.
                raise envelope.DecryptionError("ciphertext names a data key that does not exist")
            raw = self._unwrap(data_key)
            self._remember(data_key_id, raw)
        return raw

    def current_data_key(self, project_id: int) -> tuple[int, bytes]:
        data_key = DataKey.objects.filter(project_id=project_id).order_by("-version").only("id").first()
        if data_key is None:
            with transaction.atomic():
                project = Project.objects.select_for_update().get(pk=project_id)
                data_key = DataKey.objects.filter(project=project).order_by("-version").first() or self.create_data_key(
                    project
                )
        return data_key.pk, self.data_key_by_id(data_key.pk)

    def encrypt_for_project(self, project_id: int, plaintext: bytes, aad: bytes) -> bytes:
        key_id, raw = self.current_data_key(project_id)
        return envelope.encrypt(raw, key_id, plaintext, aad)

    def decrypt_for_project(self, ciphertext: bytes, aad: bytes) -> bytes:
        key_id = envelope.key_id_of(ciphertext)
        return envelope.decrypt(self.data_key_by_id(key_id), ciphertext, aad)


keyring = Keyring()
