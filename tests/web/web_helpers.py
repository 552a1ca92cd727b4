"""Helpers of the dashboard tests (imported by name: tests/ is not a package).

``seed_state`` builds a state directory as a week of Argus would leave it: a week of
history rows written through record/history.py's writer, planted registry records
(restarts, a daily 03:00 disk warning, a kill, an alert), beads, and then a real dry-run
cycle on this host for last_snapshot.json, cycle.json and today's records.
``Serve`` runs ``python -m argus serve`` as a real subprocess against it.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

from argus.config import build_config
from argus.context import make_context
from argus.cycle import run_cycle
from argus.model import (
    CpuInfo,
    DiskInfo,
    MemoryInfo,
    ProcessInfo,
    ProcessSummary,
    Snapshot,
    problem_key,
)
from argus.model_diagnostics import MemoryDiagnostics, UnitMemory
from argus.record import registry
from argus.record.history import write_cycle
from argus.timefmt import iso

GiB = 2**30
DAY = 86400
STEP = 600  # one planted history row every 10 minutes: 1,008 rows for the week
TOKEN = "web-test-token-7c1e9a"
# Dry run, no orphan rules, no tmux, no beads: the real cycle runs on this very host
# and must never kill, clean or file anything; disk_warn 0.1 makes "/" a real warning.
SAFE: dict[str, Any] = {"tmux": {"sockets": []}, "dry_run": True, "processes": {"orphans": []},
                        "beads": {"enabled": False},
                        "thresholds": {"disk_warn": 0.1, "disk_crit": 99.9}}
WORKER_FAILED = "Service worker.service is failed (exit code 1)"
DATA_TOTAL = 500 * GiB


class Seeded(NamedTuple):
    state_dir: Path
    now: float
    snapshot: dict[str, Any]
    worker_key: str
    root_disk_key: str


def real_memory_pct() -> float:
    """This host's memory in use now, as the real cycle will measure it (MemAvailable)."""
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total, avail = (int(info[k].split()[0]) for k in ("MemTotal", "MemAvailable"))
    return 100 * (total - avail) / total


def _snap(t: float, now: float, root_pct: float, mem_now: float) -> Snapshot:
    """A planted snapshot for time ``t``: a daily memory rhythm that fades into this
    host's real figure over the last 3 hours (so the chart meets the real cycle's
    point), a disk filling on /data (62% -> 86% over the week), I/O pressure at 03:00,
    and a worker leaking 38 MB a day."""
    age = (now - t) / (7 * DAY)  # 1 a week ago, 0 now
    hour = (t % DAY) / 3600
    rhythm = 22 + 14 * math.sin(2 * math.pi * (hour - 8) / 24) + 6 * (1 - age)
    fade = min(1.0, (now - t) / (3 * 3600))
    mem = mem_now + fade * rhythm
    mem_info = MemoryInfo(16 * GiB, int(16 * GiB * (1 - mem / 100)), int(16 * GiB * mem / 100),
                          mem, 0, 0, 0.0, None, None, None, None, mem, "host")
    busy = 1.0 if 9 <= hour < 18 else 0.0
    load = 0.4 + 1.4 * busy + 0.3 * math.sin(t / 1700)
    data_pct = 62 + 24 * (1 - age)
    root_now = root_pct - 6 * age  # "/" grew 6 points over the week, up to today's real figure
    disks = (
        DiskInfo("/", "/dev/vda", "ext4", 256 * GiB, int(root_now * 2.56 * GiB),
                 int((100 - root_now) * 2.56 * GiB), root_now, 10**7, 10**5, 1.0),
        DiskInfo("/data", "/dev/vdb", "xfs", DATA_TOTAL, int(DATA_TOTAL * data_pct / 100),
                 int(DATA_TOTAL * (1 - data_pct / 100)), data_pct, 10**7, 10**5, 1.0),
    )
    worker_rss = int((600 + 38 * 7 * (1 - age)) * 2**20)  # +38 MB/day
    top = (ProcessInfo(4100, "python3", "", "app", worker_rss, 4.0, 2.0, 0.0, 1.0, 1, "S",
                       "worker.service"),)
    io = 40.0 if 3 <= hour < 3.5 else 2.0 + busy * 4
    return Snapshot(
        ts=iso(t), host="web-1", memory=mem_info, cpu=CpuInfo(load * 1.1, load, load * 0.9, 2, t),
        disks=disks, processes=ProcessSummary(180 + int(10 * busy), 0, (), top, (), "interval"),
        services=(), probes=(), tmux=(), errors=(), durations_ms={},
        pressure={"cpu": {"some_avg60": 3 + 12 * busy}, "io": {"some_avg60": io},
                  "memory": {"full_avg60": 0.5 * busy}},
        diagnostics=MemoryDiagnostics("host", units=(
            UnitMemory("worker.service", "/system.slice/worker.service", worker_rss, None, 3.0),)))


def _record(ts: float, severity: str, ptype: str, subject: str, description: str,
            action: str, result: str, **details: Any) -> dict[str, Any]:
    return registry.make_record(
        ts=iso(ts), severity=severity, type=ptype, description=description,
        action_taken=action, action_result=result, bead_id=None, host="web-1",
        key=problem_key(ptype, subject), subject=subject, source="rules",
        cycle=f"seed-{int(ts)}", details=details)


