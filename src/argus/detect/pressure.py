"""Sustained CPU and I/O pressure, from PSI (Documentation/accounting/psi.rst).

Load average alone misleads: it counts runnable *and* uninterruptible (D state)
tasks, so a 64-core host at load 20 is idle while a 2-core one is swamped, and
tasks sleeping on a slow NFS server raise it without using any CPU. PSI measures
what matters, the share of wall time in which tasks were delayed:

- ``cpu some``: at least one runnable task waited for a CPU;
- ``io some``: at least one task waited for I/O to complete.

Each rule fires when ``some`` avg60 is above its threshold (``psi_cpu_warn``,
``psi_io_warn``, in % of the last minute) in this sample and in the previous one:
one busy minute is a burst, two in a row is a state. (System-wide ``cpu full`` is
undefined before Linux 5.13 and always 0 after, so ``some`` is what is judged.)
Memory pressure belongs to the thrashing rule (detect/swap.py).
"""

from __future__ import annotations

from argus.config import Config
from argus.detect.hogs import name, where
from argus.model import Problem, Snapshot
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

TOP_SHOWN = 3


def _avg60(pressure: dict[str, Any] | None, resource: str, kind: str) -> float | None:
    value = ((pressure or {}).get(resource) or {}).get(f"{kind}_avg60")
    return float(value) if isinstance(value, (int, float)) else None


def pressure_rules(snapshot: Snapshot, config: Config) -> list[Problem]:
    paging = snapshot.paging
    if snapshot.pressure is None or paging is None or not paging.previous:
        return []
    previous = paging.previous.get("pressure")
    t = config.thresholds
    problems = []
    for resource, threshold in (("cpu", t.psi_cpu_warn), ("io", t.psi_io_warn)):
        now = _avg60(snapshot.pressure, resource, "some")
        before = _avg60(previous, resource, "some")
        if now is None or before is None or now <= threshold or before <= threshold:
            continue
        details: dict[str, Any] = {
            "resource": resource, "some_avg60": now, "previous_some_avg60": before,
            "some_avg10": _value(snapshot.pressure, resource, "some_avg10"),
            "full_avg60": _avg60(snapshot.pressure, resource, "full"),
            "threshold": threshold}
        if resource == "cpu":
            text = (f"CPU pressure: a runnable task waited for a CPU {now:.0f}% of the last "
                    f"minute (PSI some avg60; {before:.0f}% a sample before; warn at "
                    f"{threshold:g}%)")
            text += _cpu_context(snapshot, details)
            problems.append(Problem.make("cpu", "warning", "pressure:cpu", text, details))
        else:
            full = details["full_avg60"]
            text = (f"I/O pressure: a task waited for I/O {now:.0f}% of the last minute "
                    f"(PSI some avg60; {before:.0f}% a sample before; warn at "
                    f"{threshold:g}%)")
            if full is not None:
                text += f"; every task stalled on I/O {full:.0f}% of it (full)"
            problems.append(Problem.make("disk", "warning", "pressure:io", text, details))
    return problems


def _value(pressure: dict[str, Any] | None, resource: str, key: str) -> float | None:
    value = ((pressure or {}).get(resource) or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def _cpu_context(snapshot: Snapshot, details: dict[str, Any]) -> str:
    """Load and the top CPU consumers, so the alert says who is busy."""
    text = ""
    if snapshot.cpu is not None:
        cpu = snapshot.cpu
        details.update(load1=cpu.load1, cores=cpu.cores)
        text += f"; load {cpu.load1:.2f} on {cpu.cores} cores"
    procs = snapshot.processes
    if procs is not None and procs.top_cpu:
        top = procs.top_cpu[:TOP_SHOWN]
        details["top_cpu"] = [{"pid": p.pid, "name": p.name, "cpu_pct": round(p.cpu_pct, 1),
                               "unit": p.unit} for p in top]
        text += "; busiest: " + ", ".join(
            f"{name(p.name)} pid {p.pid} {p.cpu_pct:.0f}%{where(p.unit)}" for p in top)
    return text
