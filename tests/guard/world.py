"""A small real world for the guard tests, and the nets that keep this host safe.

``World`` holds things this test process started and nothing else:

- children: copies of /bin/sleep named ``node``, ``claude``, ``other``, ``sshd``...
  (the kernel's comm is the basename of the executable), each a direct child;
- a tmux server on a private socket (``tmux -L argus-guard-<random>``) with a few
  sessions, some of them with hostile names;
- when it can run here (root, systemd installed), a real ``systemd --user`` in a
  private mount namespace (tests/systemd_env.py) with four units.

Snapshots come from the real collectors (``argus.collect.collect_snapshot``) with a
runner that sends ``systemctl`` into the namespace and runs tmux on the host. One
thing is taken out of every snapshot: processes that match ``kill_allowed`` but
are not ours. The CI host might run a real ``node`` or ``claude``; no test here may
ever be one correct guard decision away from signalling it.

Two nets catch a guard bug before it reaches the host: ``Spy`` (the Context's
runner) runs only read-only commands (``systemctl show``, ``tmux list-sessions``)
when asked to block, and ``only_our_children`` (an autouse fixture in conftest.py)
makes every signal to a process that is not a child this test spawned raise.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from proc_helpers import alive, comm, wait_for

from argus.act.processes import name_allowed
from argus.collect import collect_snapshot
from argus.collect.tmux import collect_tmux, socket_path, tmux_argv
from argus.config import Config, build_config
from argus.context import Context, make_context
from argus.model import ProcessInfo, Snapshot, TmuxSession
from argus.runner import CommandResult, Runner, run_command
from argus.timefmt import iso

# The units of the world's user manager.
RUNNING = "argus-g-running.service"  # watched, in restart_allowed, active
WATCHED = "argus-g-watched.service"  # watched, not in restart_allowed, active
UNWATCHED = "argus-g-unwatched.service"  # in restart_allowed, not watched, failed
FIXME = "argus-g-fixme.service"  # watched, in restart_allowed, failed (a real remedy)
UNITS = (RUNNING, WATCHED, UNWATCHED, FIXME)
SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"

DEFAULT_KILL_ALLOWED = ("node", "claude", "codex")
TMUX_KILL_ALLOWED = ("^victim$", "^a$", "^doomed-")


# --- signals: only to our own children ----------------------------------------------


def ppid_of(pid: int) -> int | None:
    """The parent of ``pid`` (proc(5) stat field 4); None when it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2:].split()[1])


def pidfd_pid(fd: int) -> int | None:
    """The pid a pidfd refers to, from /proc/self/fdinfo (Linux >= 5.10: ``Pid:``)."""
    try:
        text = Path(f"/proc/self/fdinfo/{fd}").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Pid:"):
            return int(line.split()[1])
    return None


# Every pid Children.spawn started: the only processes the guard may ever signal.
SPAWNED: set[int] = set()


def check_signal_target(pid: int | None, sig: int, allowed: set[int] | None) -> None:
    """Raise unless ``pid`` is a live direct child of this process, and one of
    ``allowed`` when given. Signal 0 only probes, it is let through."""
    if sig == 0:
        return
    if pid is None or pid <= 0 or ppid_of(pid) != os.getpid():
        raise AssertionError(f"signal {sig} to pid {pid} blocked: not a child of this test")
    if allowed is not None and pid not in allowed:
        raise AssertionError(f"signal {sig} to pid {pid} blocked: not a process the guard "
                             "tests spawned as a target")


def install_signal_net(monkeypatch: pytest.MonkeyPatch) -> None:
    """pidfd_send_signal (the guard's way) only to SPAWNED children; os.kill (what
    Popen.kill uses, e.g. on a subprocess timeout) only to direct children;
    killpg never."""
    real_send = signal.pidfd_send_signal
    real_kill = os.kill

    def send(fd: int, sig: int, siginfo: Any = None, flags: int = 0) -> None:
        check_signal_target(pidfd_pid(fd), sig, SPAWNED)
        real_send(fd, sig, siginfo, flags)

    def kill(pid: int, sig: int) -> None:
        check_signal_target(pid, sig, None)
        real_kill(pid, sig)

    def killpg(pgid: int, sig: int) -> None:
        raise AssertionError(f"killpg({pgid}, {sig}) blocked in the guard tests")

    monkeypatch.setattr(signal, "pidfd_send_signal", send)
    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr(os, "killpg", killpg)


# --- children -------------------------------------------------------------------------





