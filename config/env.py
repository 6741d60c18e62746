"""Environment helpers for settings.

Every helper reads ``NAME`` and, when that is unset, ``NAME_FILE`` (a path whose stripped
contents are the value), so container secrets can be mounted as files. Bad values fail loudly
at start-up instead of silently falling back.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import FrameType


class SettingError(RuntimeError):
    """A setting was present but could not be understood."""


def env_str(name: str, default: str | None = None) -> str | None:
    _record_read(name)
    value = os.environ.get(name)
    if value is not None and value != "":
        return value
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingError(f"{name}_FILE points at {file_path!r}, which cannot be read: {exc.strerror}") from None
    return default


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingError(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = env_str(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


#: Every variable read through the helpers above, with the files that asked for it. Filled as settings
#: are read (config/settings.py at import); scripts/settings_table.py compares it with what it finds
#: in that file's source, so the generated settings table cannot miss a read.
READS: dict[str, set[str]] = {}


def _record_read(name: str) -> None:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # env_int → env_str: credit the caller outside this module
    READS.setdefault(name, set()).add(frame.f_code.co_filename if frame is not None else "?")
