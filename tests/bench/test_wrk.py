"""The wrk bench (bench/wrk.py, server_counters.py, wrk_cases.py, compare.py) reads its figures
right: wrk's result line, CPU from /proc stat lines, the ratios, and real wrk seconds against a tiny
local server."""

from __future__ import annotations

import json
import runpy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench.compare import ratio_table
from bench.server_counters import parse_proc_stat, tree_cpu_ticks
from bench.wrk import RESULT_MARK, WrkCase, lua_string, parse_wrk_output, run_wrk
from bench.wrk_cases import Layout, compat_cases, ratios, selected, table, v1_cases

ROOT = Path(__file__).resolve().parents[2]


def _line(**overrides: Any) -> str:
    raw = {
        "duration_us": 2_000_000,
        "requests": 600,
        "bytes": 120_000,
        "non2xx": 0,
        "codes": "",
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
        "latency_us": {"p50": 3250, "p90": 5000, "p99": 12_400, "mean": 3500.5, "max": 20_000},
    }
    raw.update(overrides)
    return RESULT_MARK + json.dumps(raw)


def test_it_reads_rate_and_percentiles_from_wrks_result_line() -> None:
    stdout = f"Running 2s test @ http://127.0.0.1:8000/\n  2 threads and 4 connections\n{_line()}\n"
    result = parse_wrk_output(stdout)
    assert result["rps"] == 300.0
    assert (result["p50_ms"], result["p99_ms"], result["max_ms"]) == (3.25, 12.4, 20.0)
    assert result["errors"] == 0


def test_it_counts_non_2xx_by_status_and_socket_errors_as_errors() -> None:
    errors = {"connect": 1, "read": 2, "write": 0, "status": 7, "timeout": 3}
    result = parse_wrk_output(_line(non2xx=9, codes="401=2,500=5,401=1,302=1", errors=errors))
    assert result["non2xx"] == 9
    assert result["non2xx_by_status"] == {"401": 3, "500": 5, "302": 1}
    # wrk's own "status" count (>= 400 only) is not added twice: the Lua count covers it
    assert result["socket_errors"] == 6
    assert result["errors"] == 15


def test_a_run_without_result_line_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError, match="no result line"):
        parse_wrk_output("PANIC: unprotected error in call to Lua API\n")


def test_it_reads_cpu_ticks_of_a_process_whose_name_has_spaces_and_parentheses() -> None:
    # utime 250, stime 50, cutime 30 (a worker that exited), cstime 5
    line = "4242 (gunicorn: worker (x)) S 4000 4242 4242 0 -1 4194560 900 0 0 0 250 50 30 5 20 0 3 0 12345"
    assert parse_proc_stat(line) == (4000, 335)


def _stat(pid: int, parent: int, utime: int) -> str:
    return f"{pid} (python3) S {parent} {pid} {pid} 0 -1 0 0 0 0 0 {utime} 0 0 0 20 0 1 0 1"


def test_cpu_of_a_server_is_its_master_workers_and_their_children_not_its_neighbours() -> None:
    stats = {
        100: _stat(100, 1, 10),  # gunicorn master
        101: _stat(101, 100, 200),  # worker
        102: _stat(102, 100, 300),  # worker
        150: _stat(150, 102, 7),  # something a worker started
        200: _stat(200, 1, 5000),  # wrk, or another agent's tests
        201: _stat(201, 200, 4000),
    }
    assert tree_cpu_ticks(100, stats) == 517
    assert tree_cpu_ticks(999, stats) == 0  # the server is gone: nothing, not everything


def _result(rps: float, p50: float, p99: float, errors: int = 0) -> dict[str, Any]:
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "non2xx": errors, "socket_errors": 0}


def test_ratios_are_strongroom_over_the_other_server_and_errors_get_none() -> None:
    ours = {"get": _result(900, 2.0, 9.0), "login": _result(500, 4, 8, errors=3), "only_ours": _result(1, 1, 1)}
    theirs = {"get": _result(300, 4.0, 30.0), "login": _result(20, 100, 200)}
    result = ratios(ours, theirs)
    assert result["get"] == {"rps": 3.0, "p50": 0.5, "p99": 0.3, "flag": ""}
    assert result["login"]["rps"] is None and result["login"]["flag"] == "errors"
    assert "only_ours" not in result
    rendered = ratio_table(result)
    assert "| get | 3.0× | 0.5× | 0.3× |" in rendered
    assert "**errors: no ratio**" in rendered


