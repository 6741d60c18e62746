"""`make run` (scripts/launch.py) on the embedded default: SQLite, filesystem broker, ./var-like data dir."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Launch:
    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.data_dir = tmp_path / "var"
        self.log = tmp_path / "launch.log"
        # The embedded default: none of the test run's service URLs or keys leak into it.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "STRONGROOM_", "DJANGO_"))
        }
        env.update(STRONGROOM_DATA_DIR=str(self.data_dir), PORT=str(self.port), HOME=str(tmp_path))
        self._handle = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "scripts/launch.py"], cwd=ROOT, env=env, stdout=self._handle, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output())
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"{pattern!r} never appeared (exit {self.process.poll()}):\n{self.output()[-5000:]}")

    def children(self) -> list[int]:
        """Direct children of the launcher (gunicorn master, celery worker, celery beat)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._handle.close()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    if sys.platform != "linux":
        pytest.skip("reads /proc to find the launcher's children")
    started = Launch(tmp_path)
    yield started
    started.stop()


def _exits_within(process: subprocess.Popen[bytes], seconds: float) -> int | None:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def test_it_prepares_the_data_dir_starts_three_processes_and_stops_them_on_sigterm(launch: Launch) -> None:
    launch.wait_for(rf"Strongroom is running at http://127\.0\.0\.1:{launch.port}/")
    launch.wait_for(r"worker\s*\| .*ready\.")
    launch.wait_for(r"beat\s*\| .*beat: Starting")
    children = launch.children()
    with urllib.request.urlopen(f"http://127.0.0.1:{launch.port}/healthz", timeout=5) as response:
        health = response.status

    assert health == 200
    assert len(children) == 3, launch.output()[-3000:]
    root_key = launch.data_dir / "root.key"
    assert root_key.exists()
    assert root_key.stat().st_mode & 0o777 == 0o600
    assert (launch.data_dir / "strongroom.sqlite3").exists()

    launch.process.send_signal(signal.SIGTERM)

    assert _exits_within(launch.process, 30) == 0, launch.output()[-3000:]
    assert not any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in children)


def test_it_stops_everything_when_one_process_dies(launch: Launch) -> None:
    launch.wait_for(r"beat\s*\| .*beat: Starting")
    launch.wait_for(rf"Strongroom is running at http://127\.0\.0\.1:{launch.port}/")
    children = launch.children()
    beat = next(pid for pid in children if b"beat" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))

    os.kill(beat, signal.SIGKILL)

    exit_code = _exits_within(launch.process, 30)
    assert exit_code not in (None, 0), launch.output()[-3000:]
    assert "beat exited" in launch.output()
    assert not any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in children)


def _state(pid: int) -> str:
    try:
        return "zombie" if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z" else "alive"
    except OSError:
        return "zombie"


def test_it_says_running_only_when_ready_and_its_children_die_with_it(launch: Launch) -> None:
    launch.wait_for(rf"Strongroom is running at http://127\.0\.0\.1:{launch.port}/")
    # At once, not after a retry: the worker's broker folders already exist.
    with urllib.request.urlopen(f"http://127.0.0.1:{launch.port}/readyz", timeout=5) as response:
        ready = response.status
    children = launch.children()

    launch.process.kill()  # SIGKILL: the launcher gets no chance to stop anything itself
    launch.process.wait(timeout=10)

    assert ready == 200
    assert len(children) == 3
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (_port_taken(launch.port) or _alive(children)):
        time.sleep(0.2)
    assert not _port_taken(launch.port), "the port is still held after the launcher was killed"
    assert not _alive(children), launch.output()[-3000:]


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        # As a server binds (gunicorn too): connections left in TIME_WAIT do not hold the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists() and _state(pid) != "zombie"]


def test_the_first_admin_password_comes_last_boxed_and_once(launch: Launch) -> None:
    running = launch.wait_for(rf"Strongroom is running at http://127\.0\.0\.1:{launch.port}/")
    box = launch.wait_for(r"\+-+\+\n\| First admin created[^\n]*\|\n(\|[^\n]*\|\n)+\+-+\+")
    password = re.search(r"\| +password: (\S+) +\|", box.group(0))
    launch.wait_for(r"worker\s*\| .*ready\.")
    output = launch.output()

    assert password is not None, box.group(0)
    assert box.start() > running.end(), "the password box must follow the running line"
    assert output.count(password.group(1)) == 1, "the password is printed exactly once"
    assert "admin@strongroom.local" in box.group(0)
    assert not re.search(r"^(web|worker|beat)\s*\|.*" + re.escape(password.group(1)), output, re.M)
