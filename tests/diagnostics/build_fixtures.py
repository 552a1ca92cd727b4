"""Writes the committed /proc and /sys fixture trees of the diagnostics tests.

This machine has no swap, no PSI spikes on demand and no cgroup limits, so those
states live in fixture trees under tests/fixtures/{proc,sys}/. They are committed;
this script is how they were made, kept so that a change is made here and the
trees regenerated, not edited by hand:

    .venv/bin/python tests/diagnostics/build_fixtures.py

Formats follow proc(5) (stat, status, smaps_rollup, vmstat, meminfo), the kernel's
Documentation/accounting/psi.rst (pressure/*) and cgroup-v2.rst / cgroup-v1 memory.
Every tree boots at BTIME; sample N is taken SAMPLE_S after sample N-1.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BTIME = 1767225600  # 2026-01-01T00:00:00Z
UPTIME0 = 86400.0  # sample 1 is one day after boot
SAMPLE_S = 300  # seconds between samples: the default interval
CLK = 100  # USER_HZ; os.sysconf("SC_CLK_TCK") on every Linux Argus runs on
PAGE = 4096
KiB, MiB, GiB = 1024, 1024**2, 1024**3
BOOT_ID = "0f6a3c1e-5b7d-4e2a-9c11-2d3e4f5a6b7c"


def t_of(sample: int) -> float:
    """The epoch time of sample N (1-based), for the tests' clock."""
    return BTIME + UPTIME0 + (sample - 1) * SAMPLE_S


class Proc(NamedTuple):
    pid: int
    comm: str
    rss: int  # bytes
    cgroup: str  # v2 path ("/system.slice/x.service")
    swap: int = 0  # VmSwap, bytes
    majflt: int = 0  # major faults since start
    started_s: float = 3600.0  # seconds after boot
    uid: int = 0
    cmdline: str = ""
    ppid: int = 1
    state: str = "S"
    utime: int = 1000  # clock ticks


class Host(NamedTuple):
    mem_total: int
    mem_available: int
    swap_total: int
    swap_free: int
    cached: int
    pswpin: int  # pages since boot
    pswpout: int
    pgmajfault: int
    psi: dict[str, tuple[float, float, float, float]] | None  # res: some10, some60, full10, full60
    procs: tuple[Proc, ...]
    load: tuple[float, float, float] = (0.5, 0.6, 0.7)
    self_cgroup: str = "0::/system.slice/argus.service\n"
    swappiness: int = 60