def test_the_table_flags_a_case_with_errors() -> None:
    failing = {**_result(10, 1, 2, errors=4), "non2xx_by_status": {"500": 4}, "statements_per_request": 3.0}
    failing["fk_checks_per_request"] = 0.0
    rendered = table({"good": {**_result(10, 1, 2), "non2xx_by_status": {}}, "bad": failing})
    assert "| good | 10 | 1 | 2 | 0 / 0 | - | - | - |" in rendered
    assert "**4 / 0 FAILED** {'500': 4} | 3.0 (+0.0)" in rendered


def test_lua_strings_escape_quotes_backslashes_and_non_ascii() -> None:
    assert lua_string('a"b\\c') == '"a\\034b\\092c"'
    assert lua_string("é") == '"\\195\\169"'


@pytest.mark.parametrize(("value", "expected"), [("", "gevent"), ("sync", "sync"), ("gthread", "gthread")])
def test_gunicorn_config_takes_the_worker_class_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("STRONGROOM_WORKER_CLASS", value)
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["worker_class"] == expected


def test_gunicorn_config_refuses_an_unknown_worker_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_WORKER_CLASS", "eventlet")
    with pytest.raises(SystemExit, match="gevent, sync, gthread"):
        runpy.run_path(str(ROOT / "config" / "gunicorn.py"))


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    keys: list[str] = []
    headers_seen: set[str] = set()
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.keys.append(body["key"])
            self.headers_seen.add(self.headers["Authorization"])
            failing = len(self.keys) % 4 == 0
        payload = b"{}"
        self.send_response(503 if failing else 201)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        with self.lock:
            self.keys.append(self.path)
        payload = b'{"secret": {}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return


def test_one_real_wrk_second_sends_unique_keys_and_counts_the_refusals() -> None:
    _Recorder.keys = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        case = WrkCase("create", "POST", "/things/", json.dumps({"key": "{key}", "value": "x"}), connections=2)
        result = run_wrk(f"http://127.0.0.1:{server.server_port}/", case, "tok-123", seconds=1, tag="T9")
    finally:
        server.shutdown()
        server.server_close()
    keys = _Recorder.keys
    assert result["requests"] > 20
    assert len(keys) >= result["requests"]  # the server may have answered a last one wrk did not count
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("T9_") for key in keys)
    assert _Recorder.headers_seen == {"Bearer tok-123"}
    assert result["non2xx_by_status"] == {"503": result["non2xx"]}
    assert abs(result["non2xx"] - result["requests"] / 4) <= 2
    assert result["errors"] == result["non2xx"]


def test_bench_cases_picks_cases_by_name_prefix_and_every_case_has_a_distinct_name() -> None:
    layout = Layout(project_id="p", environment="dev", root="/wrkbench1")
    cases = compat_cases("/compat/infisical", layout) + v1_cases(layout)
    assert len({case.name for case in cases}) == len(cases) == 12
    assert [case.name for case in selected(cases, "compat_get, v1_login")] == [
        "compat_get_one_c1",
        "compat_get_one_c16",
        "v1_login_c4",
    ]
    assert selected(cases, "") == cases
    assert [case.name for case in selected(cases, "compat_get_one_c1")] == ["compat_get_one_c1"]
    creates = [case for case in cases if case.method == "POST" and case.auth]
    assert all("{key}" in (case.path + (case.body or "")) for case in creates)
    assert all(case.warmup is not None and "/wrkbench1/warm" in (case.warmup.body or "") for case in creates)


def test_a_read_case_sends_the_same_request_and_reports_no_errors() -> None:
    _Recorder.keys = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        case = WrkCase("get", "GET", "/api/v3/secrets/raw/A?workspaceId=p&secretPath=%2Fx", None, connections=1)
        result = run_wrk(f"http://127.0.0.1:{server.server_port}/", case, "tok", seconds=1, tag="unused")
    finally:
        server.shutdown()
        server.server_close()
    assert result["requests"] > 20
    assert set(_Recorder.keys) == {"/api/v3/secrets/raw/A?workspaceId=p&secretPath=%2Fx"}
    assert (result["errors"], result["non2xx"], result["non2xx_by_status"]) == (0, 0, {})
    assert 0 < result["p50_ms"] <= result["p99_ms"]
