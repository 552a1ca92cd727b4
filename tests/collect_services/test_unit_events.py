"""The daemon's unit watcher (collect/unit_events.py) against a real systemd user manager.

The watcher listens on the manager's private socket, reached from here through the
namespace's root (``/proc/<manager pid>/root/run/user/0/systemd/private``), and
runs ``systemctl show`` (through the namespace's runner, counted by ``Spy``) only
when systemd has signalled something about the watched units.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from systemd_env import RUNTIME_DIR, SystemdUserManager

from argus.collect import unit_events
from argus.collect.unit_events import UnitWatcher, escape_label, object_path
from argus.errors import CollectError
from argus.model import ServiceInfo
from argus.runner import CommandResult, Runner

SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"
RESTARTER = "[Service]\nExecStart=/bin/sleep infinity\nRestart=always\nRestartSec=100ms\n"
A, B, C = "argus-ev-a.service", "argus-ev-b.service", "argus-ev-c.service"
STOPME = "argus-ev-stop.service"
CRASHY = "argus-ev-crashy.service"
OTHER = "argus-ev-other.service"  # never watched, shares no name with a watched unit
SUPER = "x-argus-ev-a.service"  # never watched; A's name is a substring of it
GUARDED = "argus-ev-guarded.service"
ALIAS, REAL = "argus-ev-alias.service", "argus-ev-real.service"
SLOW = "argus-ev-slow.service"
SETTLE_S = 0.3  # for systemd's last signals about a start to be sent (and missed)


class Spy:
    """Wraps a real runner; counts the ``systemctl show`` calls (the command still runs)."""

    def __init__(self, run: Runner) -> None:
        self.run = run
        self.shows = 0

    def __call__(self, argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        if list(argv[:3]) == ["systemctl", "--user", "show"]:
            self.shows += 1
        return self.run(argv, timeout, **kw)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def user_manager() -> Iterator[SystemdUserManager]:
    """One real ``systemd --user`` for this module, with every unit the tests use.

    All unit files are written (one daemon-reload) before any watcher connects: a
    reload is a ``Reloading`` signal, which makes every watcher poll.
    """
    with SystemdUserManager() as mgr:
        for unit in (A, B, C, STOPME, OTHER, SUPER, GUARDED, REAL):
            mgr.write_unit(unit, SLEEPER, reload=False)
        mgr.write_unit(CRASHY, RESTARTER, reload=False)
        mgr.write_unit(SLOW, "[Service]\nType=oneshot\nExecStart=/bin/sleep 30\n",
                       reload=False)
        os.symlink(REAL, f"/proc/{mgr.shell_pid}/root{RUNTIME_DIR}/systemd/user/{ALIAS}")
        mgr.systemctl("daemon-reload")
        mgr.systemctl("start", A, B, C, STOPME, CRASHY, GUARDED, REAL)
        yield mgr


def private_socket(mgr: SystemdUserManager) -> str:
    return f"/proc/{mgr.manager_pid}/root{RUNTIME_DIR}/systemd/private"


@pytest.fixture
def make_watcher(user_manager: SystemdUserManager) -> Iterator[Callable[..., UnitWatcher]]:
    """Factory: a UnitWatcher on the manager's private socket (closed at teardown)."""
    made: list[UnitWatcher] = []

    def make(path: str | None = None, clock: Callable[[], float] = time.monotonic
             ) -> UnitWatcher:
        w = UnitWatcher("user", path or private_socket(user_manager), clock=clock)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def states(infos: Sequence[ServiceInfo]) -> list[tuple[str, str, str]]:
    return [(i.unit, i.active_state, i.sub_state) for i in infos]


def settle(w: UnitWatcher, units: tuple[str, ...], run: Runner, tries: int = 10) -> None:
    """Call until a call is answered from the cache (the manager has gone quiet)."""
    for _ in range(tries):
        w.units(units, run, 10)
        if w.last_source == "cached":
            return
        time.sleep(0.1)
    raise AssertionError(f"never cached after {tries} calls (dirty={w.dirty})")


