"""``argus doctor``: what Argus can use on this host, and what it is missing.

Each check says ok, missing (Argus works without it, with less) or fail (Argus
cannot do its job). Nothing is changed and no message is sent.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import NamedTuple

from argus.context import Context
from argus.errors import ExitStatus


class Check(NamedTuple):
    name: str
    status: str  # ok | missing | fail
    detail: str


def run_checks(ctx: Context) -> list[Check]:
    cfg = ctx.config
    checks = [Check("config", "ok", cfg.source)]
    state_dir = ctx.paths.state_dir
    if os.access(state_dir, os.W_OK):
        st = os.statvfs(state_dir)
        free_mb = st.f_bavail * st.f_frsize // 2**20
        checks.append(Check("state dir", "ok" if free_mb >= 100 else "fail",
                            f"{state_dir} ({free_mb} MB free)"))
    else:
        checks.append(Check("state dir", "fail", f"{state_dir} is not writable"))

    systemctl = shutil.which("systemctl")
    if systemctl is None:
        checks.append(Check("systemctl", "missing", "not installed: units cannot be watched"))
    else:
        scope = ["--user"] if cfg.services.scope == "user" else []
        result = ctx.run(["systemctl", *scope, "is-system-running"], 5)
        state = result.stdout.strip() or result.describe()
        reachable = result.stdout.strip() in ("running", "degraded", "starting",
                                              "initializing", "maintenance", "stopping")
        checks.append(Check(f"systemd ({cfg.services.scope})", "ok" if reachable else "missing",
                            f"{state}; watching {len(cfg.services.systemd)} unit(s)"))
    for tool, why in (("tmux", "tmux sessions"), ("bd", "beads (tickets)"),
                      (cfg.relay.bin, "Relay events")):
        path = shutil.which(tool)
        checks.append(Check(tool, "ok" if path else "missing",
                            path or f"not on PATH: no {why}"))
    tg = cfg.telegram
    if tg.token and tg.chat_id:
        checks.append(Check("telegram", "ok", f"token set, chat {tg.chat_id}, {tg.api_base}"))
    else:
        missing = [n for n, v in (("TELEGRAM_BOT_TOKEN", tg.token),
                                  ("TELEGRAM_CHAT_ID", tg.chat_id)) if not v]
        checks.append(Check("telegram", "missing",
                            f"{', '.join(missing)} unset: alerts go to the log only"))
    llm = cfg.llm
    if llm.provider == "none":
        checks.append(Check("llm", "ok", "provider none: the deterministic policy decides"))
    elif llm.provider == "anthropic" and not llm.api_key:
        checks.append(Check("llm", "missing", "ANTHROPIC_API_KEY unset"))
    else:
        checks.append(Check("llm", "ok", f"{llm.provider} {llm.model}"))
    return checks


def doctor_command(ctx: Context, *, as_json: bool) -> int:
    checks = run_checks(ctx)
    if as_json:
        json.dump([c._asdict() for c in checks], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for c in checks:
            print(f"{c.status:<8} {c.name:<18} {c.detail}")
    return ExitStatus.FAILED if any(c.status == "fail" for c in checks) else ExitStatus.OK
