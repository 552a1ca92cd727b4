"""`argus run --once` on a quiet host loads none of the heavy standard modules.

A systemd timer starts the one-shot cycle every 5 minutes, and it must cost no
more CPU than the bash collectors it replaces (bench/bench_cycle.py). Most of that
budget goes to imports, so this pins the diet down: each module below costs 1-8 ms
of CPU to import, and a quiet cycle needs none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("argparse", "gettext", "locale", "re", "enum", "functools", "collections",
         "contextlib", "typing", "json", "threading", "logging", "subprocess",
         "sqlite3", "_sqlite3", "datetime", "struct", "tomllib", "shutil")

QUIET = """
dry_run = true
[thresholds]
memory_warn = 99.9
memory_crit = 99.9
disk_warn = 99.9
disk_crit = 99.9
swap_warn = 100
load_per_core_warn = 1000
psi_cpu_warn = 100
psi_io_warn = 100
psi_memory_full_warn = 100
[tmux]
sockets = []
"""

PROBE = """
import sys
from argus.cli import main
rc = main()
modules = sorted(sys.modules)  # before json is imported to print them
import json
print(json.dumps({"rc": rc, "modules": modules}), file=sys.stderr)
"""


def one_shot(state: Path, config: Path) -> tuple[int, set[str]]:
    env = dict(os.environ, ARGUS_STATE_DIR=str(state))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "--config", str(config), "run", "--once"],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    return seen["rc"], set(seen["modules"])


def test_a_quiet_one_shot_cycle_imports_nothing_heavy(tmp_path: Path) -> None:
    config = tmp_path / "argus.toml"
    config.write_text(QUIET)
    state = tmp_path / "state"
    rc, first = one_shot(state, config)
    assert rc == 0
    assert "tomllib" in first  # the first run parses the TOML and caches it
    rc, modules = one_shot(state, config)
    assert rc == 0
    assert "argus.cycle" in modules and "argus.record.history_pending" in modules
    loaded = sorted(m for m in HEAVY if m in modules)
    assert loaded == [], f"a quiet one-shot cycle imported {loaded}"
    # The row it would have written to SQLite waits in the pending file.
    assert len((state / "history.pending.jsonl").read_text().splitlines()) == 2