# --- 1. steady state -----------------------------------------------------------------

@pytest.mark.root
def test_steady_state_runs_systemctl_once(user_manager: SystemdUserManager,
                                          make_watcher: Callable[..., UnitWatcher]) -> None:
    time.sleep(SETTLE_S)
    w, spy = make_watcher(), Spy(user_manager.runner())
    units = (A, B, C)
    first = w.units(units, spy, 10)
    assert spy.shows == 1 and w.last_source == "systemctl" and w.connected
    assert states(first) == [(u, "active", "running") for u in units]
    for _ in range(3):
        time.sleep(0.05)
        again = w.units(units, spy, 10)
        assert w.last_source == "cached"
        assert again == first
    assert spy.shows == 1


# --- 2. a change is seen ----------------------------------------------------------------

@pytest.mark.root
def test_a_stop_makes_the_next_call_poll(user_manager: SystemdUserManager,
                                         make_watcher: Callable[..., UnitWatcher]) -> None:
    m = user_manager
    w, spy = make_watcher(), Spy(m.runner())
    units = (A, STOPME)
    settle(w, units, spy)
    before = spy.shows
    m.systemctl("stop", STOPME)
    a, stopped = w.units(units, spy, 10)
    assert spy.shows == before + 1 and w.last_source == "systemctl"
    assert (stopped.active_state, stopped.sub_state) == ("inactive", "dead")
    assert (a.active_state, a.sub_state) == ("active", "running")


