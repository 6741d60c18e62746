"""A small closed-loop HTTP load generator (stdlib only), run in its own processes.

Each worker process opens keep-alive connections and sends requests back to back for a fixed
duration; latencies are gathered and reduced to req/s, p50 and p99.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str  # may contain {n}: replaced with a unique counter (for creates)
    body: dict[str, Any] | None
    expect: int


def _worker(
    host: str, port: int, token: str, scenario: Scenario, seconds: float, threads: int, worker_id: int, out: Any
) -> None:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    counter = [0]

    def loop(thread_id: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection(host, port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        local: list[float] = []
        local_errors = 0
        while time.perf_counter() < deadline:
            with lock:
                counter[0] += 1
                n = counter[0]
            body = None
            if scenario.body is not None:
                body = json.dumps(scenario.body).replace("{n}", f"{worker_id}_{thread_id}_{n}")
            started = time.perf_counter()
            try:
                connection.request(scenario.method, scenario.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != scenario.expect:
                    local_errors += 1
            except (OSError, http.client.HTTPException):
                local_errors += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                continue
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)
            errors += local_errors

    pool = [threading.Thread(target=loop, args=(index,)) for index in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put((latencies, errors))


def run(
    host: str, port: int, token: str, scenario: Scenario, *, seconds: float, processes: int, threads: int
) -> dict[str, Any]:
    queue: Any = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_worker, args=(host, port, token, scenario, seconds, threads, index, queue))
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors = 0
    for _ in workers:
        part, part_errors = queue.get()
        latencies.extend(part)
        errors += part_errors
    for worker in workers:
        worker.join()
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": errors,
        "concurrency": processes * threads,
        "req_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else 0.0,
    }
