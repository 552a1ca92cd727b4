"""Running external programs: argv lists with a timeout, never a shell.

Every program Argus drives (systemctl, tmux, bd, relay, claude) goes through
``run_command``, so the rules live in one place: no shell, a timeout on every call,
output decoded with replacement (hostile bytes never raise), and a missing program
reported as such rather than as an exception.
"""

from __future__ import annotations

from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import TypeAlias



class CommandResult(NamedTuple):
    argv: tuple[str, ...]
    returncode: int  # 127 when the program is missing, -9 after a timeout
    stdout: str
    stderr: str
    timed_out: bool = False
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.missing

    def describe(self) -> str:
        """One line for logs and records: what ran and how it ended."""
        name = self.argv[0] if self.argv else "?"
        if self.missing:
            return f"{name}: not found"
        if self.timed_out:
            return f"{name}: timed out"
        err = (self.stderr.strip() or self.stdout.strip()).splitlines()
        tail = err[-1][:200] if err else ""
        return f"{name}: exit {self.returncode}" + (f": {tail}" if tail else "")


Runner: TypeAlias = "Callable[..., CommandResult]"


def run_command(
    argv: Sequence[str],
    timeout: float,
    *,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> CommandResult:
    """Run ``argv`` (a list, never a shell string) and wait at most ``timeout`` s."""
    import subprocess  # lazily: a quiet cycle with nothing to run does not pay for it

    args = tuple(argv)
    try:
        proc = subprocess.run(
            args,
            input=input_text.encode() if input_text is not None else None,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError:
        return CommandResult(args, 127, "", f"{args[0]}: not found", missing=True)
    except PermissionError as err:
        return CommandResult(args, 126, "", f"{args[0]}: {err.strerror}")
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode("utf-8", "replace") if isinstance(err.stdout, bytes) else ""
        return CommandResult(args, -9, out, f"{args[0]}: timed out after {timeout:g}s",
                             timed_out=True)
    return CommandResult(args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                         proc.stderr.decode("utf-8", "replace"))
