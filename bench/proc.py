"""CPU time of processes other than this one, read from /proc: a database server's or a
Spark JVM's, with every process under it (a PostgreSQL server's backends and parallel
workers, a Spark driver's threads)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the state on (field 3)


def parent(pid: int) -> int | None:
    """The parent of ``pid``, or None when it is gone."""
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = parent(int(entry.name))
            if ppid is not None:
                tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_cpu(pid: int) -> float | None:
    """CPU seconds of ``pid`` and every process under it, those already ended and waited for
    included (user + system), or None when ``pid`` is gone."""
    if _stat(pid) is None:
        return None
    tree = _children()
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        fields = _stat(current)
        if fields:  # utime, stime, cutime, cstime are fields 14-17
            total += sum(int(v) for v in fields[11:15]) / _TICK
        todo += tree.get(current, [])
    return total
