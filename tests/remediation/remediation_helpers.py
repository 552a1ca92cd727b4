"""Helpers shared by the remediation tests (imported by name: tests/ is not a package).

Everything here builds what a user would configure and reads what a user would
see: the registry, the Telegram stand-in's messages, a unit's state.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from standins.telegram_server import TelegramServer

from argus.config import Config, build_config
from argus.context import Context, make_context
from argus.record.registry import iter_records

# Thresholds no real figure of this host reaches (100 % is the maximum the config
# takes): these cycles run on the CI machine itself, and the only problems they may
# see are the ones a test makes on purpose.
QUIET_THRESHOLDS = {"memory_warn": 100, "memory_crit": 100, "disk_warn": 100,
                    "disk_crit": 100, "swap_warn": 100, "load_per_core_warn": 10_000.0}

# Variables that would point a subprocess at a real Telegram, LLM, config or state.
_LEAKY_PREFIXES = ("TELEGRAM_", "ARGUS_", "ANTHROPIC_", "XDG_CONFIG_HOME", "XDG_STATE_HOME")


def telegram_env(server: TelegramServer | None) -> dict[str, str]:
    if server is None:
        return {}
    return {"TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_CHAT_ID": server.chat_id,
            "ARGUS_TELEGRAM_API_BASE": server.url}


def host_config(data: dict[str, Any], telegram: TelegramServer | None = None) -> Config:
    """A config for a cycle run in this very process, on this host.

    Orphan rules off, tmux off, thresholds out of reach: whatever the test sets on
    top (services, dry_run, restart delays) is all that can trigger an action.
    """
    base: dict[str, Any] = {"tmux": {"sockets": []}, "processes": {"orphans": []},
                            "thresholds": dict(QUIET_THRESHOLDS)}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    assert base["processes"].get("orphans") == [], "no orphan rules on this host"
    config = build_config(base, "test", telegram_env(telegram))
    return config._replace(telegram=config.telegram._replace(timeout=2.0, retries=0))


def host_context(tmp_path: Path, config: Config, **kw: Any) -> Context:
    return make_context(config, str(tmp_path / "state"), env={}, host="web-1", **kw)


def records(path: str | Path) -> list[dict[str, Any]]:
    return list(iter_records(str(path)))


def about(rows: list[dict[str, Any]], subject: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["subject"] == subject]


def story(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(action_taken, action_result) of each record, in registry order."""
    return [(r["action_taken"], r["action_result"]) for r in rows]


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without anything that would steer argus to a real service or file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
    env.update(extra)
    return env


def toml(data: dict[str, Any]) -> str:
    """A tiny TOML writer for the configs these tests need (tables of scalars/lists)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return "[" + ", ".join(value(x) for x in v) + "]"

    top = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{kk} = {value(vv)}" for kk, vv in v.items())
              for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


def argus_argv(config: str, state_dir: str, *args: str) -> list[str]:
    """``argus --config C --state-dir S ARGS`` with this interpreter (python -m argus)."""
    return [sys.executable, "-m", "argus", "--config", config, "--state-dir", state_dir, *args]


def pid_namespace_reason() -> str | None:
    """Why a private PID namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root for a private PID namespace"
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    return None


def run_in_pid_namespace(script: Path, work: Path, env: dict[str, str],
                         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``unshare --pid --fork --mount-proc python SCRIPT``: the script is PID 1 there.

    Everything left in the namespace is SIGKILLed by the kernel when the script exits.
    """
    return subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(script)],
        env=clean_env(ARGUS_NS_WORK=str(work), **env),
        capture_output=True, text=True, timeout=timeout, check=False)


ORPHAN_DRIVER = Path(__file__).with_name("ns_orphan_driver.py")
ORPHAN_PATTERN = "node.*--test"


def run_orphan_driver(work: Path, *, after: int, runs: int, run_args: tuple[str, ...] = (),
                      dry_run: bool = False) -> dict[str, Any]:
    """Write the config, run ns_orphan_driver.py as PID 1 of a new PID namespace, and
    return what it printed (see there). The registry is ``work/state/problems.jsonl``."""
    import json

    (work / "argus.toml").write_text(toml({
        "dry_run": dry_run,
        "thresholds": dict(QUIET_THRESHOLDS),
        "processes": {"orphans": [{"pattern": ORPHAN_PATTERN, "after": after}]},
        "tmux": {"sockets": []},
    }))
    proc = run_in_pid_namespace(ORPHAN_DRIVER, work, {
        "ARGUS_NS_RUNS": str(runs), "ARGUS_NS_RUN_ARGS": json.dumps(list(run_args))})
    assert proc.returncode == 0, f"driver failed ({proc.returncode}):\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["pid"] == 1  # the driver really ran as the namespace's PID 1
    return result
