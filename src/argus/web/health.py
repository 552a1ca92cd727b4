"""Health at a glance: each signal of the last snapshot as ok / warning / critical.

Judged by the same thresholds as the rules (detect/rules.py), so a tile turns amber
exactly when a cycle would report a warning. Where the config has only a warning
level (swap, load, PSI, zombies), critical is derived, and said so below. Works on
``last_snapshot.json`` as stored (plain JSON), never on live collectors: the page
shows what Argus saw, not a second opinion taken by the web server.
"""

from __future__ import annotations

from argus.config import Config
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

LEVELS = ("ok", "unknown", "warning", "critical")  # worst last
GiB = 2**30


def worst(levels: list[str]) -> str:
    return max(levels, key=LEVELS.index) if levels else "unknown"


def level(value: float | None, warn: float, crit: float) -> str:
    if value is None:
        return "unknown"
    if value >= crit:
        return "critical"
    return "warning" if value >= warn else "ok"


def signal(sid: str, label: str, value: float | None, unit: str, lvl: str, text: str,
           limits: str = "") -> dict[str, Any]:
    return {"id": sid, "label": label, "value": None if value is None else round(value, 2),
            "unit": unit, "level": lvl, "text": text, "limits": limits}


def _num(data: Any, *keys: str) -> float | None:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return float(data) if isinstance(data, (int, float)) and not isinstance(data, bool) else None


def signals(snap: dict[str, Any], config: Config, argus: dict[str, Any]) -> list[dict[str, Any]]:
    """The tiles, in page order: memory, swap, load, pressure, each disk, services,
    probes, processes, and Argus itself (``argus`` is the /healthz body)."""
    t = config.thresholds
    out = [_memory(snap, config), _swap(snap, config)]
    cpu = snap.get("cpu") or {}
    load5, cores = _num(cpu, "load5"), _num(cpu, "cores") or 1.0
    per_core = None if load5 is None else load5 / max(cores, 1.0)
    # No load_crit key: twice the warning level is a host far past saturation.
    out.append(signal(
        "load", "Load", load5, "", level(per_core, t.load_per_core_warn,
                                         2 * t.load_per_core_warn),
        "no data" if load5 is None else f"{load5:.2f} on {cores:.0f} cores "
        f"({per_core:.2f}/core, 5 min)", f"warn {t.load_per_core_warn:g}/core"))
    out.append(_pressure(snap, config))
    for disk in snap.get("disks") or []:
        pct, inodes = _num(disk, "used_pct"), _num(disk, "inodes_pct")
        lvl = worst([level(pct, t.disk_warn, t.disk_crit),
                     level(inodes, t.disk_warn, t.disk_crit) if inodes is not None else "ok"])
        free = _num(disk, "free_bytes") or 0.0
        text = f"{free / GiB:.1f} GiB free" + (
            f", inodes {inodes:.0f}%" if inodes is not None and inodes >= t.disk_warn else "")
        out.append(signal(f"disk:{disk.get('mount')}", f"Disk {disk.get('mount')}", pct, "%",
                          lvl, text, f"warn {t.disk_warn:g} · crit {t.disk_crit:g}"))
    out += _services(snap)
    procs = snap.get("processes") or {}
    zombies = _num(procs, "zombies")
    out.append(signal(
        "processes", "Processes", _num(procs, "total"), "",
        # No zombies_crit: five times the warning means reaping has stopped for good.
        level(zombies, t.zombies_warn, 5 * t.zombies_warn),
        "no data" if zombies is None else f"{zombies:.0f} zombies",
        f"warn {t.zombies_warn} zombies"))
    out.append(_argus(snap, argus))
    return out


def _memory(snap: dict[str, Any], config: Config) -> dict[str, Any]:
    t, mem = config.thresholds, snap.get("memory") or {}
    pct = _num(mem, "pct")
    if pct is None:
        return signal("memory", "Memory", None, "%", "unknown", "no data")
    if mem.get("basis") == "cgroup":
        used, total = _num(mem, "cgroup_usage_bytes"), _num(mem, "cgroup_limit_bytes")
        of = "of the cgroup limit"
    else:
        used, total = _num(mem, "used_bytes"), _num(mem, "total_bytes")
        of = "of RAM"
    text = f"{(used or 0) / GiB:.1f} / {(total or 0) / GiB:.1f} GiB {of}"
    return signal("memory", "Memory", pct, "%", level(pct, t.memory_warn, t.memory_crit), text,
                  f"warn {t.memory_warn:g} · crit {t.memory_crit:g}")


