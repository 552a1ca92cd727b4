"""Collect: one module per source, each run with its own timeout.

``collect_snapshot`` starts every collector in its own daemon thread and waits for
each up to its deadline. A collector that raises or hangs (a dead NFS mount makes
statvfs block forever; a wedged systemd makes systemctl hang) leaves a recorded
error and an empty section in the snapshot; the cycle goes on with the rest.
"""

from __future__ import annotations

import _thread
import time

from argus.context import Context
from argus.model import CollectorError, Snapshot
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _Job:
    """One collector, run inline or in a thread; ``value`` or ``error`` once it ends.

    Threads come from the low-level ``_thread`` module: ``threading`` costs about
    3 ms of CPU to import, a tenth of a one-shot cycle's budget, and a collector
    needs only "start, then wait up to a deadline". A thread that never returns
    (statvfs on a dead NFS mount) is abandoned; it cannot keep the process alive.
    """

    def __init__(self, name: str, fn: Callable[[], Any], timeout: float,
                 threaded: bool = True) -> None:
        self.name, self.fn, self.timeout = name, fn, timeout
        self.value: Any = None
        self.error: str | None = None
        self.ms = 0.0
        self.threaded = threaded
        self._done = _thread.allocate_lock()  # held while the thread runs

    def run(self) -> None:
        start = time.perf_counter()
        try:
            self.value = self.fn()
        except Exception as err:  # a collector bug must not kill the cycle
            self.error = f"{type(err).__name__}: {err}"[:500]
        self.ms = (time.perf_counter() - start) * 1000

    def start(self) -> None:
        self._done.acquire()
        _thread.start_new_thread(self._run_then_release, ())

    def _run_then_release(self) -> None:
        try:
            self.run()
        finally:
            self._done.release()

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a started job; record a timeout."""
        if self._done.acquire(timeout=max(0.0, timeout)):
            self._done.release()
        else:
            self.error = f"timed out after {self.timeout:g}s"


def collect_snapshot(ctx: Context, ts: str) -> Snapshot:
    # Imported here, and each only when configured, so a quiet one-shot cycle does
    # not pay for modules it does not use.
    from argus.collect import disks, processes, system

    cfg = ctx.config
    now = ctx.clock()
    previous_cpu = ctx.carry.get("cpu_sample")
    jobs = [
        # In-kernel counters (meminfo, loadavg, pressure, cgroup files): these reads
        # never wait on a device or another process, so they run inline; a thread
        # each would cost more CPU than the read.
        _Job("memory", lambda: system.collect_memory(ctx.proc_root, ctx.sys_root), 5, False),
        _Job("cpu", lambda: system.collect_cpu(ctx.proc_root), 5, False),
        _Job("pressure", lambda: system.collect_pressure(ctx.proc_root), 5, False),
        _Job("disks", lambda: disks.collect_disks(ctx.proc_root), cfg.collector_timeout),
        _Job("processes", lambda: processes.collect_processes(
            ctx.proc_root, top_n=cfg.processes.top_n, now=now, previous=previous_cpu,
            kill_allowed=cfg.processes.kill_allowed,
            orphan_patterns=tuple(r.pattern for r in cfg.processes.orphans)),
            cfg.collector_timeout),
    ]
    if cfg.services.systemd and ctx.carry.get("daemon"):
        # The daemon skips systemctl while systemd signals no change to the units.
        from argus.collect import unit_events

        watcher = unit_events.watcher_for(ctx.carry, cfg.services.scope)
        jobs.append(_Job("services", lambda: watcher.units(
            cfg.services.systemd, ctx.run, cfg.services.timeout), cfg.services.timeout + 2))
    elif cfg.services.systemd:
        from argus.collect import services

        jobs.append(_Job("services", lambda: services.collect_units(
            cfg.services.systemd, cfg.services.scope, ctx.run, cfg.services.timeout),
            cfg.services.timeout + 2))
    if cfg.services.http or cfg.services.tcp:
        from argus.collect import probes

        longest = max([p.timeout for p in cfg.services.http]
                      + [p.timeout for p in cfg.services.tcp])
        jobs.append(_Job("probes", lambda: probes.collect_probes(
            cfg.services.http, cfg.services.tcp), longest + 2))
    if cfg.tmux.sockets:
        from argus.collect import tmux

        jobs.append(_Job("tmux", lambda: tmux.collect_tmux(
            cfg.tmux.sockets, ctx.run, cfg.tmux.timeout), cfg.tmux.timeout + 2))

    deadline_base = time.monotonic()
    for job in jobs:
        if job.threaded:
            job.start()
    for job in jobs:
        if not job.threaded:
            job.run()
    for job in jobs:
        if job.threaded:
            job.wait(deadline_base + job.timeout - time.monotonic())

    results = {j.name: j.value for j in jobs if j.error is None}
    summary = None
    if "processes" in results:
        summary, sample = results["processes"]
        ctx.carry["cpu_sample"] = sample
    # Second phase (issue 6, collect/memdiag.py): paging rates against the previous
    # sample, units' memory and, when memory or swap is in trouble, who holds it. It
    # needs the results above; in a thread only when it may read per-process files.
    from argus.collect import memdiag

    diag = _Job("diagnostics", lambda: memdiag.collect_diagnostics(
        ctx, results.get("memory"), results.get("pressure"), summary,
        tuple(results.get("services") or ()), now), cfg.collector_timeout,
        memdiag.may_dig(results.get("memory"), results.get("pressure"), cfg.thresholds))
    if diag.threaded:
        diag.start()
        diag.wait(diag.timeout)
    else:
        diag.run()
    jobs.append(diag)
    paging, diagnostics = diag.value if diag.error is None else (None, None)
    errors = tuple(CollectorError(j.name, j.error) for j in jobs if j.error is not None)
    return Snapshot(
        ts=ts,
        host=ctx.host,
        memory=results.get("memory"),
        cpu=results.get("cpu"),
        disks=tuple(results.get("disks") or ()),
        processes=summary,
        services=tuple(results.get("services") or ()),
        probes=tuple(results.get("probes") or ()),
        tmux=tuple(results.get("tmux") or ()),
        pressure=results.get("pressure"),
        errors=errors,
        durations_ms={j.name: round(j.ms, 2) for j in jobs},
        paging=paging,
        diagnostics=diagnostics,
    )
