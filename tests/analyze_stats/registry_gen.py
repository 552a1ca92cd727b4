"""A realistic generated registry: what months of Argus cycles on a busy host write.

Used by the stats tests (agreement with the jq reference) and by
bench/bench_stats.py. Records are built with ``registry.make_record`` and
serialised with ``registry.encode``, exactly as the cycle writes them; the mix
follows what the cycle produces: per cycle a few problems, each with its action
record (alerts suppressed by dedup far more often than sent, host actions that
mostly succeed), ``resolved`` records with ``details.duration_s``, beads on the
recurring keys, LLM-proposed actions now and then, and ``details`` evidence of the
documented shapes (memory hogs, service states, clean_disk figures).
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from argus.record.registry import encode, make_record

HOSTS = ("web-1",)
UNITS = ("nginx.service", "worker.service", "gateway.service", "postgres.service",
         "redis.service", "cron-backup.service")
MOUNTS = ("/", "/var", "/home", "/srv/data")
PROCS = ("node", "python3", "java", "postgres", "claude", "codex")


def _key(ptype: str, subject: str) -> str:
    return f"{ptype}:{hashlib.sha256(subject.encode()).hexdigest()[:16]}"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _hogs(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(rng.randint(1, 3)):
        rss = rng.randint(200, 4000) * 2**20
        out.append({"pid": rng.randint(300, 99999), "name": rng.choice(PROCS),
                    "rss_bytes": rss, "mem_pct": round(rss / 2**34 * 100, 1),
                    "runtime_s": rng.randint(60, 900000), "user": "app",
                    "unit": rng.choice(UNITS) if i else None})
    return out


def _problem(rng: random.Random) -> dict[str, Any]:
    """One problem as detect/ would describe it: type, severity, subject, text, details."""
    roll = rng.random()
    if roll < 0.30:
        mount = rng.choice(MOUNTS)
        pct = rng.uniform(80, 99)
        sev = "critical" if pct >= 90 else "warning"
        return {"type": "disk", "severity": sev, "subject": f"disk:{mount}",
                "description": f"disk {mount} at {pct:.0f}% ({pct * 2.5:.1f} GB used, "
                               f"{(100 - pct) * 2.5:.1f} GB free of 250.0 GB)",
                "details": {"mount": mount, "used_pct": round(pct, 1)}}
    if roll < 0.55:
        unit = rng.choice(UNITS)
        return {"type": "service", "severity": "critical", "subject": f"service:{unit}",
                "description": f"Service {unit} is failed (exit code {rng.randint(1, 3)})",
                "details": {"unit": unit, "active_state": "failed", "sub_state": "failed",
                            "result": "exit-code", "n_restarts": rng.randint(0, 5)}}
    if roll < 0.75:
        pct = rng.uniform(80, 97)
        return {"type": "memory", "severity": "critical" if pct >= 90 else "warning",
                "subject": "memory:host",
                "description": f"memory at {pct:.1f}% of RAM ({pct * 0.16:.1f} GB of 16.0 GB)",
                "details": {"hogs": _hogs(rng)}}
    if roll < 0.85:
        return {"type": "swap", "severity": "warning", "subject": "swap:host",
                "description": f"swap {rng.uniform(50, 90):.0f}% used, thrashing "
                               f"{rng.uniform(10, 60):.1f} MB/s in",
                "details": {"swap_in_mb_s": round(rng.uniform(10, 60), 1),
                            "swap_out_mb_s": round(rng.uniform(1, 30), 1),
                            "psi_full_avg60": round(rng.uniform(5, 40), 2),
                            "culprits": _hogs(rng)[:1]}}
    if roll < 0.93:
        load = rng.uniform(2, 9)
        return {"type": "cpu", "severity": "warning", "subject": "cpu:load",
                "description": f"load {load:.2f} per core (5 min) on 8 cores",
                "details": {"load5": round(load * 8, 2), "cores": 8}}
    if roll < 0.98:
        name = rng.choice(PROCS)
        return {"type": "process", "severity": "warning", "subject": f"orphan:{name}",
                "description": f"orphan {name} --test (pid {rng.randint(300, 99999)}) "
                               f"seen 3 cycles in a row",
                "details": {"pid": rng.randint(300, 99999), "name": name}}
    return {"type": "self", "severity": "warning", "subject": "self:history",
            "description": "history.sqlite3 busy: row skipped", "details": {}}


def _action(rng: random.Random, p: dict[str, Any]) -> tuple[str, str, str]:
    """(action_taken, action_result, action_detail) for a problem."""
    ptype, subject = p["type"], p["subject"]
    if ptype == "service" and rng.random() < 0.6:
        unit = subject.split(":", 1)[1]
        result = rng.choices(["success", "failure", "skipped", "dry_run"],
                             [0.8, 0.12, 0.06, 0.02])[0]
        return f"restart_service:{unit}", result, f"restart {result}"
    if ptype == "disk" and p["severity"] == "critical" and rng.random() < 0.5:
        result = rng.choices(["success", "failure"], [0.9, 0.1])[0]
        return f"clean_disk:{subject.split(':', 1)[1]}", result, "freed 1.2 GB"
    if ptype == "process" and rng.random() < 0.7:
        return f"kill_pid:{rng.randint(300, 99999)}", rng.choices(
            ["success", "failure"], [0.95, 0.05])[0], "SIGTERM, gone after 0.2 s"
    if p["severity"] == "critical" or rng.random() < 0.3:
        result = rng.choices(["suppressed", "success", "failure", "skipped"],
                             [0.7, 0.22, 0.05, 0.03])[0]
        return "alert", result, {"success": "sent to Telegram",
                                 "failure": "queued in outbox for retry (HTTP 502)",
                                 "suppressed": "alerted 300s ago (dedup window 3600s)",
                                 "skipped": "rate limited"}[result]
    return "log", "success", "logged"


def generate(n: int, *, end: float, days: float = 30.0, seed: int = 7) -> list[bytes]:
    """``n`` encoded registry lines, oldest first, spread over ``days`` before ``end``."""
    rng = random.Random(seed)
    start = end - days * 86400
    beads: dict[str, str] = {}
    lines: list[bytes] = []
    ts = start
    # 2.05 records per cycle on average (the weights below); 3 % slack so the last
    # cycles do not pile up at ``end``.
    step = 0.97 * days * 86400 / max(n / 2.05, 1)
    while len(lines) < n:
        ts += step * rng.uniform(0.5, 1.5)
        stamp = _iso(min(ts, end - 1))
        cycle = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts)) + f"-{rng.randint(100, 9999)}"
        for _ in range(rng.choices([1, 2, 3, 4], [0.35, 0.35, 0.2, 0.1])[0]):
            p = _problem(rng)
            key = _key(p["type"], p["subject"])
            if key not in beads and p["severity"] == "critical" and rng.random() < 0.05:
                beads[key] = f"ops-{rng.getrandbits(32):08x}"
            if rng.random() < 0.12:  # the problem went away: its resolved record
                details = {"duration_s": rng.randint(300, 6 * 3600),
                           "last_severity": p["severity"]}
                record = make_record(
                    ts=stamp, severity="info", type=p["type"],
                    description=f"resolved: {p['description']}", action_taken="alert",
                    action_result="resolved", bead_id=beads.pop(key, None), host=HOSTS[0],
                    key=key, subject=p["subject"], source="rules", cycle=cycle,
                    details=details)
            else:
                taken, result, detail = _action(rng, p)
                source = "llm" if rng.random() < 0.04 else "rules"
                details = {**p["details"], "action_detail": detail}
                if source == "llm":
                    details["llm_reason"] = "the unit keeps failing after restarts"
                record = make_record(
                    ts=stamp, severity=p["severity"], type=p["type"],
                    description=p["description"], action_taken=taken, action_result=result,
                    bead_id=beads.get(key), host=HOSTS[0], key=key, subject=p["subject"],
                    source=source, cycle=cycle, details=details)
            lines.append(encode(record))
            if len(lines) >= n:
                break
    return lines


def write_registry(path: str, n: int, *, end: float, days: float = 30.0, seed: int = 7) -> None:
    with open(path, "wb") as fh:
        batch = 50_000
        done = 0
        while done < n:
            # Each batch continues the timeline: a separate seed, a later slice of time.
            part = min(batch, n - done)
            span = days * part / n
            part_end = end - days * 86400 * (n - done - part) / n
            fh.writelines(generate(part, end=part_end, days=span, seed=seed + done))
            done += part
