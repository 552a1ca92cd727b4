"""The daemon loop: a cycle every ``interval`` seconds until SIGTERM or SIGINT.

The first signal lets the running cycle finish (or, between cycles, ends the wait)
and exits cleanly. A second signal abandons the cycle at once: that is safe because
every state file is replaced atomically and every registry line is one write, so
there is nothing half-written to leave behind.

Under systemd (``Type=notify``) the loop reports READY, STATUS and WATCHDOG over
``$NOTIFY_SOCKET``, so a wedged loop is restarted by ``WatchdogSec``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

from argus.context import Context
from argus.cycle import run_cycle
from argus.errors import ExitStatus
from argus.logs import INFO, get_logger, set_stderr_level

log = get_logger("argus.daemon")

# The daily pattern run (analyze/patterns_emit.py) waits this long after the daemon
# starts, so a restart does not run it at once, then follows patterns.jsonl: due when
# the last recorded run is a day old. A failed run is retried an hour later.
PATTERNS_FIRST_DELAY_S = 3600.0
PATTERNS_RETRY_S = 3600.0


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signals = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:
            log.warning("second %s: abandoning the cycle", signal.Signals(signum).name)
            raise SystemExit(ExitStatus.OK)
        log.info("%s received: finishing the current cycle, then stopping",
                 signal.Signals(signum).name)
        self.event.set()


def sd_notify(message: str) -> None:
    """Send one datagram to systemd's notify socket, if there is one (sd_notify(3))."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    import socket

    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as err:
        log.debug("sd_notify failed: %s", err)


def run_daemon(ctx: Context, max_cycles: int = 0) -> int:
    set_stderr_level(INFO)
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop.handle)
    signal.signal(signal.SIGINT, stop.handle)
    # Cross-cycle state stays in memory: what one-shot runs must persist in files
    # each cycle (the vmstat sample, the history connection) is kept here instead.
    ctx.carry["daemon"] = True
    interval = ctx.config.interval
    log.info("argus daemon started: every %ds, state in %s%s", interval, ctx.paths.state_dir,
             " (dry run)" if ctx.dry_run else "")
    sd_notify("READY=1")
    cycles = 0
    next_start = time.monotonic()
    next_patterns = next_start + PATTERNS_FIRST_DELAY_S
    while not stop.event.is_set():
        report = run_cycle(ctx)
        cycles += 1
        if report is not None:
            log.info("cycle %s: %s, %d problems, %d actions, %.0f ms", report.cycle,
                     report.status, len(report.problems), len(report.actions),
                     report.duration_ms)
            sd_notify(f"WATCHDOG=1\nSTATUS=last cycle {report.status}, "
                      f"{len(report.problems)} problems")
        if time.monotonic() >= next_patterns:
            next_patterns = time.monotonic() + _daily_patterns(ctx)
        if max_cycles and cycles >= max_cycles:
            break
        # Fixed-rate schedule: a slow cycle does not push every later one back.
        next_start += interval
        now = time.monotonic()
        if next_start < now:
            next_start = now
        stop.event.wait(next_start - now)
    sd_notify("STOPPING=1")
    log.info("argus daemon stopped after %d cycles", cycles)
    return ExitStatus.OK


def _daily_patterns(ctx: Context) -> float:
    """Run the pattern analysis if a day has passed; seconds until the next check.

    Imported lazily (a daemon pays for it once a day) and never raises: a bug or a
    full disk there must not stop the watchdog's cycles.
    """
    try:
        from argus.analyze.patterns_emit import run_if_due

        return run_if_due(ctx, ctx.clock())
    except Exception:
        log.exception("daily pattern analysis failed; retrying in an hour")
        return PATTERNS_RETRY_S
