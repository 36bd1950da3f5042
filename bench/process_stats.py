"""CPU seconds and peak RSS of a running process (Linux /proc), read just before it stops."""

from __future__ import annotations

import os
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessStats:
    cpu_s: float
    peak_rss_mib: float


def process_stats(pid: int) -> ProcessStats:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    peak_kib = next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("VmHWM:"))
    return ProcessStats(cpu_s, peak_kib / 1024)
