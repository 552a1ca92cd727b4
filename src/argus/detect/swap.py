"""Swap thrashing (ARG-007): a host that spends its time moving pages to and from swap.

Swap *use* is not the problem (the core ``swap:host`` rule watches that): a host
can park 4 GB of idle pages in swap and run fine. Thrashing is swap *traffic* with
tasks stalled on it, so it is judged by two signals, either of which counts:

- swap-in + swap-out above ``thresholds.swap_io_thrash_mb_s`` (MiB/s, from the
  /proc/vmstat counters between two samples, collect/vmstat.py);
- PSI memory ``full`` avg60 above ``thresholds.psi_memory_full_warn``: the share
  of the last minute in which every non-idle task was stalled on memory
  (Documentation/accounting/psi.rst); it catches page-cache thrashing too, which
  moves no swap at all.

One busy sample is a spike (a batch job starting up); thrashing is the condition
holding in this sample and the previous one ("sustained over 2 samples"). The
problem names the likely root cause, the process with the most swap and the fastest
major faults, and says what to do about it.
"""

from __future__ import annotations

from argus.config import Config
from argus.detect.hogs import name, size, where
from argus.model import Problem, Snapshot
from argus.model_diagnostics import HogInfo
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.model import MemoryInfo

# Critical when the evidence is overwhelming: four times the swap I/O threshold, or
# twice the stall threshold (a fifth of every minute with all tasks stalled).
CRIT_IO_FACTOR = 4.0
CRIT_PSI_FACTOR = 2.0
# Above this share of RAM still available (reclaimable cache included), a host that
# swaps hard is choosing to swap anonymous memory over dropping cache: what
# vm.swappiness steers. Below it, memory is simply short.
CACHE_RICH_PCT = 20.0
LOW_SWAPPINESS = 10


def _full_avg60(pressure: dict[str, Any] | None) -> float | None:
    value = ((pressure or {}).get("memory") or {}).get("full_avg60")
    return float(value) if isinstance(value, (int, float)) else None


def _over(io: float | None, full: float | None, config: Config) -> bool:
    t = config.thresholds
    return (io is not None and io > t.swap_io_thrash_mb_s) or (
        full is not None and full > t.psi_memory_full_warn)


def thrashing_rules(snapshot: Snapshot, config: Config) -> list[Problem]:
    paging = snapshot.paging
    if paging is None or not paging.previous:
        return []  # no previous sample: nothing can be called sustained yet
    io_now = (None if paging.swap_in_mb_s is None or paging.swap_out_mb_s is None
              else paging.swap_in_mb_s + paging.swap_out_mb_s)
    full_now = _full_avg60(snapshot.pressure)
    prev_io = paging.previous.get("swap_io_mb_s")
    full_prev = _full_avg60(paging.previous.get("pressure"))
    if not (_over(io_now, full_now, config)
            and _over(prev_io if isinstance(prev_io, (int, float)) else None, full_prev,
                      config)):
        return []
    t = config.thresholds
    critical = ((io_now or 0.0) >= CRIT_IO_FACTOR * t.swap_io_thrash_mb_s
                or (full_now or 0.0) >= CRIT_PSI_FACTOR * t.psi_memory_full_warn)
    culprits = snapshot.diagnostics.culprits if snapshot.diagnostics else ()
    advice = recommendations(culprits, snapshot.memory, paging.swappiness)
    figures = []
    if io_now is not None:
        figures.append(f"{paging.swap_in_mb_s:.1f} MB/s swapped in + "
                       f"{paging.swap_out_mb_s:.1f} MB/s out (thrash at "
                       f"{t.swap_io_thrash_mb_s:g} MB/s)")
    if full_now is not None:
        figures.append(f"all tasks stalled on memory {full_now:.0f}% of the last minute "
                       f"(PSI full avg60, warn at {t.psi_memory_full_warn:g}%)")
    text = "swap thrashing: " + ", ".join(figures) + ", sustained over 2 samples"
    if culprits:
        text += "; likely cause: " + _culprit_text(culprits[0])
        if len(culprits) > 1:
            text += "; also " + "; ".join(_culprit_text(c) for c in culprits[1:])
    text += ". Recommended: " + "; ".join(advice)
    details: dict[str, Any] = {
        "swap_in_mb_s": _r(paging.swap_in_mb_s), "swap_out_mb_s": _r(paging.swap_out_mb_s),
        "psi_full_avg60": full_now,
        "culprits": [c.to_details() for c in culprits],
        "majfault_per_s": _r(paging.majfault_per_s), "interval_s": _r(paging.interval_s),
        "previous_swap_io_mb_s": _r(prev_io if isinstance(prev_io, (int, float)) else None),
        "previous_psi_full_avg60": full_prev, "swappiness": paging.swappiness,
        "recommendations": advice,
    }
    return [Problem.make("swap", "critical" if critical else "warning", "thrashing:host",
                         text, details)]


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _culprit_text(c: HogInfo) -> str:
    """``java pid 2301 [tomcat.service]: 1.7 GB in swap, 1000 major faults/s, RSS 2.6 GB``."""
    bits = []
    if c.swap_bytes:
        bits.append(f"{size(c.swap_bytes)} in swap")
    if c.majflt_per_s is not None:
        since = "" if c.majflt_basis == "interval" else " over its lifetime"
        bits.append(f"{c.majflt_per_s:.0f} major faults/s{since}")
    bits.append(f"RSS {size(c.rss_bytes)}")
    return f"{name(c.name)} pid {c.pid}{where(c.unit)}: " + ", ".join(bits)


def recommendations(culprits: tuple[HogInfo, ...], memory: MemoryInfo | None,
                    swappiness: int | None) -> list[str]:
    """What to do, most specific first: the culprit, then RAM or vm.swappiness."""
    advice = []
    if culprits:
        c = culprits[0]
        unit = c.unit or ""
        how = (f"cap {name(unit)} with MemoryHigh=/MemoryMax= or restart it"
               if unit.endswith(".service") else
               "restart it or cap its memory (a cgroup limit such as MemoryMax=)")
        advice.append(f"{name(c.name)} (pid {c.pid}) is the likeliest cause: {how}")
    if memory is not None and memory.total_bytes:
        available_pct = memory.available_bytes / memory.total_bytes * 100
        if available_pct >= CACHE_RICH_PCT and (swappiness is None
                                                or swappiness > LOW_SWAPPINESS):
            now = f" (now {swappiness})" if swappiness is not None else ""
            advice.append(f"{available_pct:.0f}% of RAM is still reclaimable cache while "
                          f"anonymous memory is swapped: reduce vm.swappiness{now}, e.g. "
                          "to 10")
        else:
            advice.append(f"only {available_pct:.0f}% of RAM is available: add RAM, or "
                          "move work off this host")
    return advice
