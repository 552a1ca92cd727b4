"""A cycle that does not ask the model pays nothing for it: no SDK, no advisor imported.

Checked in a fresh interpreter (the test process has long imported everything).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from llm_helpers import ANTHROPIC_KEY, MEMORY_WARN, QUIET

HEAVY = ("anthropic", "openai", "pydantic", "httpx", "httpx2", "argus.decide.advisor",
         "argus.decide.prompt", "argus.decide.providers", "argus.decide.schema")

SCRIPT = """
import json, sys
from argus.config import build_config
from argus.context import make_context
from argus.cycle import run_once
thresholds, state, url, key = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
config = build_config({"dry_run": True, "tmux": {"sockets": []}, "processes": {"orphans": []},
                       "thresholds": thresholds,
                       "llm": {"provider": "anthropic", "base_url": url, "timeout": 2}},
                      "test", {"ANTHROPIC_API_KEY": key})
report = run_once(make_context(config, state, env={}, host="web-1"))
print(json.dumps({"mode": report.mode, "llm": report.llm,
                  "loaded": sorted(m for m in sys.modules if m in json.loads(sys.argv[5]))}))
"""


def run_cycle(tmp_path: Path, thresholds: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(thresholds), str(tmp_path / "state"),
         "http://127.0.0.1:9", ANTHROPIC_KEY, json.dumps(HEAVY)],
        capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_a_quiet_cycle_with_an_llm_configured_imports_no_sdk(tmp_path: Path) -> None:
    result = run_cycle(tmp_path, QUIET)
    assert result["mode"] == "rules"
    assert result["loaded"] == []


def test_a_cycle_that_asks_does_import_them(tmp_path: Path) -> None:
    # the control: the same check sees the SDK when a call is made (here it fails: no
    # server on port 9, so the cycle falls back)
    result = run_cycle(tmp_path, MEMORY_WARN)
    assert result["mode"] == "fallback"
    assert {"anthropic", "pydantic", "argus.decide.advisor"} <= set(result["loaded"])
