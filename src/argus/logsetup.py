"""The logging handlers: ``logs/argus.log`` rotated at 10 MB x 3 backups, plus stderr.

Every record passes a filter that masks the configured secrets, so a bot token that
sneaks into an exception message (the Telegram URL contains it) never reaches disk.
This module imports ``logging``; ``argus.logs`` loads it on the first log call.
"""

from __future__ import annotations

import logging
import os
import time

from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 3


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        from argus.redact import redact

        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            # Render the traceback now, redacted, instead of letting the handler
            # format the raw exception text (which may hold a token) later.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.secrets)
            record.exc_info = None
        return True


class _NoTraceback(logging.Formatter):
    """For the terminal: one line per message; the traceback goes to the log file."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


def apply(logs_dir: str | None, *, verbose: bool = False, quiet: bool = False,
          secrets: Iterable[str] = ()) -> None:
    root = logging.getLogger("argus")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s",
                                  "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    redactor = RedactSecrets(secrets)

    stderr = logging.StreamHandler()
    stderr.setLevel(logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING))
    stderr.setFormatter(_NoTraceback("argus: %(levelname)s: %(message)s"))
    stderr.addFilter(redactor)
    root.addHandler(stderr)
    if logs_dir is None:
        return
    handler = _LazyRotatingFile(os.path.join(logs_dir, "argus.log"))
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    handler.setFormatter(formatter)
    handler.addFilter(redactor)
    root.addHandler(handler)


class _LazyRotatingFile(logging.Handler):
    """``RotatingFileHandler`` (10 MB x 3), created on the first record.

    Importing ``logging.handlers`` pulls in socket, pickle and more (about 6 ms of
    CPU here); a quiet one-shot cycle logs nothing to the file and should not pay
    that. A directory that cannot be created falls back to stderr, with one warning.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.target: logging.Handler | None = None
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.target is None:
            if self.failed:
                return
            try:
                from logging.handlers import RotatingFileHandler

                os.makedirs(os.path.dirname(self.path), mode=0o750, exist_ok=True)
                self.target = RotatingFileHandler(self.path, maxBytes=MAX_BYTES,
                                                  backupCount=BACKUPS, encoding="utf-8")
            except OSError as err:
                self.failed = True
                logging.getLogger("argus").warning(
                    "cannot open the log file %s (%s); logging to stderr only",
                    self.path, err.strerror)
                return
            self.target.setFormatter(self.formatter or logging.Formatter())
        self.target.handle(record)

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
        super().close()


def set_stderr_level(level: int) -> None:
    """The daemon logs INFO to stderr (the journal); a one-shot run keeps it quiet."""
    for handler in logging.getLogger("argus").handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(level)
