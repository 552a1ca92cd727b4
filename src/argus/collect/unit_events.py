"""Has anything about the watched units changed since I last looked? (daemon only)

The one ``systemctl show`` per cycle (collect/services.py) is about 5.5 ms of the
daemon's 12 ms CPU budget, and on a quiet host it reads the same states every time.
systemd tells us when that is no longer so: it sends every signal it emits
(``PropertiesChanged`` on a unit's object path; ``JobNew``, ``JobRemoved``,
``UnitNew``, ``UnitRemoved`` and ``Reloading`` on the manager's) to every *direct*
connection on its private socket, unconditionally, without ``Subscribe()`` or
``Hello`` (systemd src/core/dbus.c, bus_foreach_bus: "Send to all direct buses,
unconditionally"). That socket is ``/run/systemd/private`` for the system manager
(root only) and ``$XDG_RUNTIME_DIR/systemd/private`` for a user manager.

So the daemon keeps one such connection open, authenticated by hand (SASL
``AUTH EXTERNAL <uid>``, then ``BEGIN``), and never sends anything else. Each cycle
it reads whatever bytes are waiting, without blocking, and searches them for each
watched unit's name (``web.service``), its escaped object path
(``/org/freedesktop/systemd1/unit/web_2eservice``) and ``Reloading``. Any hit marks
the units dirty, and the next ``systemctl show`` runs; otherwise the last result is
reused. ``systemctl show`` stays the only source of the states: the signals only
say *when* to poll. Messages are never decoded, which is why there is no D-Bus
library here (jeepney was measured slower than systemctl, collect/services.py):
authenticating and searching bytes needs none. The price of not decoding is a false
positive now and then (a byte pattern inside another unit's message), and a false
positive costs one extra ``systemctl show``, exactly today's cost.

When we cannot know, we poll, as a one-shot run always does:

* the socket is missing or refuses us (no systemd, another user's manager, no
  ``$XDG_RUNTIME_DIR``): ``systemctl show`` every cycle; the connection is retried
  every ``RETRY_S`` seconds;
* the connection breaks (EOF after ``daemon-reexec``, a reset, any error): dirty,
  and a reconnect on the next cycle (signals may have been missed meanwhile, so a
  new connection starts dirty);
* a unit is activating, deactivating or reloading, or ``systemctl show`` failed:
  nothing is cached, the next cycle polls again;
* one drain reads ``BACKLOG_BYTES`` or more: systemd may have queued more for us on
  its side than the socket holds, so something about our units may still be on its
  way: dirty;
* a cached result is never older than ``MAX_AGE_S``: a missed signal (or a property
  that changes without one) cannot hide a state for longer than that;
* Argus restarting a unit itself marks the watcher dirty (``mark_dirty``).

Order matters: the socket is drained *before* ``systemctl show`` runs, so a change
that races the query is either in the query's answer or in the next drain.

A watched unit that systemd may unload (stopped and wanted by nothing, or not
found) is loaded again by every ``systemctl show`` of it, and systemd announces
that with ``UnitNew``/``UnitRemoved``: such a unit keeps the watcher dirty, i.e.
it is polled every cycle, as before. Only the healthy, steady case gets cheaper.
"""

from __future__ import annotations

import _thread
import os
import socket
import time

from argus.collect import services
from argus.logs import get_logger
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from argus.model import ServiceInfo
    from argus.runner import Runner

log = get_logger("argus.collect.unit_events")

CARRY_KEY = "unit_events"  # ctx.carry key of the daemon's UnitWatcher (act/guard.py uses it too)
MAX_AGE_S = 3600.0  # a cached result is never older than this
RETRY_S = 300.0  # seconds between connection attempts once one has failed
AUTH_TIMEOUT_S = 1.0  # connect + SASL handshake
READ_SIZE = 65536
BACKLOG_BYTES = 64 * 1024  # one drain this large: systemd may hold more for us: dirty
MAX_DRAIN_BYTES = 4 * 1024 * 1024  # read no more than this per cycle (then: dirty)
UNIT_PATH_PREFIX = "/org/freedesktop/systemd1/unit/"
MANAGER_PATTERNS = (b"Reloading",)
TRANSITIONAL = frozenset({"activating", "deactivating", "reloading", "refreshing"})
SYSTEM_SOCKET = "/run/systemd/private"


