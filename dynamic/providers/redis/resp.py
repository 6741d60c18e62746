"""A minimal Redis client (RESP2 over TCP or TLS) for the Redis provider.

Why not redis-py: the provider must dial the address the target check allowed while TLS still
verifies the configured host name, and must never surface a server error text — Redis quotes the
offending ACL rule in its errors (``ERR Error in ACL SETUSER modifier '>…'``), password included.
Here every command is a list of arguments sent as RESP bulk strings (no command-line parsing on
either side), and an error reply keeps only its first word (``WRONGPASS``, ``NOPERM``, ``ERR``).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from typing import Any

TIMEOUT_SECONDS = 10
MAX_BULK = 64 * 1024 * 1024


class RespError(Exception):
    """An error reply. ``code`` is its first word; the rest of the text is dropped (it may quote
    an argument)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class RespConnectionError(Exception):
    """The connection failed or broke. ``str()`` is the exception class only."""


class RespClient:
    """One connection. Use as a context manager; ``call(*args)`` returns the decoded reply."""

    def __init__(
        self,
        *,
        address: str,
        port: int,
        server_hostname: str,
        tls: bool = False,
        ca: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        try:
            sock: socket.socket = socket.create_connection((address, port), timeout=timeout)
            if tls:
                context = ssl.create_default_context(cadata=ca or None)
                sock = context.wrap_socket(sock, server_hostname=server_hostname)
        except (OSError, ValueError) as exc:
            raise RespConnectionError(type(exc).__name__) from None
        self.sock = sock
        self.reader = sock.makefile("rb")

    def __enter__(self) -> RespClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass

    def call(self, *args: str) -> Any:
        """Send one command (each argument one bulk string) and read its reply. RespError for an
        error reply, RespConnectionError when the connection fails."""
        self._send(args)
        try:
            return self._read()
        except ValueError:  # a length that is not a number
            raise RespConnectionError("ProtocolError") from None

    def _send(self, args: Sequence[str]) -> None:
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        try:
            self.sock.sendall(b"".join(parts))
        except OSError as exc:
            raise RespConnectionError(type(exc).__name__) from None

    def _line(self) -> bytes:
        try:
            line = self.reader.readline(MAX_BULK)
        except OSError as exc:
            raise RespConnectionError(type(exc).__name__) from None
        if not line.endswith(b"\r\n"):
            raise RespConnectionError("ConnectionClosed")
        return line[:-2]

    def _read(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode(errors="replace")
        if kind == b"-":
            code = rest.split(b" ", 1)[0].decode("ascii", errors="replace")
            raise RespError(code if code.isalpha() and code.isupper() else "ERR")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            if size > MAX_BULK:
                raise RespConnectionError("ReplyTooLarge")
            try:
                data = self.reader.read(size + 2)
            except OSError as exc:
                raise RespConnectionError(type(exc).__name__) from None
            return data[:-2].decode(errors="replace")
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise RespConnectionError("ProtocolError")