def _swap(snap: dict[str, Any], config: Config) -> dict[str, Any]:
    t, mem = config.thresholds, snap.get("memory") or {}
    total = _num(mem, "swap_total_bytes")
    if total is None:
        return signal("swap", "Swap", None, "%", "unknown", "no data")
    if total == 0:
        return signal("swap", "Swap", 0.0, "%", "ok", "no swap configured")
    pct = _num(mem, "swap_used_pct") or 0.0
    paging = snap.get("paging") or {}
    io = (_num(paging, "swap_in_mb_s") or 0.0) + (_num(paging, "swap_out_mb_s") or 0.0)
    # Swap in use is a warning (swap_warn); swap being *moved* fast is thrashing, the
    # state that makes a host unusable (detect/swap.py), so that is what turns it red.
    lvl = "critical" if io >= t.swap_io_thrash_mb_s else level(pct, t.swap_warn, 101.0)
    return signal("swap", "Swap", pct, "%", lvl, f"{io:.1f} MiB/s in+out",
                  f"warn {t.swap_warn:g} · thrash {t.swap_io_thrash_mb_s:g} MiB/s")


def _pressure(snap: dict[str, Any], config: Config) -> dict[str, Any]:
    t, psi = config.thresholds, snap.get("pressure")
    if not isinstance(psi, dict):
        return signal("pressure", "Pressure", None, "%", "unknown", "PSI not available")
    judged = [("cpu", "some", t.psi_cpu_warn), ("memory", "full", t.psi_memory_full_warn),
              ("io", "some", t.psi_io_warn)]
    levels, parts, top = [], [], 0.0
    for resource, kind, warn in judged:
        value = _num(psi, resource, f"{kind}_avg60")
        # PSI has only warning keys; twice the warning share of stalled time (capped at
        # 100%) is where the rules' "sustained" warning has become an outage.
        levels.append(level(value, warn, min(2 * warn, 100.0)))
        if value is not None:
            top = max(top, value)
            parts.append(f"{resource} {value:.0f}%")
    return signal("pressure", "Pressure", top, "%", worst(levels),
                  " · ".join(parts) or "no data",
                  f"warn cpu {t.psi_cpu_warn:g} · mem {t.psi_memory_full_warn:g} · "
                  f"io {t.psi_io_warn:g}")


def _services(snap: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    units = [u for u in snap.get("services") or [] if isinstance(u, dict)]
    if units:
        # The same judgement as detect/rules.service_rules.
        bad = [u for u in units if u.get("active_state") in ("failed", "inactive",
                                                              "deactivating")
               or u.get("load_state") == "not-found"]
        restarting = [u for u in units if u.get("active_state") == "activating"]
        lvl = "critical" if bad else "warning" if restarting else "ok"
        names = ", ".join(str(u.get("unit")) for u in (bad or restarting)[:3])
        out.append(signal("services", "Services", float(len(units) - len(bad)), "", lvl,
                          f"{len(units) - len(bad)}/{len(units)} up" +
                          (f"; {names}" if names else "")))
    probes = [p for p in snap.get("probes") or [] if isinstance(p, dict)]
    if probes:
        down = [p for p in probes if not p.get("ok")]
        names = ", ".join(str(p.get("name")) for p in down[:3])
        out.append(signal("probes", "Probes", float(len(probes) - len(down)), "",
                          "critical" if down else "ok",
                          f"{len(probes) - len(down)}/{len(probes)} answering" +
                          (f"; down: {names}" if names else "")))
    return out


def _argus(snap: dict[str, Any], argus: dict[str, Any]) -> dict[str, Any]:
    errors = [e.get("collector") for e in snap.get("errors") or [] if isinstance(e, dict)]
    failures = int(argus.get("consecutive_failures") or 0)
    if argus.get("status") != "ok":
        lvl = "critical"
    elif failures >= 3 or argus.get("last_status") == "failed":
        lvl = "critical" if failures >= 3 else "warning"
    else:
        lvl = "warning" if errors else "ok"
    if argus.get("status") == "ok":
        duration = argus.get("last_duration_ms")
        text = f"last cycle {argus.get('last_status')}" + (
            f" in {duration:.0f} ms" if isinstance(duration, (int, float)) else "")
        text += f"; every {argus.get('interval_s')} s"
        if failures:
            text += f"; {failures} failed in a row"
    else:
        text = str(argus.get("message", ""))
    if errors:
        text += f"; collectors failed: {', '.join(map(str, errors[:3]))}"
    return signal("argus", "Argus", argus.get("age_s"), "s", lvl, text)
