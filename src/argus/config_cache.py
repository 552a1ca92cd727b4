"""A parsed copy of the config file, so a one-shot cycle need not parse TOML again.

Why: Python's ``tomllib`` imports ``typing`` and costs about 13 ms on the reference
machine, close to half the CPU budget of a one-shot cycle started by a timer every
5 minutes, to parse a file that rarely changes. The parsed data is kept as JSON in
the state directory (``config-cache.json``) with the file's identity (path, inode,
size, mtime in ns); any change to the file, or an unreadable cache, means a fresh
parse. Only the raw parsed data is cached: validation runs every time.
"""

from __future__ import annotations

import os

from argus import jsonfast
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

NAME = "config-cache.json"


def _identity(path: str) -> list[Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns]


def load(path: str, cache_dir: str) -> dict[str, Any] | None:
    """The cached parse of ``path``, or None when there is none still valid."""
    identity = _identity(path)
    try:
        with open(os.path.join(cache_dir, NAME), "rb") as fh:
            cached = jsonfast.loads(fh.read())
    except (OSError, ValueError):
        return None
    if (identity is None or not isinstance(cached, dict) or cached.get("file") != identity
            or not isinstance(cached.get("data"), dict)):
        return None
    data: dict[str, Any] = cached["data"]
    return data


def store(path: str, cache_dir: str, data: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written only costs the next run a parse."""
    identity = _identity(path)
    if identity is None:
        return
    from argus.record.state import write_json

    try:
        os.makedirs(cache_dir, mode=0o750, exist_ok=True)
        write_json(os.path.join(cache_dir, NAME), {"file": identity, "data": data},
                   durable=False)
    except (OSError, TypeError, ValueError):
        pass  # TOML dates are not JSON: such a file is simply parsed each time
