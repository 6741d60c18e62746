"""Streaming redaction of secret values in a child's output (``run --mask``).

Every value is masked, and for a multi-line value each of its lines too (programs print line by
line). Values and lines shorter than ``MIN_MASK_LENGTH`` characters are not masked: masking every
``1`` or ``}`` in the output would make it unreadable without protecting anything.

Output is passed on as soon as it arrives, except for a tail that could still be the start of a
secret; that tail is held until the next bytes show whether it is (or the stream ends).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import BinaryIO

MIN_MASK_LENGTH = 4
MASK = b"***"


def mask_patterns(values: Iterable[str]) -> list[bytes]:
    patterns = set()
    for value in values:
        candidates = [value]
        if "\n" in value or "\r" in value:
            candidates.extend(re.split(r"\r\n|\r|\n", value))
        for candidate in candidates:
            if len(candidate.strip()) >= MIN_MASK_LENGTH:
                patterns.add(candidate.encode("utf-8", "surrogatepass"))
    return sorted(patterns, key=len, reverse=True)


class Masker:
    """Feed bytes in, get redacted bytes out; ``finish()`` flushes what is held back."""

    def __init__(self, patterns: list[bytes]) -> None:
        self.patterns = sorted(set(patterns), key=len, reverse=True)
        self.longest = max((len(p) for p in self.patterns), default=0)
        self.regex = re.compile(b"|".join(re.escape(p) for p in self.patterns)) if self.patterns else None
        self.first_bytes = {p[:1] for p in self.patterns}
        self.pending = b""

    def _hold_from(self, buf: bytes, start: int) -> int:
        """The earliest index >= *start* whose tail is a proper prefix of a pattern."""
        lowest = max(start, len(buf) - self.longest + 1)
        for index in range(lowest, len(buf)):
            if buf[index : index + 1] not in self.first_bytes:
                continue
            tail = buf[index:]
            for pattern in self.patterns:
                if len(pattern) > len(tail) and pattern.startswith(tail):
                    return index
        return len(buf)

    def feed(self, data: bytes) -> bytes:
        if self.regex is None:
            return data
        buf = self.pending + data
        hold = self._hold_from(buf, 0)
        out: list[bytes] = []
        position = 0
        for match in self.regex.finditer(buf):
            if match.start() >= hold:
                break
            out.append(buf[position : match.start()])
            out.append(MASK)
            position = match.end()
            if position > hold:
                hold = self._hold_from(buf, position)
        out.append(buf[position:hold] if hold > position else b"")
        self.pending = buf[max(hold, position) :]
        return b"".join(out)

    def finish(self) -> bytes:
        if self.regex is None or not self.pending:
            rest, self.pending = self.pending, b""
            return rest
        rest, self.pending = self.pending, b""
        return self.regex.sub(MASK, rest)


def pump(source: BinaryIO, sink_fd: int, masker: Masker, lock: threading.Lock | None = None) -> None:
    """Copy *source* to *sink_fd* through *masker* until EOF, writing as data arrives."""
    fd = source.fileno()

    def write(chunk: bytes) -> None:
        while chunk:
            try:
                written = os.write(sink_fd, chunk)
            except BrokenPipeError:
                return
            chunk = chunk[written:]

    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        write(masker.feed(data))
    write(masker.finish())
    source.close()
