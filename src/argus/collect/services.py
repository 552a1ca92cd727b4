"""systemd units: the state of every watched unit from ONE ``systemctl show`` call.

One process for all units, not one per unit: a steady-state daemon cycle has a
budget of 12 ms CPU including children. Measured with systemd 252 (user manager,
20 and 200 runs, children CPU from getrusage): one ``systemctl show`` of one unit
costs 3.5 ms, of five units 5.6 ms (+0.5 ms in Argus); fork+exec alone is 0.8 ms.
A per-unit loop would spend the whole budget on four units. An in-process D-Bus
client (jeepney, 11 property reads per unit) measured 7.9 ms for five units:
pure-Python message parsing costs more than systemctl's C.

So polling with ``systemctl show`` stays the source of truth; the daemon only
skips it when systemd has said nothing about the watched units since the last one
(collect/unit_events.py: the signals systemd sends on its private socket say *when*
to poll, never *what* the state is). A one-shot run polls every time.

``systemctl show`` prints one block of ``KEY=VALUE`` lines per unit, separated
by a blank line, in the order the units were asked for. The order of the lines
inside a block is systemd's (the service-specific properties such as ``MainPID``
come before the generic unit ones), so a block is read as a mapping, never by
position. A unit that does not exist still gets a block, with
``LoadState=not-found``; it is reported as such, with ``active_state`` inactive.
"""

from __future__ import annotations

import time

from argus.errors import CollectError
from argus.model import ServiceInfo
from argus.runner import CommandResult, Runner
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

PROPERTIES = (
    "Id", "LoadState", "ActiveState", "SubState", "Result", "NRestarts",
    "ActiveEnterTimestamp", "InactiveEnterTimestamp", "StateChangeTimestamp",
    "MainPID", "ExecMainStatus",
)


def systemctl_argv(units: Sequence[str], scope: str) -> list[str]:
    """The one ``systemctl show`` command line for ``units`` in ``scope`` (system|user).

    ``--`` ends the options, so a unit name can never be read as one (config
    validation already refuses names starting with ``-``; this is the second check).
    """
    scope_flag = ["--user"] if scope == "user" else []
    return ["systemctl", *scope_flag, "show", "--no-pager", "-p", ",".join(PROPERTIES),
            "--", *units]


def collect_units(units: tuple[str, ...], scope: str, run: Runner,
                  timeout: float) -> tuple[ServiceInfo, ...]:
    """The state of ``units``, in the order given, from one ``systemctl show``.

    ``scope`` is "system" or "user"; ``timeout`` is in seconds for the whole call.
    Raises CollectError with a one-line reason when systemctl is missing, times out,
    fails (e.g. "Failed to connect to bus") or prints something unreadable.
    """
    return read_units(units, scope, run, timeout)[0]


def read_units(units: tuple[str, ...], scope: str, run: Runner,
               timeout: float) -> tuple[tuple[ServiceInfo, ...], tuple[str, ...]]:
    """``collect_units``, plus systemd's ``Id`` of each unit: the name systemd uses
    for it (in its D-Bus object path and signals), which differs from the configured
    one when that is an alias. Same errors as ``collect_units``."""
    if not units:
        return (), ()
    result = run(systemctl_argv(units, scope), timeout)
    if not result.ok:
        raise CollectError(_failure_message(result, scope, timeout))
    blocks = parse_show_output(result.stdout)
    if len(blocks) != len(units):
        raise CollectError(
            f"systemctl show: expected {len(units)} unit blocks, got {len(blocks)}")
    pairs = tuple(zip(units, blocks, strict=True))
    return (tuple(_service_info(unit, scope, props) for unit, props in pairs),
            tuple(props.get("Id") or unit for unit, props in pairs))


def _failure_message(result: CommandResult, scope: str, timeout: float) -> str:
    where = "systemctl --user" if scope == "user" else "systemctl"
    if result.missing:
        return f"{where}: systemctl not found (is systemd installed?)"
    if result.timed_out:
        return f"{where} show: timed out after {timeout:g}s"
    lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
    # systemctl puts the useful line last ("Failed to connect to bus: ...") after
    # context such as "System has not been booted with systemd as init system".
    reason = lines[-1][:200] if lines else "no output"
    return f"{where} show: exit {result.returncode}: {reason}"


def parse_show_output(text: str) -> list[dict[str, str]]:
    """Blocks of ``KEY=VALUE`` lines separated by blank lines -> one dict per block.

    Values keep everything after the first ``=`` (they may contain ``=``).
    """
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if current:
        blocks.append(current)
    return blocks


def _service_info(unit: str, scope: str, props: dict[str, str]) -> ServiceInfo:
    """One block -> ServiceInfo. ``unit`` is the name as configured (what
    ``restart_allowed`` and problem subjects use), even when systemd resolves it to
    another ``Id`` through an alias."""
    load_state = props.get("LoadState", "")
    not_found = load_state == "not-found"
    return ServiceInfo(
        unit=unit,
        scope=scope,
        load_state=load_state,
        active_state=props.get("ActiveState") or "inactive",
        sub_state=props.get("SubState", ""),
        result=props.get("Result", ""),
        n_restarts=_int(props.get("NRestarts")) or 0,
        since=parse_timestamp(props.get("StateChangeTimestamp", "")),
        main_pid=_int(props.get("MainPID")) or 0,
        # A unit that does not exist has never run: its ExecMainStatus=0 is no status.
        exec_status=None if not_found else _int(props.get("ExecMainStatus")),
    )


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


_UTC_ZONES = ("UTC", "GMT", "Z")


def parse_timestamp(text: str) -> str | None:
    """systemd's wall-clock text -> ISO 8601 UTC (``2026-11-30T10:16:09Z``), or None.

    systemctl formats timestamps as ``Mon 2026-11-30 10:16:09 UTC`` in the time
    zone of its own environment, which it inherits from Argus, so a zone other than
    UTC is Argus's local zone: its abbreviation is one of ``time.tzname``, which also
    says whether DST was in effect. Any other zone, an empty value (the unit never
    changed state) or text of another shape gives None rather than a wrong time.
    """
    parts = text.split()
    if len(parts) == 4:  # the weekday is redundant with the date
        parts = parts[1:]
    if len(parts) != 3:
        return None
    date, clock, zone = parts
    try:
        parsed = time.strptime(f"{date} {clock.split('.')[0]}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if zone in _UTC_ZONES:
        import calendar  # lazily: only when a unit has a timestamp

        epoch = calendar.timegm(parsed)
    elif zone in time.tzname:
        isdst = 1 if zone == time.tzname[1] and time.tzname[0] != time.tzname[1] else 0
        try:
            epoch = int(time.mktime((*parsed[:8], isdst)))
        except (OverflowError, ValueError):
            return None
    else:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