@pytest.mark.root
def test_a_crash_restarted_by_systemd_is_seen(user_manager: SystemdUserManager,
                                              make_watcher: Callable[..., UnitWatcher]) -> None:
    w, spy = make_watcher(), Spy(user_manager.runner())
    units = (A, CRASHY)
    settle(w, units, spy)
    _, crashy = w.units(units, spy, 10)
    assert w.last_source == "cached" and crashy.main_pid > 0
    before = spy.shows
    os.kill(crashy.main_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    now = crashy
    while time.monotonic() < deadline:
        _, now = w.units(units, spy, 10)
        if now.main_pid != crashy.main_pid or now.n_restarts != crashy.n_restarts:
            break
        time.sleep(0.05)
    # Seen: the old process is gone from the state (auto-restart, or already running
    # again with another PID and NRestarts one up), from a fresh systemctl show.
    assert now.main_pid != crashy.main_pid
    assert (now.active_state != "active") or (now.n_restarts == crashy.n_restarts + 1)
    assert spy.shows > before and w.last_source == "systemctl"


# --- 3. other units -------------------------------------------------------------------

@pytest.mark.root
def test_changes_to_other_units_do_not_poll(user_manager: SystemdUserManager,
                                            make_watcher: Callable[..., UnitWatcher]) -> None:
    m = user_manager
    w, spy = make_watcher(), Spy(m.runner())
    units = (A, B)
    settle(w, units, spy)
    before = spy.shows
    m.systemctl("start", OTHER)
    m.systemctl("stop", OTHER)
    time.sleep(SETTLE_S)
    assert states(w.units(units, spy, 10)) == [(A, "active", "running"),
                                               (B, "active", "running")]
    assert w.last_source == "cached" and spy.shows == before


@pytest.mark.root
def test_a_unit_whose_name_contains_a_watched_one_costs_a_poll_at_most(
        user_manager: SystemdUserManager, make_watcher: Callable[..., UnitWatcher]) -> None:
    m = user_manager
    w, spy = make_watcher(), Spy(m.runner())
    settle(w, (A,), spy)
    m.systemctl("start", SUPER)
    (a,) = w.units((A,), spy, 10)  # a false positive: A's name is in SUPER's signals
    assert w.last_source == "systemctl"
    assert (a.unit, a.active_state, a.sub_state) == (A, "active", "running")
    m.systemctl("stop", SUPER)


@pytest.mark.root
def test_an_alias_is_watched_under_its_real_name(
        user_manager: SystemdUserManager, make_watcher: Callable[..., UnitWatcher]) -> None:
    m = user_manager
    w, spy = make_watcher(), Spy(m.runner())
    settle(w, (ALIAS,), spy)
    m.systemctl("stop", REAL)  # signals name REAL only, never ALIAS
    (alias,) = w.units((ALIAS,), spy, 10)
    assert w.last_source == "systemctl"
    assert (alias.unit, alias.active_state) == (ALIAS, "inactive")


# --- 4. connection loss -------------------------------------------------------------------

@pytest.mark.root
def test_a_reexec_closes_the_connection_and_the_watcher_reconnects(
        user_manager: SystemdUserManager, make_watcher: Callable[..., UnitWatcher]) -> None:
    m = user_manager
    w, spy = make_watcher(), Spy(m.runner())
    units = (A, B)
    settle(w, units, spy)
    before = spy.shows
    m.systemctl("daemon-reexec")
    m.wait_for(A, "ActiveState", ["active"])
    infos = w.units(units, spy, 10)  # EOF: polls, and is not connected any more
    assert w.last_source == "systemctl" and not w.connected
    assert spy.shows == before + 1
    assert states(infos) == [(A, "active", "running"), (B, "active", "running")]
    w.units(units, spy, 10)  # reconnects: a new connection starts dirty
    assert w.connected and w.last_source == "systemctl"
    settle(w, units, spy)
    assert w.connected


# --- 5. no socket ------------------------------------------------------------------------

@pytest.mark.root
def test_without_a_socket_every_call_polls_quietly(
        user_manager: SystemdUserManager, make_watcher: Callable[..., UnitWatcher],
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(10, logger="argus.collect.unit_events")
    clock = Clock()
    w, spy = make_watcher(str(tmp_path / "no" / "private"), clock), Spy(user_manager.runner())
    for n in range(1, 4):
        assert states(w.units((A,), spy, 10)) == [(A, "active", "running")]
        assert spy.shows == n and not w.connected and w.last_source == "systemctl"
    assert caplog.records and all(r.levelno <= 10 for r in caplog.records)
    attempts = [r for r in caplog.records if "no connection" in r.getMessage()]
    assert len(attempts) == 1  # retried every RETRY_S, not every cycle
    clock.now += unit_events.RETRY_S
    w.units((A,), spy, 10)
    assert len([r for r in caplog.records if "no connection" in r.getMessage()]) == 2


# --- 6. max age, failures, transitional states ------------------------------------------

@pytest.mark.root
def test_a_cached_result_expires_after_max_age(user_manager: SystemdUserManager,
                                               make_watcher: Callable[..., UnitWatcher]) -> None:
    clock = Clock()
    w, spy = make_watcher(clock=clock), Spy(user_manager.runner())
    settle(w, (A,), spy)
    before = spy.shows
    clock.now += unit_events.MAX_AGE_S - 1
    w.units((A,), spy, 10)
    assert w.last_source == "cached" and spy.shows == before
    clock.now += 1
    w.units((A,), spy, 10)
    assert w.last_source == "systemctl" and spy.shows == before + 1
    w.units((A,), spy, 10)
    assert w.last_source == "cached"


@pytest.mark.root
def test_a_failed_systemctl_is_not_cached(user_manager: SystemdUserManager,
                                          make_watcher: Callable[..., UnitWatcher]) -> None:
    real = Spy(user_manager.runner())

    def broken(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        return CommandResult(tuple(argv), 1, "", "Failed to connect to bus: nope")

    w = make_watcher()
    time.sleep(SETTLE_S)
    with pytest.raises(CollectError, match="Failed to connect to bus"):
        w.units((A,), broken, 10)
    assert w.dirty
    w.units((A,), real, 10)
    assert w.last_source == "systemctl" and real.shows == 1


@pytest.mark.root
def test_a_unit_in_transition_is_polled_every_call(
        user_manager: SystemdUserManager, make_watcher: Callable[..., UnitWatcher]) -> None:
    m = user_manager
    m.systemctl("start", "--no-block", SLOW)  # a oneshot: "activating" for 30 s
    m.wait_for(SLOW, "ActiveState", ["activating"])
    w, spy = make_watcher(), Spy(m.runner())
    time.sleep(SETTLE_S)
    for n in range(1, 4):
        (slow,) = w.units((SLOW,), spy, 10)
        assert slow.active_state == "activating"
        assert spy.shows == n and w.last_source == "systemctl"
        time.sleep(0.05)
    m.systemctl("stop", SLOW)


@pytest.mark.root
def test_a_changed_unit_list_polls(user_manager: SystemdUserManager,
                                   make_watcher: Callable[..., UnitWatcher]) -> None:
    w, spy = make_watcher(), Spy(user_manager.runner())
    settle(w, (A, B), spy)
    infos = w.units((A, C), spy, 10)
    assert w.last_source == "systemctl" and [i.unit for i in infos] == [A, C]


# --- 7. escaping --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "label"), [
    ("web.service", "web_2eservice"),
    ("a-b@1.service", "a_2db_401_2eservice"),
    ("1abc.service", "_31abc_2eservice"),  # a leading digit is escaped (checked on systemd 252)
    ("app-a\\x2db.slice", "app_2da_5cx2db_2eslice"),
    ("", "_"),
    ("x_y:z", "x_5fy_3az"),
])
def test_object_path_escaping(name: str, label: str) -> None:
    assert escape_label(name) == label
    assert object_path(name) == f"/org/freedesktop/systemd1/unit/{label}"


def test_patterns_cover_names_paths_and_reloading() -> None:
    pats = unit_events.patterns_for(["web.service", "web.service", "db.service"])
    assert pats == (b"Reloading", b"web.service", b"/org/freedesktop/systemd1/unit/web_2eservice",
                    b"db.service", b"/org/freedesktop/systemd1/unit/db_2eservice")


def test_default_socket_paths() -> None:
    assert unit_events.default_socket_path("system") == "/run/systemd/private"
    assert (unit_events.default_socket_path("user", {"XDG_RUNTIME_DIR": "/run/user/7"})
            == "/run/user/7/systemd/private")
    assert unit_events.default_socket_path("user", {}) is None


# --- the byte stream, against a stand-in manager socket (no root needed) ------------------

class FakeManager:
    """A unix socket that answers the SASL handshake like systemd (or refuses it) and
    then lets the test write raw bytes to the watcher, or close the connection."""

    def __init__(self, path: str, reply: bytes = b"OK 0123456789abcdef\r\n") -> None:
        import queue
        import socket
        import threading

        self.reply = reply
        self.conns: queue.Queue[socket.socket] = queue.Queue()
        self.handshakes: list[bytes] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            got = b""
            while b"\r\n" not in got:
                chunk = conn.recv(256)
                if not chunk:  # the watcher gave up on the handshake
                    break
                got += chunk
            self.handshakes.append(got)
            conn.sendall(self.reply)
            if self.reply.startswith(b"OK "):
                while not got.endswith(b"BEGIN\r\n"):
                    chunk = conn.recv(256)
                    if not chunk:
                        break
                    got += chunk
                self.handshakes[-1] = got
            self.conns.put(conn)

    def conn(self) -> Any:
        return self.conns.get(timeout=5)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); closing alone would leave
        # it waiting on a descriptor number the next socket opened may reuse, where it
        # would steal that socket's connections (another test's HTTP stand-in).
        import socket

        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the stand-in manager's thread did not stop"
        self.listener.close()
        while not self.conns.empty():
            self.conns.get_nowait().close()