def escape_label(name: str) -> str:
    """systemd's object-path escaping of a unit name (sd_bus_path_encode, bus_label_escape).

    Every byte that is not an ASCII letter or digit, and a digit in first position,
    becomes ``_`` and two lowercase hex digits; the empty name is ``_``.
    """
    if not name:
        return "_"
    out = []
    for i, byte in enumerate(name.encode()):
        char = chr(byte)
        if ("a" <= char <= "z" or "A" <= char <= "Z") or (i > 0 and "0" <= char <= "9"):
            out.append(char)
        else:
            out.append(f"_{byte:02x}")
    return "".join(out)


def object_path(unit: str) -> str:
    """``web.service`` -> ``/org/freedesktop/systemd1/unit/web_2eservice``."""
    return UNIT_PATH_PREFIX + escape_label(unit)


def default_socket_path(scope: str, env: Mapping[str, str] | None = None) -> str | None:
    """The manager's private socket for ``scope``; None when it cannot be known
    (a user scope without ``$XDG_RUNTIME_DIR``, which systemctl --user needs too)."""
    if scope != "user":
        return SYSTEM_SOCKET
    runtime = (os.environ if env is None else env).get("XDG_RUNTIME_DIR")
    return os.path.join(runtime, "systemd", "private") if runtime else None


def patterns_for(names: Iterable[str]) -> tuple[bytes, ...]:
    """What to search the signal bytes for: each unit's name and object path, and
    the manager's ``Reloading``; duplicates dropped, order kept."""
    found: dict[bytes, None] = dict.fromkeys(MANAGER_PATTERNS)
    for name in names:
        found[name.encode()] = None
        found[object_path(name).encode()] = None
    return tuple(found)


