"""What the figure modules share: a figure and its line, percentiles, and how busy the machine was."""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Figure:
    """One measured figure: `NAME value unit target ok|short`, then its notes as `#` lines."""

    name: str
    value: float | None
    unit: str
    target: str
    ok: bool
    notes: list[str] = field(default_factory=list)
    digits: int = 1

    def lines(self) -> list[str]:
        value = "-" if self.value is None else f"{self.value:.{self.digits}f}"
        return [f"{self.name} {value} {self.unit} {self.target} {'ok' if self.ok else 'short'}",
                *(f"#   {n}" for n in self.notes)]


def below(name: str, value: float, unit: str, limit: float, notes: list[str] | None = None, *,
          digits: int = 1) -> Figure:
    return Figure(name, value, unit, f"<{limit:.4g}", value < limit, notes or [], digits)


def at_least(name: str, value: float, unit: str, floor: float, notes: list[str] | None = None, *,
             digits: int = 1) -> Figure:
    return Figure(name, value, unit, f">={floor:.{digits}f}", value >= floor, notes or [], digits)


def unmeasured(name: str, unit: str, target: str, reason: str) -> Figure:
    return Figure(name, None, unit, target, False, [f"not measured: {reason}"])


def reason(e: BaseException, keep: int = 400) -> str:
    """An exception on one line: its type and the end of its message (where the cause usually is)."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text if len(text) <= keep else '…' + text[-keep:]}"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def ms_summary(values_s: list[float]) -> str:
    if not values_s:
        return "no samples"
    ms = [v * 1000 for v in values_s]
    return (f"p50 {statistics.median(ms):.0f} ms, p90 {pct(ms, 90):.0f}, p99 {pct(ms, 99):.0f}, "
            f"max {max(ms):.0f} (n={len(ms)})")


class Load:
    """How busy the machine was between `Load()` and `.note()`: all cores, and how much of it was this bench
    and the processes it started (the rest is other work on a shared machine, which skews every figure)."""

    def __init__(self) -> None:
        self.t, self.machine, self.ours = time.perf_counter(), _machine(), _ours()

    def note(self) -> str:
        busy, total = (a - b for a, b in zip(_machine(), self.machine, strict=True))
        ours = max(0.0, _ours() - self.ours)
        cores = os.cpu_count() or 1
        wall = time.perf_counter() - self.t
        return (f"machine over {wall:.0f} s: {100 * busy / max(total, 1e-9):.0f}% of {cores} cores busy; "
                f"this bench and its processes {100 * ours / max(wall * cores, 1e-9):.0f}%, other work "
                f"{100 * max(0.0, busy - ours) / max(total, 1e-9):.0f}%")


def _machine() -> tuple[float, float]:
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - ticks[3] - ticks[4]) / tick, sum(ticks) / tick


def _ours() -> float:
    """CPU seconds of this process and every living descendant (and of the children they waited for)."""
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            c = p.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
        except psutil.Error:
            pass
    return total


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of one process, MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def say(text: str) -> None:
    """Progress, on stderr: the figures alone go to stdout."""
    import sys

    print(f"bench: {text}", file=sys.stderr, flush=True)
