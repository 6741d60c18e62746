"""Error text that is safe to store and show (security bar F5, H2): ≤ 240 characters, no control
characters, and never a secret — every value the run held is redacted should a destination or
library have echoed it back."""

from __future__ import annotations

import re
from collections.abc import Iterable

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e]")
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)\b(authorization|token|password|secret|sig|code)(\s*[:=]\s*)(?!\[redacted\])\S+"),
)
LIMIT = 240


def safe_error(error: BaseException | str, *, secrets: Iterable[str] = ()) -> str:
    text = str(error) or type(error).__name__
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    text = _CREDENTIAL_PATTERNS[0].sub(lambda m: f"{m.group(1)} [redacted]", text)
    text = _CREDENTIAL_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"
