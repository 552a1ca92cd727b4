"""The exception tree and exit codes: one place turns errors into codes (cli.main)."""

from __future__ import annotations


class ExitStatus:
    """The exit codes (plain ints: importing enum costs ~3 ms a start)."""

    OK = 0
    FAILED = 1  # the cycle or command failed
    USAGE = 2  # usage or config error


class ArgusError(Exception):
    """Base of every error Argus raises on purpose."""


class ConfigError(ArgusError):
    """A config value is wrong: names the file, the key and the reason."""

    def __init__(self, file: str, key: str, why: str) -> None:
        self.file, self.key, self.why = file, key, why
        super().__init__(f"{file}: {key}: {why}")


class UsageError(ArgusError):
    """A command-line argument is wrong (exit 2)."""


class CollectError(ArgusError):
    """A collector could not read its source; recorded in the snapshot, never fatal."""


class ActionError(ArgusError):
    """An action could not be carried out; recorded as a failure."""


class StateError(ArgusError):
    """A state file could not be read or written."""
