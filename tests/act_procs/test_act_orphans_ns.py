"""Orphan reaping end to end, inside a private PID namespace (see ns_orphan_flow.py).

``unshare --pid --fork --mount-proc`` makes the flow script PID 1 of a namespace of
its own, so real orphans exist there (double-forked, adopted by PID 1) without any
host process being involved; everything in it dies with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FLOW = Path(__file__).with_name("ns_orphan_flow.py")


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private PID namespace")
    work = tmp_path_factory.mktemp("ns")
    proc = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(FLOW)],
        env={**os.environ, "ARGUS_NS_WORK": str(work)},
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["pid"] == 1  # the flow really ran as the namespace's PID 1
    return result


def test_double_forked_node_test_is_an_orphan(flow: dict[str, Any]) -> None:
    assert flow["c1_o1_ppid"] == 1
    assert flow["o1"] in flow["c1_orphans"]


def test_child_of_its_shell_is_not_an_orphan(flow: dict[str, Any]) -> None:
    assert flow["shell_node"] not in flow["c1_orphans"]
    assert flow["shell"] not in flow["c1_orphans"]  # adopted, but its cmdline doesn't match
    assert flow["shell_node"] in flow["c1_killable"]  # it is still a node process
    assert flow["shell_node_state"] in ("S", "R")  # and nothing touched it


def test_child_of_a_systemd_manager_is_an_orphan(flow: dict[str, Any]) -> None:
    assert flow["managed"] in flow["c1_orphans"]
    assert flow["manager"] not in flow["c1_orphans"]


def test_confirmed_only_on_the_after_th_consecutive_cycle(flow: dict[str, Any]) -> None:
    # The manager's child is seen from cycle 1 on: confirmed at the 3rd, and after.
    managed = flow["managed"]
    assert flow["c1_confirmed"] == [] and flow["c2_confirmed"] == []
    assert [managed, "node.*--test", 3] in flow["c3_confirmed"]
    assert [managed, "node.*--test", 4] in flow["c4_confirmed"]


def test_pid_reuse_starts_over_and_stale_entry_is_not_killed(flow: dict[str, Any]) -> None:
    o1, o2 = flow["o1"], flow["o2"]
    assert o2 == o1, "ns_last_pid did not hand out the same pid"
    assert flow["o2_start"] != flow["o1_start"]
    assert flow["stale_kill"] == [
        "skipped", f"pid {o1} now belongs to another process (start time changed)", None]
    assert flow["o2_state_after_stale"] in ("S", "R")
    # o1 had two sightings; o2 on the same pid counts from 1 (cycles 3, 4, 5).
    for c in ("c3", "c4"):
        assert o2 in flow[f"{c}_orphans"]
        assert all(pid != o2 for pid, _, _ in flow[f"{c}_confirmed"])
    assert [o2, "node.*--test", 3] in flow["c5_confirmed"]


def test_confirmed_orphan_is_killed_and_its_zombie_counts_as_gone(
        flow: dict[str, Any]) -> None:
    o2 = flow["o2"]
    assert flow["refusal_o2"] is None
    assert flow["kill_o2"][0] == "success" and flow["kill_o2"][2] == "SIGTERM"
    # PID 1 there, like this host's, does not reap: the zombie is what remains.
    assert flow["o2_state_after_kill"] == "Z"
    assert o2 in flow["c6_zombies"]
    assert o2 not in flow["c6_orphans"] and o2 not in flow["c6_confirmed"]
    assert str(o2) not in flow["state_file"]["orphans"]
    assert flow["state_file"]["orphans"][str(flow["managed"])]["count"] == 6


def test_pid_1_of_the_namespace_is_refused(flow: dict[str, Any]) -> None:
    assert flow["refusal_1"] == "PID 1 is never signalled"
    assert flow["kill_1"] == ["skipped", "pid 1 is never signalled", None]
