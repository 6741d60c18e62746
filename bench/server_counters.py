"""The server's own counters around a benchmark run: CPU of a process tree from /proc (utime +
stime, and the cutime + cstime of children it has reaped, so a worker that exits stays counted) and
the requests it answered, from gunicorn's access log."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


def parse_proc_stat(text: str) -> tuple[int, int]:
    """(parent pid, CPU ticks) from a /proc/<pid>/stat line: utime + stime of the process plus
    cutime + cstime of its reaped children (a worker that exits stays counted in its parent). The
    command name may hold spaces and parentheses, so fields are counted from the last ')'."""
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17
    return int(fields[1]), sum(int(value) for value in fields[11:15])


def tree_cpu_ticks(root: int, stats: dict[int, str]) -> int:
    """CPU ticks of ``root`` and all its descendants, given each live pid's stat line."""
    parents = {}
    ticks = {}
    for pid, text in stats.items():
        parents[pid], ticks[pid] = parse_proc_stat(text)
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return sum(ticks[pid] for pid in members if pid in ticks)


def proc_stats() -> dict[int, str]:
    """Every live process's /proc/<pid>/stat line."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stats[int(entry)] = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # exited meanwhile
                continue
    return stats


def cpu_seconds(pids: list[int | None]) -> list[float | None]:
    """CPU seconds used so far by each pid's process tree (None where the pid is None), from one
    reading of /proc, so the trees are read at the same moment."""
    stats = proc_stats()
    tick = os.sysconf("SC_CLK_TCK")
    return [None if pid is None else tree_cpu_ticks(pid, stats) / tick for pid in pids]


class AccessLog:
    """Counts the lines of gunicorn's access log (its stdout): one per answered request."""

    def __init__(self, stream: Any) -> None:
        self.lines = 0
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for _ in self._stream:
            self.lines += 1

    def __call__(self) -> int:
        return self.lines
