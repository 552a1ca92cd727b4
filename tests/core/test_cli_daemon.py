"""The argus command as a user runs it: a real process, its exit code and output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from argus.record.registry import iter_records

ARGUS = [sys.executable, "-m", "argus"]


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARGUS_", "TELEGRAM_", "ANTHROPIC_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               ARGUS_STATE_DIR=str(tmp_path / "state"), **extra)
    return env


def write_config(tmp_path: Path, text: str) -> str:
    """A config file; always dry-run with no orphan rules, because these cycles run on
    this very host with thresholds that trip on purpose."""
    path = tmp_path / "argus.toml"
    path.write_text("dry_run = true\n" + text + "\n[processes]\norphans = []\n")
    return str(path)


def test_run_once_prints_what_it_saw_and_decided(tmp_path: Path) -> None:
    result = subprocess.run([*ARGUS, "run", "--once"], capture_output=True, text=True,
                            env=env_for(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "memory " in out and "disks " in out and "procs " in out
    assert "problems:" in out and "decided:" in out
    assert (tmp_path / "state" / "last_snapshot.json").exists()


def test_run_once_json_is_the_cycle_report(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[thresholds]\ndisk_warn = 0.1\ndisk_crit = 0.2\n")
    result = subprocess.run([*ARGUS, "--config", config, "run", "--once", "--json"],
                            capture_output=True, text=True, env=env_for(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "rules" and report["llm"]["called"] is False
    disk = [p for p in report["problems"] if p["subject"] == "disk:/"]
    assert disk and disk[0]["severity"] == "critical"
    assert any(a["type"] == "alert" and a["result"] == "success" for a in report["actions"])
    # the registry got the same problem, with the schema's first eight fields first
    rows = list(iter_records(str(tmp_path / "state" / "problems.jsonl")))
    row = next(r for r in rows if r["subject"] == "disk:/")
    assert list(row)[:8] == ["ts", "severity", "type", "description", "action_taken",
                             "action_result", "bead_id", "host"]
    if shutil.which("jq"):
        subprocess.run(["jq", "-c", ".", str(tmp_path / "state" / "problems.jsonl")],
                       check=True, capture_output=True)


def test_problems_command_filters_and_prints(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[thresholds]\ndisk_warn = 0.1\ndisk_crit = 0.2\n")
    env = env_for(tmp_path)
    subprocess.run([*ARGUS, "--config", config, "run", "--once"], check=True,
                   capture_output=True, env=env, timeout=60)
    text = subprocess.run([*ARGUS, "problems", "--since", "1h", "--type", "disk"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert text.returncode == 0
    assert "critical disk    disk / at" in text.stdout
    assert "[alert -> success]" in text.stdout
    lines = subprocess.run([*ARGUS, "problems", "--json", "--severity", "critical"],
                           capture_output=True, text=True, env=env, timeout=60).stdout
    assert all(json.loads(line)["severity"] == "critical" for line in lines.splitlines())
    assert lines.strip()
    bad = subprocess.run([*ARGUS, "problems", "--since", "yesterday"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    bad = subprocess.run([*ARGUS, "problems", "--type", "weather"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "must be one of" in bad.stderr


def test_unusable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run([*ARGUS, "--state-dir", str(blocker / "sub"), "run", "--once"],
                            capture_output=True, text=True, env=env_for(tmp_path), timeout=60)
    assert result.returncode == 1
    assert "cannot use state directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_daemon_loops_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path, "interval = 1\n[thresholds]\ndisk_warn = 0.1\n"
                                    "disk_crit = 0.2\n[tmux]\nsockets = []\n")
    proc = subprocess.Popen([*ARGUS, "--config", config, "run"], env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cycle_file = tmp_path / "state" / "cycle.json"
    deadline = time.monotonic() + 30
    cycles = 0
    while time.monotonic() < deadline:
        if cycle_file.exists():
            cycles = json.loads(cycle_file.read_text()).get("cycles", 0)
            if cycles >= 3:
                break
        time.sleep(0.1)
    assert cycles >= 3
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "finishing the current cycle" in err and "stopped after" in err
    state = json.loads(cycle_file.read_text())
    assert state["last_status"] == "ok"
    rows = list(iter_records(str(tmp_path / "state" / "problems.jsonl")))
    assert len([r for r in rows if r["subject"] == "disk:/"]) >= 3
    leftovers = [p.name for p in (tmp_path / "state").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_daemon_second_signal_abandons_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, "interval = 3600\n[tmux]\nsockets = []\n")
    proc = subprocess.Popen([*ARGUS, "--config", config, "run"], env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cycle_file = tmp_path / "state" / "cycle.json"
    deadline = time.monotonic() + 30
    while not cycle_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)  # between cycles: ends the hour-long wait at once
    proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert time.monotonic() - start < 5


@pytest.mark.root
def test_low_disk_and_enospc_in_a_tiny_state_dir_do_not_crash(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private tmpfs state dir")
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(tmp_path, "[thresholds]\ndisk_warn = 0.1\ndisk_crit = 0.2\n"
                                    "[tmux]\nsockets = []\n")
    argus = " ".join(ARGUS)
    # A 1 MB tmpfs: under the 100 MB guard, then filled completely (ENOSPC).
    script = f"""
set -e
mount -t tmpfs -o size=1m tmpfs {state}
{argus} --config {config} run --once --json > {tmp_path}/low.json
rc1=$?
dd if=/dev/zero of={state}/filler bs=4k 2>/dev/null || true
set +e
{argus} --config {config} run --once > {tmp_path}/full.out 2> {tmp_path}/full.err
echo "$rc1 $?" > {tmp_path}/rcs
"""
    subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                   check=True, env=env_for(tmp_path), timeout=120)
    low = json.loads((tmp_path / "low.json").read_text())
    guard = [p for p in low["problems"] if p["subject"] == "self:state-disk"]
    assert guard and guard[0]["severity"] == "critical" and "MB free" in guard[0]["description"]
    assert any(a["type"] == "alert" for a in low["actions"])  # still alerts
    rc_low, rc_full = (tmp_path / "rcs").read_text().split()
    assert rc_low == "0"
    assert rc_full == "1"  # the cycle could not record: a failed cycle, not a crash
    err = (tmp_path / "full.err").read_text()
    assert "Traceback" not in err
    assert "No space left on device" in err