def fake_show(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
    """``systemctl show`` of every unit after ``--``: all active."""
    units = list(argv)[list(argv).index("--") + 1:]
    out = "\n".join(f"Id={u}\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                    for u in units)
    return CommandResult(tuple(argv), 0, out, "")


@pytest.fixture
def fake_manager(tmp_path: Path) -> Iterator[tuple[FakeManager, str]]:
    path = str(tmp_path / "private")
    mgr = FakeManager(path)
    yield mgr, path
    mgr.close()


def test_the_handshake_is_auth_external_then_begin(fake_manager: tuple[FakeManager, str]
                                                   ) -> None:
    mgr, path = fake_manager
    w = UnitWatcher("user", path)
    spy = Spy(fake_show)
    w.units(("web.service",), fake_show, 10)
    conn = mgr.conn()
    uid = str(os.getuid()).encode().hex().encode()
    assert mgr.handshakes == [b"\0AUTH EXTERNAL " + uid + b"\r\nBEGIN\r\n"]
    assert w.connected
    w.units(("web.service",), spy, 10)
    assert w.last_source == "cached" and spy.shows == 0
    conn.close()
    w.close()


def test_a_pattern_split_across_two_reads_is_found(fake_manager: tuple[FakeManager, str]
                                                   ) -> None:
    mgr, path = fake_manager
    w = UnitWatcher("user", path)
    w.units(("web.service",), fake_show, 10)
    conn = mgr.conn()
    w.units(("web.service",), fake_show, 10)
    assert w.last_source == "cached"
    signal_bytes = b"l\x04\x01\x01....o\x00/org/freedesktop/systemd1/unit/web_2eservice\x00"
    cut = signal_bytes.index(b"web_2e")
    conn.sendall(b"x" * 5000 + signal_bytes[:cut])
    w.units(("web.service",), fake_show, 10)
    assert w.last_source == "cached"  # half a path is no path
    conn.sendall(signal_bytes[cut:])
    w.units(("web.service",), fake_show, 10)
    assert w.last_source == "systemctl"
    conn.sendall(b"/org/freedesktop/systemd1/unit/db_2eservice Reloadin")  # g comes later
    w.units(("web.service",), fake_show, 10)
    assert w.last_source == "cached"
    conn.sendall(b"g\x00")
    w.units(("web.service",), fake_show, 10)
    assert w.last_source == "systemctl"
    conn.close()
    w.close()


def test_a_large_drain_counts_as_a_change(fake_manager: tuple[FakeManager, str]) -> None:
    mgr, path = fake_manager
    w = UnitWatcher("user", path)
    w.units(("web.service",), fake_show, 10)
    conn = mgr.conn()
    conn.sendall(b"z" * (unit_events.BACKLOG_BYTES - 1))
    w.units(("web.service",), fake_show, 10)
    assert w.last_source == "cached"
    conn.sendall(b"z" * unit_events.BACKLOG_BYTES)
    w.units(("web.service",), fake_show, 10)
    assert w.last_source == "systemctl"
    conn.close()
    w.close()


def test_eof_polls_then_reconnects_on_the_next_call(fake_manager: tuple[FakeManager, str]
                                                    ) -> None:
    mgr, path = fake_manager
    w, spy = UnitWatcher("user", path), Spy(fake_show)
    w.units(("web.service",), spy, 10)
    mgr.conn().close()
    w.units(("web.service",), spy, 10)
    assert (w.last_source, w.connected, spy.shows) == ("systemctl", False, 2)
    w.units(("web.service",), spy, 10)
    second = mgr.conn()
    assert (w.last_source, w.connected, spy.shows) == ("systemctl", True, 3)
    w.units(("web.service",), spy, 10)
    assert (w.last_source, spy.shows) == ("cached", 3)
    second.close()
    w.close()


def test_a_refused_handshake_falls_back_to_polling(tmp_path: Path) -> None:
    path = str(tmp_path / "private")
    mgr = FakeManager(path, reply=b"REJECTED EXTERNAL\r\n")
    w, spy = UnitWatcher("user", path), Spy(fake_show)
    try:
        for n in range(1, 4):
            w.units(("web.service",), spy, 10)
            assert (w.last_source, w.connected, spy.shows) == ("systemctl", False, n)
        assert len(mgr.handshakes) == 1  # no retry before RETRY_S
    finally:
        mgr.close()


# --- wiring: the daemon's collector, the guard's hook, the one-shot path ------------------

def _config(units: Sequence[str], **services: Any) -> Any:
    from argus.config import build_config

    return build_config({"dry_run": False, "tmux": {"sockets": []},
                         "processes": {"orphans": []},
                         "services": {"scope": "user", "systemd": list(units), **services}},
                        "test", {})


@pytest.mark.root
def test_the_daemon_collector_goes_through_the_watcher(
        user_manager: SystemdUserManager, make_watcher: Callable[..., UnitWatcher],
        tmp_path: Path) -> None:
    from argus.act.guard import Guard
    from argus.collect import collect_snapshot
    from argus.context import make_context
    from argus.model import Action

    spy = Spy(user_manager.runner())
    ctx = make_context(_config([A, GUARDED], restart_allowed=[GUARDED]),
                       str(tmp_path / "state"), env={}, runner=spy, host="h")
    ctx.carry["daemon"] = True
    w = ctx.carry[unit_events.CARRY_KEY] = make_watcher()
    time.sleep(SETTLE_S)
    shows = []
    for _ in range(3):
        snap = collect_snapshot(ctx, "2026-01-01T00:00:00Z")
        shows.append(spy.shows)
        assert states(snap.services) == [(A, "active", "running"),
                                         (GUARDED, "active", "running")]
    assert shows == [1, 1, 1] and w.last_source == "cached"
    assert ctx.carry[unit_events.CARRY_KEY] is w

    # Argus restarting a unit marks the watcher dirty before any signal is read.
    outcome = Guard(ctx, snap, time.time()).carry_out(
        Action("restart_service", GUARDED, "test", "rules"))
    assert outcome.result == "success", outcome.detail
    assert w.dirty
    collect_snapshot(ctx, "2026-01-01T00:01:00Z")
    assert w.last_source == "systemctl"


@pytest.mark.root
def test_one_shot_never_imports_the_watcher(user_manager: SystemdUserManager,
                                            tmp_path: Path) -> None:
    # Inside the manager's namespace, where the default socket path exists, with a
    # watched unit: the services collector runs, through systemctl alone.
    config = tmp_path / "argus.toml"
    config.write_text(f'dry_run = true\n[services]\nscope = "user"\nsystemd = ["{A}"]\n'
                      "[tmux]\nsockets = []\n[processes]\norphans = []\n")
    state = tmp_path / "state"
    code = ("import sys, io, json, contextlib\n"
            "from argus.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['--config', {str(config)!r}, '--state-dir', {str(state)!r},"
            " 'run', '--once'])\n"
            "print(json.dumps([m in sys.modules for m in "
            "('argus.collect.services', 'argus.collect.unit_events')]))\n")
    assert os.path.exists(private_socket(user_manager))
    proc = user_manager.exec([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [True, False]
    snapshot = json.loads((state / "last_snapshot.json").read_text())
    assert [(s["unit"], s["active_state"]) for s in snapshot["services"]] == [(A, "active")]


def test_one_shot_path_has_no_watcher_import_without_systemd(tmp_path: Path) -> None:
    """The same check where no manager can run (no root): the collector branch alone."""
    code = ("import sys\n"
            "from argus.config import build_config\n"
            "from argus.context import make_context\n"
            "from argus.collect import collect_snapshot\n"
            "cfg = build_config({'services': {'scope': 'user', 'systemd': ['x.service']},"
            " 'tmux': {'sockets': []}}, 't', {})\n"
            f"ctx = make_context(cfg, {str(tmp_path)!r}, env={{}}, host='h')\n"
            "snap = collect_snapshot(ctx, 'ts')\n"
            "print('argus.collect.services' in sys.modules,"
            " 'argus.collect.unit_events' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["True", "False"]
