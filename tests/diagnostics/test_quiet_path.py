"""A quiet cycle stays cheap: the diagnostics add no heavy import to it.

A one-shot cycle from a timer pays for every import, every 5 minutes. Its history
row waits in history.pending.jsonl, so it loads no SQLite at all (nor ``struct``);
the thrashing, pressure and hog rules load only when a figure is
over a threshold; nothing of issue 6 imports ``typing`` at run time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CYCLE = r"""
import json, sys
from argus.config import build_config
from argus.context import make_context
from argus.cycle import run_once
quiet = {"memory_warn": 99.9, "memory_crit": 99.9, "disk_warn": 99.9, "disk_crit": 99.9,
         "swap_warn": 100, "load_per_core_warn": 1000, "psi_cpu_warn": 100,
         "psi_io_warn": 100, "psi_memory_full_warn": 100, "swap_io_thrash_mb_s": 1e9}
cfg = build_config({"tmux": {"sockets": []}, "dry_run": True, "processes": {"orphans": []},
                   "thresholds": quiet}, "test", {})
ctx = make_context(cfg, sys.argv[1], env={}, host="h")
run_once(ctx)
report = run_once(ctx)  # the second has a previous sample: rates, "sustained" rules
print(json.dumps({"modules": sorted(sys.modules),
                  "problems": [p.subject for p in report.problems]}))
"""


def test_a_quiet_cycle_imports_nothing_heavy(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", CYCLE, str(tmp_path / "state")],
                         capture_output=True, text=True, check=True, timeout=60)
    seen = json.loads(out.stdout)
    modules = set(seen["modules"])
    assert seen["problems"] == []
    # What the quiet cycle does use: the history's pending rows, the diagnostics.
    assert {"argus.record.history_pending", "argus.collect.memdiag"} <= modules
    for heavy in ("_sqlite3", "sqlite3", "datetime", "struct", "typing",
                  "argus.record.history_read",
                  "argus.detect.swap", "argus.detect.pressure", "argus.detect.hogs",
                  "argus.act.hogs"):
        assert heavy not in modules, f"a quiet cycle imported {heavy}"
    assert not (tmp_path / "state" / "history.sqlite3").exists()
    assert len((tmp_path / "state" / "history.pending.jsonl").read_text().splitlines()) == 2
