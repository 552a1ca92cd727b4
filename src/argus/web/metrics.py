"""``/metrics``: the last snapshot, the cycle's health and the problem stats, for Prometheus.

A custom collector (client_python's one extension point, ``collect() -> Iterable[Metric]``)
that reads the state files at scrape time, registered in a registry built per
scrape: nothing registers itself at import, and the values are never older than the
files. Names follow Prometheus conventions: base units (bytes, seconds) in the name,
``_total`` only on counters, labels for mounts, units, probes. ``deploy/`` builds its
alert rules and Grafana dashboard on these names: rename one there too.

Host figures are exported as the last cycle saw them; when Argus stalls they go
stale, which ``argus_last_cycle_timestamp_seconds`` and ``argus_healthy`` reveal
(the ``ArgusStalled`` alert).
"""

from __future__ import annotations

import os
import threading

from argus.context import Context
from argus.logs import get_logger
from argus.typing_lite import TYPE_CHECKING
from argus.web.api import healthz, read_state

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from prometheus_client.metrics_core import Metric

log = get_logger("argus.web")

MiB = 2**20
UNIT_STATES = ("active", "activating", "deactivating", "inactive", "failed", "reloading")
# (snapshot key, metric suffix, help) of the host's headline gauges.
MEMORY = (
    ("pct", "memory_used_percent", "Memory in use, % of the cgroup limit when one binds, "
     "else of RAM (what thresholds.memory_* compare)"),
    ("used_bytes", "memory_used_bytes", "RAM in use (total - available)"),
    ("total_bytes", "memory_total_bytes", "RAM installed"),
    ("available_bytes", "memory_available_bytes", "RAM available (MemAvailable)"),
    ("cgroup_limit_bytes", "memory_cgroup_limit_bytes", "The memory limit Argus runs under"),
    ("swap_used_pct", "swap_used_percent", "Swap in use, % of swap"),
    ("swap_total_bytes", "swap_total_bytes", "Swap configured"),
)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