class Children:
    """Copies of /bin/sleep under chosen names, each a direct child of this process."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.procs: list[subprocess.Popen[bytes]] = []

    def binary(self, name: str) -> str:
        path = self.bindir / name
        if not path.exists():
            shutil.copy2("/bin/sleep", path)
        return str(path)

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        """Start ``name`` and return once it has exec'd (its comm is ``name``)."""
        proc = subprocess.Popen([self.binary(name), "3600"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        SPAWNED.add(proc.pid)
        wait_for(lambda: comm(proc.pid) == name[:15])
        return proc

    def respawn_on(self, pid: int, name: str, tries: int = 50) -> subprocess.Popen[bytes]:
        """A new ``name`` child on ``pid`` (free again) when the kernel lets us choose.

        As root, writing N-1 to /proc/sys/kernel/ns_last_pid makes the next fork get
        N, unless another process on the host forks first (then try again). Without
        the privilege, a child on another pid is returned.
        """
        proc = self.spawn(name)
        for _ in range(tries):
            if proc.pid == pid:
                break
            self.stop(proc)
            try:
                Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
            except OSError:
                return self.spawn(name)
            proc = self.spawn(name)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        SPAWNED.discard(proc.pid)  # reaped: the pid may go to anyone now

    def pids(self) -> set[int]:
        return {p.pid for p in self.procs if p.poll() is None}

    def stop_all(self) -> None:
        for proc in self.procs:
            self.stop(proc)


# --- tmux ---------------------------------------------------------------------------


class TmuxServer:
    """A tmux server of our own on ``-L argus-guard-<random>``."""

    def __init__(self) -> None:
        self.sock = f"argus-guard-{secrets.token_hex(4)}"
        self.env = {k: v for k, v in os.environ.items() if k != "TMUX"}

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(tmux_argv(self.sock, *args), capture_output=True, text=True,
                              timeout=10, check=False, env=self.env)

    def new(self, name: str) -> None:
        res = self.tmux("new-session", "-d", "-s", name, "sleep", "3600")
        assert res.returncode == 0, res.stderr

    def sessions(self) -> dict[str, TmuxSession]:
        return {s.name: s for s in collect_tmux((self.sock,), run_command, 5)}

    def kill_server(self) -> None:
        self.tmux("kill-server")
        # tmux does not always unlink its socket when the server exits.
        Path(socket_path(self.sock)).unlink(missing_ok=True)


# --- runners ------------------------------------------------------------------------


def read_only(argv: Sequence[str]) -> bool:
    """``systemctl [--user] show ...`` and ``tmux -L/-S SOCK list-sessions ...``."""
    if not argv:
        return False
    if argv[0] == "systemctl":
        verbs = [a for a in argv[1:] if a != "--user"]
        return bool(verbs) and verbs[0] == "show"
    if argv[0] == "tmux":
        return len(argv) > 3 and argv[1] in ("-L", "-S") and argv[3] == "list-sessions"
    return False


class Spy:
    """The Context's runner: records every argv; with ``block``, runs only read-only ones."""

    def __init__(self, run: Runner, block: bool) -> None:
        self.run = run
        self.block = block
        self.calls: list[tuple[str, ...]] = []
        self.blocked: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        args = tuple(argv)
        self.calls.append(args)
        if self.block and not read_only(args):
            self.blocked.append(args)
            return CommandResult(args, 1, "", "blocked by the guard tests")
        result: CommandResult = self.run(args, timeout, **kw)
        return result


def dispatch(manager_run: Runner | None) -> Runner:
    """systemctl/journalctl into the user manager's namespace; the rest on the host."""

    def run(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        if manager_run is not None and argv and argv[0] in ("systemctl", "journalctl"):
            return manager_run(argv, timeout, **kw)
        return run_command(argv, timeout, **kw)

    return run


# --- the world ----------------------------------------------------------------------


class UnitState(NamedTuple):
    active_state: str
    sub_state: str
    main_pid: str
    n_restarts: str


class HostState(NamedTuple):
    """What the guard tests compare before and after each decision."""

    alive: tuple[tuple[int, bool], ...]  # (pid, alive) of every child spawned, in order
    sessions: dict[str, str | None]  # tmux session name -> id
    units: dict[str, UnitState]
    canary: tuple[bytes, int] | None  # content and mtime_ns, None when gone
    pwned: bool  # whether a command injected through a name ran


class World:
    def __init__(self, tmp: Path, manager: Any, skip_reason: str,
                 kill_allowed: tuple[str, ...]) -> None:
        self.tmp = tmp
        self.manager = manager  # a systemd_env.SystemdUserManager, or None
        self.systemd_skip = skip_reason
        self.kill_allowed = kill_allowed
        self.children = Children(tmp)
        self.tmux = TmuxServer()
        self.pwned = tmp / "pwned"
        assert "." not in str(self.pwned) and ":" not in str(self.pwned)  # tmux rewrites those
        old = tmp / "old"
        old.mkdir()
        self.canary = old / "canary.txt"
        self.canary.write_bytes(b"still here\n")
        month_ago = time.time() - 30 * 86400
        os.utime(self.canary, (month_ago, month_ago))
        os.utime(old, (month_ago, month_ago))
        self.named: dict[str, subprocess.Popen[bytes]] = {}
        self._state_dirs = 0
        self.base: Snapshot | None = None

    # setup / teardown

    def start(self) -> World:
        for name in ("node", "claude", "other", "sshd"):
            self.named[name] = self.children.spawn(name)
        for name in ("victim", "a", "keep", f"keep;$(touch {self.pwned})"):
            self.tmux.new(name)
        if self.manager is not None:
            for unit in UNITS:
                self.manager.write_unit(unit, SLEEPER, reload=False)
            self.manager.systemctl("daemon-reload")
            for unit in UNITS:
                self.manager.systemctl("start", unit)
            for unit in (UNWATCHED, FIXME):  # died: SIGKILL leaves it failed (signal)
                self.manager.systemctl("kill", "-s", "KILL", "--", unit)
                self.manager.wait_for(unit, "ActiveState", ["failed"])
        ctx, _ = self.context()
        self.base = self.collect(ctx)
        return self

    def stop(self) -> None:
        self.tmux.kill_server()
        self.children.stop_all()

    # config, contexts, snapshots

    @property
    def watched(self) -> tuple[str, ...]:
        return (RUNNING, WATCHED, FIXME) if self.manager is not None else ()

    def config(self, *, kill_allowed: tuple[str, ...] | None = None,
               tmux_kill_allowed: tuple[str, ...] = TMUX_KILL_ALLOWED) -> Config:
        data: Mapping[str, Any] = {
            "services": {"scope": "user", "systemd": list(self.watched),
                         "restart_allowed": [RUNNING, UNWATCHED, FIXME]},
            # top_n large: every process with memory is in the snapshot (top_rss),
            # so non-allowlisted targets "from the snapshot" exist too.
            "processes": {"kill_allowed": list(kill_allowed or self.kill_allowed),
                          "top_n": 1000},
            "tmux": {"sockets": [self.tmux.sock], "kill_allowed": list(tmux_kill_allowed)},
        }
        return build_config(data, "guard tests", {})

    def context(self, config: Config | None = None, *, dry_run: bool = False,
                block: bool = True) -> tuple[Context, Spy]:
        self._state_dirs += 1
        manager_run = self.manager.runner() if self.manager is not None else None
        spy = Spy(dispatch(manager_run), block=block)
        ctx = make_context(config or self.config(), str(self.tmp / f"state-{self._state_dirs}"),
                           env={}, dry_run=dry_run, runner=spy, host="guard-test")
        return ctx, spy

    def collect(self, ctx: Context) -> Snapshot:
        """A snapshot from the real collectors, minus allowlisted processes not ours."""
        snap = collect_snapshot(ctx, iso(time.time()))
        bad = [e for e in snap.errors if e.collector in ("processes", "services", "tmux")]
        assert not bad, bad
        return self.ours_only(snap, ctx.config.processes.kill_allowed)

    def ours_only(self, snap: Snapshot, kill_allowed: tuple[str, ...]) -> Snapshot:
        procs = snap.processes
        assert procs is not None
        ours = self.children.pids()

        def keep(items: tuple[ProcessInfo, ...]) -> tuple[ProcessInfo, ...]:
            return tuple(p for p in items
                         if p.pid in ours or not name_allowed(p.name, kill_allowed))

        return snap._replace(processes=procs._replace(
            killable=keep(procs.killable), orphans=keep(procs.orphans),
            top_rss=keep(procs.top_rss), top_cpu=keep(procs.top_cpu)))

    def snapshot(self) -> Snapshot:
        assert self.base is not None
        return self.base

    # what the tests compare

    def unit_state(self, unit: str) -> UnitState:
        assert self.manager is not None
        out = self.manager.systemctl(
            "show", "-p", "ActiveState", "-p", "SubState", "-p", "MainPID",
            "-p", "NRestarts", "--", unit).stdout
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return UnitState(props["ActiveState"], props["SubState"], props["MainPID"],
                         props["NRestarts"])

    def state(self) -> HostState:
        try:
            st = self.canary.stat()
            canary: tuple[bytes, int] | None = (self.canary.read_bytes(), st.st_mtime_ns)
        except FileNotFoundError:
            canary = None
        return HostState(
            # A reaped child is dead whatever /proc says: its pid may be reused.
            alive=tuple((p.pid, p.returncode is None and alive(p.pid))
                        for p in self.children.procs),
            sessions={n: s.session_id for n, s in self.tmux.sessions().items()},
            units={u: self.unit_state(u) for u in UNITS} if self.manager is not None else {},
            canary=canary,
            pwned=self.pwned.exists(),
        )


def kernel_thread_pids() -> list[int]:
    """Kernel threads visible here: kthreadd (2) and its children."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            data = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2:].split()
        if entry.name == "2" or fields[1] == b"2":
            out.append(int(entry.name))
    return sorted(out)


def kernel_thread_info(pid: int) -> ProcessInfo:
    """A snapshot entry for a kernel thread, as if a corrupted snapshot listed one."""
    data = Path(f"/proc/{pid}/stat").read_bytes()
    name = data[data.index(b"(") + 1:data.rindex(b")")].decode()
    fields = data[data.rindex(b")") + 2:].split()
    return ProcessInfo(pid=pid, name=name, cmdline="", user="root", rss_bytes=0, mem_pct=0.0,
                       cpu_pct=0.0, start_time=0.0, age_s=0.0, ppid=int(fields[1]),
                       state=fields[0].decode(), unit=None, start_ticks=int(fields[19]))
