"""State files: JSON written atomically, read forgivingly.

A state file is written to a temporary file in the same directory, fsynced, then
``os.replace``d over the old one: rename(2) is atomic, so a crash or SIGKILL leaves
either the old or the new file, never a torn one. A file that is unreadable anyway
(garbage, a disk error, a hand edit gone wrong) is reported once and rebuilt from
the default, so the cycle goes on.
"""

from __future__ import annotations

import os

from argus import jsonfast
from argus.logs import get_logger
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

log = get_logger("argus.state")


def write_json(path: str, data: Any, *, durable: bool = True) -> None:
    """Atomically replace ``path`` with ``data`` as JSON."""
    write_text(path, jsonfast.dumps(data, separators=(",", ":")) + "\n",
               durable=durable)


def write_text(path: str, text: str, *, durable: bool = True) -> None:
    """Atomically replace ``path`` with ``text`` (UTF-8); see ``write_bytes``."""
    write_bytes(path, text.encode("utf-8"), durable=durable)


def write_bytes(path: str, data: bytes, *, durable: bool = True, mode: int = 0o600) -> None:
    """Atomically replace ``path`` with ``data``.

    The temporary file sits in the same directory and starts with a dot (so a
    textfile collector's ``*.prom`` glob never picks it up); ``mode`` is its
    permission before the umask. ``durable=False`` skips the fsync, for files
    rewritten every cycle whose loss in a power cut costs nothing (the last
    snapshot): the rename still makes the replacement atomic for every reader.
    """
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str, default: Any) -> tuple[Any, str | None]:
    """Return (data, problem). A missing file is not a problem; garbage is.

    ``default`` must be a fresh object per call: the caller may mutate what it gets.
    On garbage the bad file is kept beside it as ``<name>.corrupt`` for a post-mortem.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return default, None
    except OSError as err:
        return default, f"{os.path.basename(path)}: cannot read ({err.strerror}); rebuilt"
    try:
        data = jsonfast.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    if data is None or type(data) is not type(default):
        try:
            os.replace(path, path + ".corrupt")
        except OSError:
            pass
        return default, f"{os.path.basename(path)}: corrupted (not the JSON Argus wrote); rebuilt"
    return data, None