class ArgusCollector:
    """Reads ``last_snapshot.json``, ``cycle.json``, ``dedup.json`` and ``beads.json``."""

    def __init__(self, ctx: Context, now: float) -> None:
        self.ctx, self.now = ctx, now

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        from argus import __version__

        snap, _ = read_state(self.ctx.paths.last_snapshot)
        snap = snap if isinstance(snap, dict) else {}
        info = GaugeMetricFamily("argus_info", "Argus version and the host it watches",
                                 labels=["version", "host"])
        info.add_metric([__version__, str(snap.get("host") or self.ctx.host)], 1)
        yield info
        yield from self._cycle()
        yield from self._host(snap)
        yield from self._disks(snap.get("disks") or [])
        yield from self._services(snap)
        yield from self._problems()

    def _cycle(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        health = healthz(self.ctx, {}, self.now)
        body = health.body
        yield GaugeMetricFamily("argus_healthy", "1 while the last cycle finished within "
                                "2 x interval + 60 s (/healthz answers 200), else 0",
                                value=1 if health.status == 200 else 0)
        yield GaugeMetricFamily("argus_cycle_interval_seconds", "Configured seconds between "
                                "cycles", value=self.ctx.config.interval)
        if body.get("status") == "never":
            return
        finished = self.now - float(body["age_s"])
        yield GaugeMetricFamily("argus_last_cycle_timestamp_seconds",
                                "When the last cycle finished (epoch seconds)", value=finished)
        yield GaugeMetricFamily("argus_last_cycle_success", "1 when the last cycle ended ok",
                                value=1 if body.get("last_status") == "ok" else 0)
        duration = _num(body.get("last_duration_ms"))
        if duration is not None:
            yield GaugeMetricFamily("argus_last_cycle_duration_seconds",
                                    "How long the last cycle took", value=duration / 1000)
        failures = _num(body.get("consecutive_failures"))
        yield GaugeMetricFamily("argus_consecutive_failed_cycles",
                                "Cycles failed in a row (3 alerts)", value=failures or 0)
        cycle, _ = read_state(self.ctx.paths.cycle)
        cycles = _num(cycle.get("cycles")) if isinstance(cycle, dict) else None
        if cycles is not None:
            yield CounterMetricFamily("argus_cycles", "Cycles run since cycle.json was "
                                      "created", value=cycles)

    def _host(self, snap: dict[str, Any]) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        ts = snap.get("ts")
        if isinstance(ts, str):
            from argus.timefmt import parse_iso

            when = parse_iso(ts)
            if when is not None:
                yield GaugeMetricFamily("argus_snapshot_timestamp_seconds",
                                        "When the exported host figures were collected",
                                        value=when)
        mem = snap.get("memory") or {}
        for key, name, doc in MEMORY:
            if _num(mem.get(key)) is not None:
                yield GaugeMetricFamily(f"argus_{name}", doc, value=_num(mem[key]))
        total, free = _num(mem.get("swap_total_bytes")), _num(mem.get("swap_free_bytes"))
        if total is not None and free is not None:
            yield GaugeMetricFamily("argus_swap_used_bytes", "Swap in use", value=total - free)
        paging = snap.get("paging") or {}
        for key, name, doc in (("swap_in_mb_s", "swap_in", "Bytes read from swap"),
                               ("swap_out_mb_s", "swap_out", "Bytes written to swap")):
            if _num(paging.get(key)) is not None:
                yield GaugeMetricFamily(f"argus_{name}_bytes_per_second",
                                        f"{doc} per second, since the previous cycle",
                                        value=_num(paging[key]) * MiB)  # type: ignore[operator]
        cpu = snap.get("cpu") or {}
        for key in ("load1", "load5", "load15"):
            if _num(cpu.get(key)) is not None:
                yield GaugeMetricFamily(f"argus_{key}", f"Load average ({key[4:]} min)",
                                        value=_num(cpu[key]))
        if _num(cpu.get("cores")) is not None:
            yield GaugeMetricFamily("argus_cpu_cores", "CPUs online", value=_num(cpu["cores"]))
        psi = snap.get("pressure")
        if isinstance(psi, dict):
            share = GaugeMetricFamily(
                "argus_pressure_percent", "PSI: % of wall time tasks were stalled on the "
                "resource (kind some: at least one task; full: all non-idle tasks), averaged "
                "over the window", labels=["resource", "kind", "window"])
            stalled = CounterMetricFamily("argus_pressure_stall_seconds",
                                          "PSI: total time stalled", labels=["resource", "kind"])
            for resource, values in sorted(psi.items()):
                for kind in ("some", "full"):
                    for window in ("10", "60", "300"):
                        value = _num((values or {}).get(f"{kind}_avg{window}"))
                        if value is not None:
                            share.add_metric([resource, kind, f"{window}s"], value)
                    total_us = _num((values or {}).get(f"{kind}_total_us"))
                    if total_us is not None:
                        stalled.add_metric([resource, kind], total_us / 1e6)
            yield share
            yield stalled
        procs = snap.get("processes") or {}
        if _num(procs.get("total")) is not None:
            yield GaugeMetricFamily("argus_processes", "Processes (kernel threads excluded)",
                                    value=_num(procs["total"]))
            yield GaugeMetricFamily("argus_zombie_processes", "Zombie processes",
                                    value=_num(procs.get("zombies")) or 0)
            rss = GaugeMetricFamily("argus_process_rss_bytes", "RSS of the top processes, "
                                    "summed by name and unit", labels=["name", "unit"])
            sums: dict[tuple[str, str], float] = {}
            for p in procs.get("top_rss") or []:
                who = (str(p.get("name")), str(p.get("unit") or ""))
                sums[who] = sums.get(who, 0.0) + (_num(p.get("rss_bytes")) or 0.0)
            for (name, unit), value in sorted(sums.items()):
                rss.add_metric([name, unit], value)
            yield rss
        units = GaugeMetricFamily("argus_unit_memory_bytes", "Memory a systemd unit's cgroup "
                                  "holds", labels=["unit"])
        for u in (snap.get("diagnostics") or {}).get("units") or []:
            if _num(u.get("memory_bytes")) is not None:
                units.add_metric([str(u.get("unit"))], _num(u["memory_bytes"]))  # type: ignore[arg-type]
        yield units
        errors = GaugeMetricFamily("argus_collector_errors", "1 for each collector that failed "
                                   "in the last cycle", labels=["collector"])
        for e in snap.get("errors") or []:
            errors.add_metric([str(e.get("collector"))], 1)
        yield errors

    def _disks(self, disks: list[Any]) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        labels = ["mount", "device", "fstype"]
        families = {key: GaugeMetricFamily(f"argus_disk_{name}", doc, labels=labels)
                    for key, name, doc in (
                        ("used_pct", "used_percent", "Disk used, % (as df: used / (used + "
                         "available))"),
                        ("total_bytes", "size_bytes", "Filesystem size"),
                        ("used_bytes", "used_bytes", "Bytes used"),
                        ("free_bytes", "free_bytes", "Bytes available to unprivileged users"),
                        ("inodes_pct", "inodes_used_percent", "Inodes used, %"))}
        for d in disks:
            values = [str(d.get("mount")), str(d.get("device")), str(d.get("fstype"))]
            for key, family in families.items():
                if _num(d.get(key)) is not None:
                    family.add_metric(values, _num(d[key]))  # type: ignore[arg-type]
        yield from families.values()

    def _services(self, snap: dict[str, Any]) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        state = GaugeMetricFamily("argus_unit_state", "1 for the state a watched systemd unit "
                                  "is in, 0 for the others", labels=["unit", "scope", "state"])
        restarts = GaugeMetricFamily("argus_unit_restarts", "systemd's NRestarts of the unit "
                                     "(automatic restarts; resets with the unit)",
                                     labels=["unit", "scope"])
        for svc in snap.get("services") or []:
            unit, scope, current = (str(svc.get("unit")), str(svc.get("scope")),
                                    str(svc.get("active_state")))
            for name in (*UNIT_STATES, *((current,) if current not in UNIT_STATES else ())):
                state.add_metric([unit, scope, name], 1 if name == current else 0)
            restarts.add_metric([unit, scope], _num(svc.get("n_restarts")) or 0)
        up = GaugeMetricFamily("argus_probe_up", "1 when the HTTP or TCP probe answered as "
                               "expected", labels=["probe", "kind"])
        latency = GaugeMetricFamily("argus_probe_latency_seconds", "How long the probe took",
                                    labels=["probe", "kind"])
        # No target label: a probe URL may carry credentials (https://user:pass@...).
        for p in snap.get("probes") or []:
            labels = [str(p.get("name")), str(p.get("kind"))]
            up.add_metric(labels, 1 if p.get("ok") else 0)
            if _num(p.get("latency_ms")) is not None:
                latency.add_metric(labels, _num(p["latency_ms"]) / 1000)  # type: ignore[operator]
        yield from (state, restarts, up, latency)

    def _problems(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        from argus.tickets.ledger import STATE_NAME

        active = GaugeMetricFamily("argus_active_problems", "Problems present in the last "
                                   "cycle", labels=["type", "severity"])
        dedup, _ = read_state(self.ctx.paths.dedup)
        entries = dedup.get("problems") if isinstance(dedup, dict) else None
        counts: dict[tuple[str, str], int] = {}
        for entry in (entries if isinstance(entries, dict) else {}).values():
            if isinstance(entry, dict) and entry.get("active"):
                key = (str(entry.get("type")), str(entry.get("severity")))
                counts[key] = counts.get(key, 0) + 1
        for (ptype, severity), n in sorted(counts.items()):
            active.add_metric([ptype, severity], n)
        yield active
        ledger, _ = read_state(os.path.join(self.ctx.paths.state_dir, STATE_NAME))
        beads = ledger.get("beads") if isinstance(ledger, dict) else None
        yield GaugeMetricFamily("argus_open_beads", "Beads Argus opened and has not closed",
                                value=len(beads) if isinstance(beads, dict) else 0)
        thresholds = GaugeMetricFamily(
            "argus_threshold", "The host's configured thresholds (name: the config key under "
            "[thresholds]), so alert rules judge each host as its own Argus does",
            labels=["name"])
        for name, value in self.ctx.config.thresholds._asdict().items():
            thresholds.add_metric([name], float(value))
        yield thresholds


def exposition(ctx: Context, now: float) -> bytes:
    """The text format (0.0.4): the snapshot collector plus the registry stats."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(ArgusCollector(ctx, now))
    stats = stats_collector(ctx, now)
    if stats is not None:
        registry.register(stats)
    return generate_latest(registry)


# One registry follower per registry file for the server's life: each scrape reads only
# the records appended since the last one, not the whole file (a 1,000,000-record
# registry takes seconds to read, longer than Prometheus waits for a scrape).
_followers: dict[str, Any] = {}
_followers_lock = threading.Lock()


def stats_collector(ctx: Context, now: float) -> Any:
    """The all-time registry statistics of ``argus stats --format prometheus``
    (analyze/exposition.py), or None while that module is not installed: ``/metrics``
    then serves the snapshot alone."""
    try:
        from argus.analyze import stats
        from argus.analyze.exposition import StatsCollector
    except (ImportError, AttributeError) as err:
        log.debug("no registry stats in /metrics: %s", err)
        return None
    from argus.analyze.tally_follow import Follower

    path, state_dir = ctx.paths.problems, ctx.paths.state_dir
    with _followers_lock:
        follower = _followers.get(path)
        if follower is None:
            follower = _followers[path] = Follower(path)
    return StatsCollector(lambda: stats.document(follower.update(), since_s=None, now=now,
                                                 registry=path, state_dir=state_dir))
