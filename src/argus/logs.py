"""Logging for Argus modules, without importing ``logging`` until something is logged.

Why: a one-shot cycle started by a timer must cost about as much CPU as the bash
collectors it replaces, and importing ``logging`` (with traceback, tokenize,
threading, string...) costs about 4 ms of that ~30 ms budget, on a quiet cycle that
logs nothing. So every module logs through ``get_logger(name)``, a small stand-in
that imports ``logging`` and applies ``setup_logging``'s settings (the handlers in
``argus.logsetup``) on its first real call. Once ``logging`` is loaded (by Argus or
by anyone else, a test runner included), calls go straight to the stdlib loggers.
"""

from __future__ import annotations

import sys

from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterable
    from typing import Any

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40  # the stdlib's numeric levels

_pending: dict[str, Any] | None = None  # setup_logging's arguments, not yet applied
_verbose = False


def setup_logging(logs_dir: str | None, *, verbose: bool = False, quiet: bool = False,
                  secrets: Iterable[str] = ()) -> None:
    """Log to ``logs_dir/argus.log`` (if given) and stderr, once anything is logged."""
    global _pending, _verbose
    _pending = {"logs_dir": logs_dir, "verbose": verbose, "quiet": quiet,
                "secrets": tuple(secrets)}
    _verbose = verbose
    if "logging" in sys.modules:
        _load()


def _load() -> Any:
    global _pending
    import logging

    if _pending is not None:
        from argus.logsetup import apply

        settings, _pending = _pending, None
        apply(**settings)
    return logging


def set_stderr_level(level: int) -> None:
    """The daemon logs INFO to stderr (the journal); a one-shot run keeps it quiet."""
    _load()
    from argus.logsetup import set_stderr_level as set_level

    set_level(level)


class Logger:
    """The part of ``logging.Logger`` Argus uses, loading logging on first use."""

    __slots__ = ("_real", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._real: logging.Logger | None = None

    def _logger(self) -> logging.Logger:
        if self._real is None or _pending is not None:
            self._real = _load().getLogger(self.name)
        return self._real

    def log(self, level: int, msg: object, *args: object, exc_info: bool = False) -> None:
        if level > DEBUG or _verbose or "logging" in sys.modules:
            # stacklevel: the record names the module that called debug()/info()...
            self._logger().log(level, msg, *args, exc_info=exc_info, stacklevel=3)

    def debug(self, msg: object, *args: object, exc_info: bool = False) -> None:
        self.log(DEBUG, msg, *args, exc_info=exc_info)

    def info(self, msg: object, *args: object, exc_info: bool = False) -> None:
        self.log(INFO, msg, *args, exc_info=exc_info)

    def warning(self, msg: object, *args: object, exc_info: bool = False) -> None:
        self.log(WARNING, msg, *args, exc_info=exc_info)

    def error(self, msg: object, *args: object, exc_info: bool = False) -> None:
        self.log(ERROR, msg, *args, exc_info=exc_info)

    def exception(self, msg: object, *args: object) -> None:
        self.log(ERROR, msg, *args, exc_info=True)


def get_logger(name: str) -> Logger:
    return Logger(name)
