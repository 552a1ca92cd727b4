"""Everything a cycle needs from the outside world, passed in rather than looked up.

Tests build a Context with a fixture /proc root, a fake clock or a stand-in server's
URL; nothing in Argus reads the environment or registers itself at import time.
"""

from __future__ import annotations

import os
import time

from argus.config import Config
from argus.runner import Runner, run_command
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


class Paths(NamedTuple):
    state_dir: str
    problems: str
    dedup: str
    backoff: str
    cycle: str
    outbox: str
    last_snapshot: str
    last_decision: str
    history: str
    patterns: str
    logs_dir: str

    @classmethod
    def under(cls, state_dir: str, problems: str | None = None) -> Paths:
        def p(name: str) -> str:
            return os.path.join(state_dir, name)

        return cls(
            state_dir=state_dir,
            problems=problems or p("problems.jsonl"),
            dedup=p("dedup.json"),
            backoff=p("restart-backoff.json"),
            cycle=p("cycle.json"),
            outbox=p("outbox.jsonl"),
            last_snapshot=p("last_snapshot.json"),
            last_decision=p("last_decision.json"),
            history=p("history.sqlite3"),
            patterns=p("patterns.jsonl"),
            logs_dir=p("logs"),
        )


def resolve_state_dir(explicit: str | None, config: Config, env: Mapping[str, str]) -> str:
    """--state-dir, then $ARGUS_STATE_DIR, then state_dir in the config, then XDG."""
    if explicit:
        return explicit
    if env.get("ARGUS_STATE_DIR"):
        return env["ARGUS_STATE_DIR"]
    if config.state_dir:
        return config.state_dir
    xdg = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", "/root"), ".local", "state")
    return os.path.join(xdg, "argus")


class Context(NamedTuple):
    config: Config
    paths: Paths
    host: str
    dry_run: bool = False
    proc_root: str = "/proc"
    sys_root: str = "/sys"
    run: Runner = run_command
    clock: Callable[[], float] = time.time
    # Cross-cycle, in-process memory of the daemon (previous CPU samples and the
    # like); a one-shot run starts with it empty.
    carry: dict[str, Any] = {}  # noqa: RUF012 - replaced per Context by make_context


def make_context(
    config: Config,
    state_dir: str,
    *,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    proc_root: str = "/proc",
    sys_root: str = "/sys",
    runner: Runner = run_command,
    clock: Callable[[], float] = time.time,
    host: str | None = None,
) -> Context:
    env = os.environ if env is None else env
    os.makedirs(state_dir, mode=0o750, exist_ok=True)
    paths = Paths.under(state_dir, env.get("ARGUS_PROBLEMS_FILE") or None)
    return Context(
        config=config,
        paths=paths,
        host=host or os.uname().nodename,
        dry_run=dry_run or config.dry_run,
        proc_root=proc_root,
        sys_root=sys_root,
        run=runner,
        clock=clock,
        carry={},
    )