class UnitWatcher:
    """The daemon's memory of the last ``systemctl show`` and of systemd's signals since.

    ``scope``: "system" or "user". ``socket_path``: the manager's private socket
    (default: ``default_socket_path(scope)``). ``clock``: monotonic seconds, for the
    max age and the retry delay. Kept in ``ctx.carry[CARRY_KEY]`` across cycles.
    """

    def __init__(self, scope: str, socket_path: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.scope = scope
        self.socket_path = socket_path if socket_path is not None else default_socket_path(scope)
        self.clock = clock
        self.dirty = True
        self.last_source = ""  # "cached" or "systemctl", for tests and the debug log
        self._sock: socket.socket | None = None
        self._next_connect = 0.0  # clock() from which a connection may be attempted
        self._patterns: tuple[bytes, ...] = ()
        self._tail = b""  # the end of the last drain: a pattern may straddle two reads
        self._key: tuple[str, ...] | None = None
        self._result: tuple[ServiceInfo, ...] | None = None
        self._refreshed_at = 0.0
        self._busy = _thread.allocate_lock()  # a timed-out cycle's thread may still run

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def mark_dirty(self) -> None:
        """Something may have changed (Argus acted on a unit): poll on the next call."""
        self.dirty = True

    def units(self, units: tuple[str, ...], run: Runner,
              timeout: float) -> tuple[ServiceInfo, ...]:
        """The state of ``units``, as ``services.collect_units`` gives it: the cached
        one while systemd has signalled nothing about them, else a fresh one.
        Raises what ``collect_units`` raises."""
        if not self._busy.acquire(blocking=False):
            # The previous cycle's call is still stuck (in systemctl): poll without us.
            return services.collect_units(units, self.scope, run, timeout)
        try:
            return self._units(units, run, timeout)
        finally:
            self._busy.release()

    def _units(self, units: tuple[str, ...], run: Runner,
               timeout: float) -> tuple[ServiceInfo, ...]:
        self._poll()  # before systemctl: a change racing the query shows up next time
        if (not self.dirty and self._sock is not None and self._result is not None
                and units == self._key
                and self.clock() - self._refreshed_at < MAX_AGE_S):
            self.last_source = "cached"
            log.debug("units: cached (no change signalled)")
            return self._result
        self.dirty = False  # from here on, any signal or mark_dirty() counts for next time
        self._result, self._key = None, None
        self.last_source = "systemctl"
        try:
            infos, ids = services.read_units(units, self.scope, run, timeout)
        except BaseException:
            self.dirty = True
            raise
        self._refreshed_at = self.clock()
        if any(info.active_state in TRANSITIONAL for info in infos):
            self.dirty = True  # on its way somewhere: look again next cycle
        self._key, self._result = units, infos
        self._patterns = patterns_for((*units, *ids))
        return infos

    # --- the connection ----------------------------------------------------------

    def _poll(self) -> None:
        """Connect when due (at most once a call), then read what systemd sent."""
        if self._sock is None and self.socket_path and self.clock() >= self._next_connect:
            self._connect(self.socket_path)
        if self._sock is not None:
            self._drain(self._sock)

    def _connect(self, path: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(AUTH_TIMEOUT_S)
            sock.connect(path)
            uid = str(os.getuid()).encode().hex()
            sock.sendall(b"\0AUTH EXTERNAL " + uid.encode() + b"\r\n")
            reply = _read_line(sock)
            if not reply.startswith(b"OK "):
                raise ConnectionRefusedError(f"authentication refused: {reply[:80]!r}")
            sock.sendall(b"BEGIN\r\n")
            sock.setblocking(False)
        except OSError as err:
            sock.close()
            self._next_connect = self.clock() + RETRY_S
            log.debug("unit events: no connection to %s (%s); polling systemctl every "
                      "cycle, next attempt in %gs", path, err, RETRY_S)
            return
        log.debug("unit events: connected to %s", path)
        self._sock, self._tail = sock, b""
        self.dirty = True  # whatever happened while we were not listening is unknown

    def _drain(self, sock: socket.socket) -> None:
        """Read every waiting byte; any pattern in them (or too many of them): dirty."""
        total = 0
        while total < MAX_DRAIN_BYTES:
            try:
                data = sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as err:
                self._lost(str(err))
                return
            if not data:
                self._lost("EOF")
                return
            total += len(data)
            if not self.dirty:  # already dirty: no need to look, only to empty the socket
                buf = self._tail + data
                if any(p in buf for p in self._patterns):
                    self.dirty = True
                keep = max((len(p) for p in self._patterns), default=1) - 1
                self._tail = buf[-keep:] if keep > 0 else b""
        if total >= BACKLOG_BYTES:
            self.dirty = True
        if self.dirty:
            self._tail = b""  # this cycle polls: a pattern cut in two is covered by it

    def _lost(self, why: str) -> None:
        log.debug("unit events: connection to %s lost (%s); reconnecting next cycle",
                  self.socket_path, why)
        self.close()
        self.dirty = True
        self._next_connect = 0.0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._tail = b""


def _read_line(sock: socket.socket) -> bytes:
    """One SASL reply line (up to CRLF); the socket has a timeout."""
    buf = b""
    while b"\r\n" not in buf:
        data = sock.recv(512)
        if not data:
            raise ConnectionResetError("closed during authentication")
        buf += data
        if len(buf) > 4096:
            raise ConnectionRefusedError("no end of line in the authentication reply")
    return buf


def watcher_for(carry: dict[str, Any], scope: str) -> UnitWatcher:
    """The daemon's UnitWatcher for ``scope``, kept in ``carry`` (created on first use,
    replaced when the scope changes; a test may put its own there beforehand)."""
    watcher = carry.get(CARRY_KEY)
    if isinstance(watcher, UnitWatcher) and watcher.scope == scope:
        return watcher
    if isinstance(watcher, UnitWatcher):
        watcher.close()
    watcher = carry[CARRY_KEY] = UnitWatcher(scope)
    return watcher
