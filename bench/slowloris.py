"""Slow clients against a running server, while /healthz and a secret read are timed.

Each slow client opens a connection and trickles one byte per interval, reconnecting whenever the
server drops it (as an attacker would). Half of them trickle a body: complete headers announcing
``Content-Length: 100000`` for a login form post, then the body byte by byte. The other half
trickle the request headers themselves. Meanwhile a prober fetches ``/healthz`` and a secret
(bearer token) on fresh connections, back to back, and records every latency; a probe that fails or
takes longer than the probe timeout counts as a failure at that timeout.

Used by `make bench` (60 s, 50 clients) and by tests/security/test_serving.py (shorter).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

PROBE_TIMEOUT_SECONDS = 5.0


@dataclass
class Probe:
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0

    def summary(self) -> dict[str, Any]:
        values = sorted(self.latencies_ms)

        def pick(fraction: float) -> float:
            return round(values[min(len(values) - 1, int(fraction * len(values)))], 1) if values else 0.0

        return {
            "count": len(values),
            "failures": self.failures,
            "p50_ms": pick(0.50),
            "p99_ms": pick(0.99),
            "max_ms": round(values[-1], 1) if values else 0.0,
        }


class SlowClients:
    """``clients`` connections trickling one byte every ``interval`` seconds until stopped."""

    def __init__(self, port: int, *, clients: int, interval: float) -> None:
        self.port = port
        self.clients = clients
        self.interval = interval
        self.connections_opened = 0
        self.sockets: list[socket.socket | None] = [None] * clients
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _request_head(self, index: int) -> bytes:
        return (
            b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris-" + str(index).encode() + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
        )

    def _open(self, index: int) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            return None
        sock.setblocking(False)
        self.connections_opened += 1
        head = self._request_head(index)
        try:
            # Even clients send their headers at once and trickle the body; odd ones trickle the headers.
            sock.send(head if index % 2 == 0 else head[:10])
        except OSError:
            sock.close()
            return None
        return sock

    def _tick(self, index: int) -> None:
        sock = self.sockets[index]
        if sock is not None:
            try:
                if sock.recv(4096, socket.MSG_PEEK) == b"":
                    raise ConnectionResetError  # the server closed it
                sock.recv(65536)  # an answer (408, 400): the server gave up on us
                raise ConnectionResetError
            except BlockingIOError:
                pass  # nothing from the server: still holding it
            except OSError:
                sock.close()
                sock = None
        if sock is None:
            self.sockets[index] = self._open(index)
            return
        try:
            sock.send(b"x" if index % 2 == 0 else b"X-")
        except OSError:
            sock.close()
            self.sockets[index] = None

    def _run(self) -> None:
        # Spread the clients over the interval so the server sees a steady trickle.
        while not self._stop.is_set():
            started = time.monotonic()
            for index in range(self.clients):
                if self._stop.is_set():
                    break
                self._tick(index)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def __enter__(self) -> SlowClients:
        for index in range(self.clients):
            self.sockets[index] = self._open(index)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            if sock is not None:
                sock.close()

    def holding(self) -> int:
        return sum(1 for sock in self.sockets if sock is not None)


def probe(port: int, path: str, headers: dict[str, str], record: Probe) -> None:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_SECONDS)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        ok = response.status == 200
    except OSError:
        ok = False
    finally:
        connection.close()
    elapsed_ms = (time.perf_counter() - started) * 1000
    if ok:
        record.latencies_ms.append(elapsed_ms)
    else:
        record.failures += 1
        record.latencies_ms.append(max(elapsed_ms, PROBE_TIMEOUT_SECONDS * 1000))


def measure(
    port: int,
    *,
    secret_path: str,
    token: str,
    clients: int = 50,
    seconds: float = 60,
    interval: float = 1.0,
    warmup: float = 2.0,
    pause: float = 0.05,
) -> dict[str, Any]:
    """Probe /healthz and ``secret_path`` while ``clients`` slow clients hold connections.

    ``warmup`` seconds pass first, so every slow client is connected when timing starts.
    """
    healthz, secret = Probe(), Probe()
    with SlowClients(port, clients=clients, interval=interval) as slow:
        time.sleep(warmup)
        deadline = time.monotonic() + seconds
        holding_min = slow.holding()
        while time.monotonic() < deadline:
            probe(port, "/healthz", {}, healthz)
            probe(port, secret_path, {"Authorization": f"Bearer {token}"}, secret)
            holding_min = min(holding_min, slow.holding())
            time.sleep(pause)
        opened = slow.connections_opened
    return {
        "slow_clients": clients,
        "seconds": seconds,
        "slow_connections_opened": opened,
        "slow_connections_held_min": holding_min,
        "healthz": healthz.summary(),
        "secret_read": secret.summary(),
    }
