"""The converters that read config values: each returns the value or raises
ValueError(why), and config.py turns that into ConfigError(file, key, why)."""

from __future__ import annotations

from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


# --- converters: each returns the value or raises ValueError(why) ---------------


def integer(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an integer, got {show(v)}")
    return v


def nonneg_int(v: Any) -> int:
    n = integer(v)
    if n < 0:
        raise ValueError(f"must not be negative, got {n}")
    return n


def positive_int(v: Any) -> int:
    n = integer(v)
    if n <= 0:
        raise ValueError(f"must be greater than 0, got {n}")
    return n


def number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {show(v)}")
    return float(v)


def positive(v: Any) -> float:
    x = number(v)
    if x <= 0:
        raise ValueError(f"must be greater than 0, got {v}")
    return x


def nonneg(v: Any) -> float:
    x = number(v)
    if x < 0:
        raise ValueError(f"must not be negative, got {v}")
    return x


def percent(v: Any) -> float:
    x = number(v)
    if not 0 <= x <= 100:
        raise ValueError(f"must be a percentage between 0 and 100, got {v}")
    return x


def boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {show(v)}")
    return v


def string(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {show(v)}")
    return v


def string_list(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise ValueError(f"expected a list of strings, got {show(v)}")
    return tuple(v)


def regex_list(v: Any) -> tuple[str, ...]:
    items = string_list(v)
    import re

    for pattern in items:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"invalid regular expression {pattern!r}: {err}") from None
    return items


_UNIT_NAME = r"[A-Za-z0-9:_.@\\-]+\.(service|socket|timer|target|mount|path|scope|slice)"


def unit_name_ok(unit: str) -> bool:
    """Does ``unit`` look like a systemd unit name Argus may pass to systemctl?"""
    import re  # here: re costs ~6 ms to import, and most cycles check no unit name

    return (re.fullmatch(_UNIT_NAME, unit) is not None and not unit.startswith("-")
            and ".." not in unit)


def unit_list(v: Any) -> tuple[str, ...]:
    items = string_list(v)
    for unit in items:
        if not unit_name_ok(unit):
            raise ValueError(f"not a valid systemd unit name: {unit!r} (e.g. nginx.service)")
    return items


def choice(*options: str) -> Callable[[Any], str]:
    def convert(v: Any) -> str:
        s = string(v)
        if s not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {s!r}")
        return s

    return convert


def listen(v: Any) -> str:
    s = string(v)
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {s!r}")
    return s


def show(v: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)
    text = repr(v)
    return f"{kind} ({text[:40]})"