def planted_records(now: float) -> list[dict[str, Any]]:
    last_night = now - now % DAY + 3 * 3600 + 600  # 03:10 UTC
    if last_night > now - 60:
        last_night -= DAY
    out = []
    for d in range(6, -1, -1):  # the same I/O warning every night, 03:10, for a week
        t = last_night - d * DAY
        out.append(_record(t, "warning", "disk", "pressure:io",
                           "I/O pressure: a task waited for I/O 41% of the last minute",
                           "log", "success"))
    out.append(_record(now - 3 * DAY, "critical", "memory", "memory:host",
                       "memory at 93% (15232/16384 MB)", "alert", "success"))
    out.append(_record(now - 3 * DAY + 300, "critical", "memory", "memory:host",
                       "memory at 94% (15401/16384 MB)", "alert", "suppressed"))
    out.append(_record(now - 2 * DAY, "warning", "process", "orphan:4242",
                       "Orphan node --test (pid 4242) seen 3 cycles", "kill_pid:4242", "success"))
    for n, ago in enumerate((5 * 3600, 4 * 3600, 3 * 3600)):
        out.append(_record(now - ago, "critical", "service", "service:worker.service",
                           WORKER_FAILED, "restart_service:worker.service",
                           "success" if n < 2 else "failure", unit="worker.service"))
    out.append(_record(now - 3 * 3600 + 5, "critical", "service", "service:worker.service",
                       WORKER_FAILED, "alert", "success", unit="worker.service"))
    return out


def seed_state(root: Path) -> Seeded:
    state = root / "state"
    now = time.time()
    st = os.statvfs("/")
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    root_pct = 100 * used / (used + st.f_bavail * st.f_frsize)
    history = str(state / "history.sqlite3")
    state.mkdir(parents=True)
    mem_now = real_memory_pct()
    # 1,006 rows from a week ago to 20 minutes ago; two real cycles add the last two.
    for t in range(int(now) - 7 * DAY + STEP, int(now) - 2 * STEP + 1, STEP):
        write_cycle(history, _snap(t, now, root_pct, mem_now), t, 30)
    registry.append(str(state / "problems.jsonl"), planted_records(now))
    cfg = build_config(SAFE, "test", {})
    # Two cycles 10 minutes apart (by their clocks), so the second has paging rates.
    for when in (float(int(now) - STEP), now):
        def clock(t: float = when) -> float:
            return t

        ctx = make_context(cfg, str(state), env={}, host="web-1", clock=clock)
        report = run_cycle(ctx, when)
        assert report is not None and report.status == "ok"
    worker_key = problem_key("service", "service:worker.service")
    root_key = problem_key("disk", "disk:/")
    dedup = json.loads((state / "dedup.json").read_text())
    # The worker failed this morning and was resolved since; its bead stays open until
    # a person closes it (beads.auto_close off), as escalate.py leaves it.
    dedup["problems"][worker_key] = {
        "type": "service", "subject": "service:worker.service", "first_seen": now - 5 * 3600,
        "last_seen": now - 3 * 3600, "active": False, "severity": "critical",
        "description": WORKER_FAILED, "resolved_at": now - 2 * 3600, "streak": 0}
    (state / "dedup.json").write_text(json.dumps({"version": 1, "problems": dedup["problems"]}))
    beads = {worker_key: {"id": "ops-7f3a", "created_at": now - 3 * 3600,
                          "noted_at": now - 3 * 3600, "episode": now - 5 * 3600,
                          "severity": "critical", "resolved_at": now - 2 * 3600},
             root_key: {"id": "ops-81c2", "created_at": now - 600, "noted_at": now - 600,
                        "episode": now - 600, "severity": "warning", "resolved_at": None}}
    (state / "beads.json").write_text(json.dumps({"version": 1, "beads": beads,
                                                  "published": {}}))
    snapshot = json.loads((state / "last_snapshot.json").read_text())
    return Seeded(state, now, snapshot, worker_key, root_key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This environment without Argus's own variables (a developer's ARGUS_STATE_DIR or
    TELEGRAM_BOT_TOKEN must not leak into the server under test)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("ARGUS_", "TELEGRAM_", "ANTHROPIC_"))}


class Serve:
    """``python -m argus [--config F] --state-dir D serve --listen L`` as a subprocess."""

    def __init__(self, state_dir: Path, config: Path | None = None,
                 host: str = "127.0.0.1", extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        argv = [sys.executable, "-m", "argus", "--state-dir", str(state_dir)]
        if config is not None:
            argv += ["--config", str(config)]
        argv += ["serve", "--listen", f"{host}:{self.port}"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**clean_env(), **(extra_env or {})})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "argus: serving http://...", printed once bound
        if "serving" not in line:
            self.proc.kill()
            raise AssertionError(f"argus serve did not start: {line!r} "
                                 f"{self.proc.stderr.read() if self.proc.stderr else ''}")

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; returns the exit status."""
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("argus serve ignored SIGTERM for 10 s") from None


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Reply:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read())