def _w(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def write_proc(root: Path, host: Host, sample: int = 1) -> None:
    uptime = UPTIME0 + (sample - 1) * SAMPLE_S
    if root.exists():
        shutil.rmtree(root)
    free = max(0, host.mem_available - host.cached)
    _w(root / "meminfo",
       f"MemTotal:       {host.mem_total // KiB} kB\nMemFree:        {free // KiB} kB\n"
       f"MemAvailable:   {host.mem_available // KiB} kB\nBuffers:        0 kB\n"
       f"Cached:         {host.cached // KiB} kB\nSwapCached:     0 kB\n"
       f"SwapTotal:      {host.swap_total // KiB} kB\nSwapFree:       {host.swap_free // KiB} kB\n")
    _w(root / "stat", "cpu  1000 0 500 90000 200 0 10 0 0 0\ncpu0 500 0 250 45000 100 0 5 0 0 0\n"
       "cpu1 500 0 250 45000 100 0 5 0 0 0\nintr 1\nctxt 1\n"
       f"btime {BTIME}\nprocesses 5000\nprocs_running 1\nprocs_blocked 0\n")
    _w(root / "uptime", f"{uptime:.2f} {uptime * 1.5:.2f}\n")
    _w(root / "loadavg", "{:.2f} {:.2f} {:.2f} 1/{} 4999\n".format(*host.load, len(host.procs)))
    # proc(5) /proc/vmstat holds ~170 counters; a few neighbours keep the parser honest.
    _w(root / "vmstat", f"nr_free_pages 12345\npgpgin 777\npgpgout 888\n"
       f"pswpin {host.pswpin}\npswpout {host.pswpout}\npgfault 99999999\n"
       f"pgmajfault {host.pgmajfault}\npgsteal_kswapd 5\n")
    _w(root / "sys/vm/swappiness", f"{host.swappiness}\n")
    _w(root / "sys/kernel/random/boot_id", BOOT_ID + "\n")
    _w(root / "self/mountinfo", "")  # no filesystems: the disk collector has nothing to do
    _w(root / "self/cgroup", host.self_cgroup)
    if host.psi is not None:
        for res, (s10, s60, f10, f60) in host.psi.items():
            _w(root / "pressure" / res,
               f"some avg10={s10:.2f} avg60={s60:.2f} avg300={s60 / 2:.2f} total=123456789\n"
               f"full avg10={f10:.2f} avg60={f60:.2f} avg300={f60 / 2:.2f} total=23456789\n")
    for p in host.procs:
        write_pid(root, p)


def write_pid(root: Path, p: Proc) -> None:
    d = root / str(p.pid)
    start_ticks = int(p.started_s * CLK)
    _w(d / "stat",
       f"{p.pid} ({p.comm}) {p.state} {p.ppid} {p.pid} {p.pid} 0 -1 4194560 5000 0 {p.majflt} 0 "
       f"{p.utime} {p.utime // 2} 0 0 20 0 1 0 {start_ticks} {p.rss * 2} {p.rss // PAGE} "
       "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
    _w(d / "status",
       f"Name:\t{p.comm}\nUmask:\t0022\nState:\t{p.state} (sleeping)\nTgid:\t{p.pid}\n"
       f"Pid:\t{p.pid}\nPPid:\t{p.ppid}\nUid:\t{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}\n"
       f"Gid:\t{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}\nVmPeak:\t{p.rss * 2 // KiB} kB\n"
       f"VmSize:\t{p.rss * 2 // KiB} kB\nVmRSS:\t{p.rss // KiB} kB\n"
       f"RssAnon:\t{p.rss * 9 // 10 // KiB} kB\nVmSwap:\t{p.swap // KiB} kB\nThreads:\t1\n")
    _w(d / "smaps_rollup",
       f"00400000-7ffd0000 ---p 00000000 00:00 0                          [rollup]\n"
       f"Rss:            {p.rss // KiB} kB\nPss:            {p.rss * 9 // 10 // KiB} kB\n"
       f"Pss_Anon:       {p.rss * 8 // 10 // KiB} kB\nSwap:           {p.swap // KiB} kB\n"
       f"SwapPss:        {p.swap // KiB} kB\nLocked:                0 kB\n")
    _w(d / "cgroup", f"0::{p.cgroup}\n")
    _w(d / "cmdline", (p.cmdline or p.comm).replace(" ", "\0").encode() + b"\0")


def write_cgroup(root: Path, rel: str, files: dict[str, str | int]) -> None:
    for name, value in files.items():
        _w(root / rel.strip("/") / name, f"{value}\n")


# --- swap and PSI scenarios: two (or three) samples of one host ---------------------

BASE_PROCS = (
    Proc(1, "systemd", 12 * MiB, "/init.scope", cmdline="/sbin/init"),
    Proc(412, "bash", 5 * MiB, "/user.slice/user-0.slice/session-1.scope", started_s=7200),
)


def thrashing(sample: int) -> Host:
    """A 4 GB host whose Java heap outgrew RAM: swap I/O 25 MB/s and PSI full ~20%."""
    n = sample - 1
    java = Proc(2301, "java", int(2.6 * GiB), "/system.slice/tomcat.service",
                swap=int(1.7 * GiB) + n * 40 * MiB, majflt=2_000_000 + n * 300_000,
                uid=65534, cmdline="java -Xmx6g -jar /srv/tomcat/app.jar")
    postgres = Proc(1822, "postgres", int(0.6 * GiB), "/system.slice/postgresql.service",
                    swap=180 * MiB, majflt=40_000 + n * 1_500,
                    cmdline="/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql")
    nginx = Proc(990, "nginx", 40 * MiB, "/system.slice/nginx.service", swap=3 * MiB,
                 majflt=900 + n * 20, cmdline="nginx: master process /usr/sbin/nginx")
    return Host(
        mem_total=4 * GiB, mem_available=120 * MiB, swap_total=4 * GiB,
        swap_free=int(2.1 * GiB) - n * 40 * MiB, cached=150 * MiB,
        # 15 MiB/s in + 10 MiB/s out over 300 s: 1,152,000 and 768,000 pages.
        pswpin=5_000_000 + n * 1_152_000, pswpout=7_000_000 + n * 768_000,
        pgmajfault=9_000_000 + n * 310_000,
        psi={"cpu": (30.0, 28.0, 0.0, 0.0), "memory": (48.0, 21.0 - n, 25.0, 19.5 - n),
             "io": (22.0, 20.0, 12.0, 11.0)},
        procs=(*BASE_PROCS, java, postgres, nginx), load=(6.5, 6.1, 5.0))


def quiet(sample: int) -> Host:
    n = sample - 1
    app = Proc(733, "node", 300 * MiB, "/system.slice/gateway.service", majflt=120 + n,
               cmdline="node /srv/gateway/server.js")
    return Host(
        mem_total=8 * GiB, mem_available=5 * GiB, swap_total=2 * GiB, swap_free=2 * GiB - 8 * MiB,
        cached=3 * GiB, pswpin=1_000 + n * 3, pswpout=2_000 + n * 2, pgmajfault=50_000 + n * 40,
        psi={"cpu": (2.0, 1.5, 0.0, 0.0), "memory": (0.0, 0.1, 0.0, 0.0),
             "io": (0.5, 0.4, 0.2, 0.1)},
        procs=(*BASE_PROCS, app))


def swap_full_idle(sample: int) -> Host:
    """80% of swap in use, parked long ago: no swap traffic, no stalls. Not thrashing."""
    n = sample - 1
    idle = Proc(1501, "slack-bot", 200 * MiB, "/system.slice/bot.service",
                swap=int(2.9 * GiB), majflt=800_000, cmdline="slack-bot --serve")
    return Host(
        mem_total=8 * GiB, mem_available=int(3.5 * GiB), swap_total=4 * GiB,
        swap_free=int(0.8 * GiB), cached=2 * GiB, pswpin=3_000_000, pswpout=4_000_000,
        pgmajfault=6_000_000 + n * 5,
        psi={"cpu": (1.0, 1.0, 0.0, 0.0), "memory": (0.0, 0.0, 0.0, 0.0),
             "io": (0.1, 0.1, 0.0, 0.0)},
        procs=(*BASE_PROCS, idle))


def no_psi(sample: int) -> Host:
    """A kernel without PSI (CONFIG_PSI off): thrashing is judged by swap I/O alone.

    Three samples: the first gives no rate, the second one busy rate (not yet
    sustained), the third a second busy rate.
    """
    n = sample - 1
    worker = Proc(4100, "celery", int(1.8 * GiB), "/system.slice/celery.service",
                  swap=int(1.1 * GiB) + n * 30 * MiB, majflt=500_000 + n * 90_000,
                  uid=65534, cmdline="celery -A tasks worker")
    return Host(
        mem_total=2 * GiB, mem_available=200 * MiB, swap_total=2 * GiB,
        swap_free=int(0.7 * GiB) - n * 30 * MiB, cached=100 * MiB,
        # 8 + 6 MiB/s over 300 s: 614,400 and 460,800 pages.
        pswpin=2_000_000 + n * 614_400, pswpout=2_500_000 + n * 460_800,
        pgmajfault=3_000_000 + n * 95_000, psi=None,
        procs=(*BASE_PROCS, worker), load=(3.0, 2.8, 2.5))


def psi_busy(sample: int) -> Host:
    """CPU and I/O pressure: quiet at sample 1, busy at 2 (a spike) and 3 (sustained)."""
    n = sample - 1
    busy = sample >= 2
    burner = Proc(5150, "ffmpeg", 400 * MiB, "/system.slice/transcode.service",
                  utime=100_000 + n * 55_000, cmdline="ffmpeg -i in.mkv out.mp4")
    cpu = (80.0, 72.0 - n, 0.0, 0.0) if busy else (3.0, 2.0, 0.0, 0.0)
    io = (45.0, 41.0 - n, 25.0, 22.0) if busy else (1.0, 0.5, 0.0, 0.0)
    return Host(
        mem_total=8 * GiB, mem_available=5 * GiB, swap_total=0, swap_free=0, cached=3 * GiB,
        pswpin=0, pswpout=0, pgmajfault=10_000 + n * 10,
        psi={"cpu": cpu, "memory": (0.0, 0.0, 0.0, 0.0), "io": io},
        procs=(*BASE_PROCS, burner), load=(2.1, 1.9, 1.2))


# --- memory hog scenarios: one sample, a cgroup tree beside it ----------------------


def nginx_unit() -> Host:
    """24 nginx workers of ~260 MB: no single process stands out, the unit does."""
    workers = tuple(Proc(3000 + i, "nginx", 260 * MiB + i * MiB, "/system.slice/nginx.service",
                         ppid=2999, uid=33 if i else 0,
                         cmdline="nginx: worker process") for i in range(24))
    other = Proc(810, "redis-server", 450 * MiB, "/system.slice/redis.service",
                 cmdline="/usr/bin/redis-server 127.0.0.1:6379")
    return Host(mem_total=8 * GiB, mem_available=int(0.6 * GiB), swap_total=0, swap_free=0,
                cached=int(0.3 * GiB), pswpin=0, pswpout=0, pgmajfault=1000, psi=None,
                procs=(*BASE_PROCS, other, *workers))


def limited(version: int) -> Host:
    """Argus inside app.service, limited to 2 GB: the hogs are ranked within it."""
    inside = (Proc(501, "worker", int(1.2 * GiB), "/system.slice/app.service",
                   cmdline="worker --queue default"),
              Proc(502, "worker", int(0.5 * GiB), "/system.slice/app.service",
                   cmdline="worker --queue slow"),
              Proc(503, "argus", 40 * MiB, "/system.slice/app.service",
                   cmdline="argus run"))
    outside = Proc(900, "bigdb", 3 * GiB, "/system.slice/db.service", cmdline="bigdb --serve")
    self_cgroup = ("0::/system.slice/app.service\n" if version == 2 else
                   "4:memory:/system.slice/app.service\n0::/system.slice/app.service\n")
    return Host(mem_total=16 * GiB, mem_available=10 * GiB, swap_total=0, swap_free=0,
                cached=4 * GiB, pswpin=0, pswpout=0, pgmajfault=1000, psi=None,
                procs=(*BASE_PROCS, *inside, outside), self_cgroup=self_cgroup)


def build() -> None:
    proc, sys_ = FIXTURES / "proc", FIXTURES / "sys"
    for name, make, samples in (("swap-thrashing", thrashing, 2), ("swap-quiet", quiet, 2),
                                ("swap-full-idle", swap_full_idle, 2),
                                ("swap-no-psi", no_psi, 3), ("psi-busy", psi_busy, 3)):
        for s in range(1, samples + 1):
            write_proc(proc / name / f"sample{s}", make(s), s)

    write_proc(proc / "hogs-unit", nginx_unit())
    units = sys_ / "hogs-unit" / "fs" / "cgroup"
    if units.exists():
        shutil.rmtree(units.parent.parent)
    nginx_pids = "\n".join(str(3000 + i) for i in range(24))
    write_cgroup(units, "/system.slice/nginx.service",
                 {"memory.current": int(6.1 * GiB), "cgroup.procs": nginx_pids})
    write_cgroup(units, "/system.slice/redis.service",
                 {"memory.current": 470 * MiB, "cgroup.procs": 810})
    write_cgroup(units, "/system.slice/argus.service",
                 {"memory.current": 30 * MiB, "memory.max": "max", "cgroup.procs": ""})
    write_cgroup(units, "/init.scope", {"memory.current": 20 * MiB, "cgroup.procs": 1})
    write_cgroup(units, "/user.slice/user-0.slice/session-1.scope",
                 {"memory.current": 9 * MiB, "cgroup.procs": 412})
    write_cgroup(units, "/system.slice", {"memory.current": int(6.6 * GiB),
                                          "memory.max": "max"})

    for version in (1, 2):
        name = f"hogs-cgroup-v{version}"
        write_proc(proc / name, limited(version))
        top = sys_ / name
        if top.exists():
            shutil.rmtree(top)
        base = top / "fs" / "cgroup" / ("memory" if version == 1 else "")
        limit_f, usage_f = (("memory.limit_in_bytes", "memory.usage_in_bytes") if version == 1
                            else ("memory.max", "memory.current"))
        write_cgroup(base, "/system.slice/app.service",
                     {limit_f: 2 * GiB, usage_f: int(1.85 * GiB), "cgroup.procs": "501\n502\n503"})
        write_cgroup(base, "/system.slice/db.service",
                     {limit_f: 9223372036854771712 if version == 1 else "max",
                      usage_f: int(3.1 * GiB), "cgroup.procs": 900})


if __name__ == "__main__":
    build()
