"""The issue's clean_disk end to end: one ``argus run --once`` cleans a full /tmp.

Run in a private mount + PID namespace (ns_clean_driver.py): /tmp is a 16 MB tmpfs
filled past ``disk_crit`` with old files, next to fresh files and planted symlinks;
/var/tmp, /var/log, /root and /home are tmpfs too, Argus's state lives on a tmpfs on
/run, and / is read-only there. The cleaner runs in the ``argus`` subprocess inside
the namespace, never in this process (tests/conftest.py makes that raise anyway).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ns_helpers import keep_reachable
from remediation_helpers import QUIET_THRESHOLDS, clean_env, telegram_env, toml
from standins.telegram_server import TelegramServer

pytestmark = pytest.mark.root

DRIVER = Path(__file__).with_name("ns_clean_driver.py")
SRC = Path(__file__).resolve().parents[2] / "src"
# The cleaner can reach these, and nothing else; each gets a tmpfs in the namespace.
COVERED = ("/tmp", "/var/tmp", "/var/log", "/root", "/home")
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"  # the real shape; not real

# $3 is the test runner's own mount namespace: refuse to mount anything in it.
NS_GUARD = """set -eu
if [ "$(readlink /proc/self/ns/mnt)" = "$3" ]; then
    echo "refusing: not in a private mount namespace" >&2; exit 99
fi
"""


def _covered(path: str) -> str | None:
    return next((m for m in COVERED if path == m or path.startswith(m + "/")), None)


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def telegram() -> Iterator[TelegramServer]:
    """The stand-in Bot API, for the whole module (the cycle runs once)."""
    with TelegramServer(token=TELEGRAM_TOKEN, chat_id="4242") as server:
        yield server


@pytest.fixture(scope="module")
def cleaned(telegram: TelegramServer) -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("needs root: mount and PID namespaces, tmpfs mounts")
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    # The interpreter and the argus sources must stay reachable.
    needed = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, str(SRC),
                                            str(Path(__file__).parent))}
    keep = sorted(p for p in needed if _covered(p))
    # A checkout under /tmp (CI may clone there) is bound back read-only over the new
    # tmpfs: a separate mount, which the cleaner never enters, and read-only anyway.
    open_fds, rebind = keep_reachable(keep)
    setup = "\n".join([
        NS_GUARD,
        open_fds,
        "mount -t tmpfs -o size=16m,mode=1777 argus-e2e-tmp /tmp",
        *(f"mount -t tmpfs -o size=8m argus-e2e {m}" for m in COVERED[1:]),
        rebind,
        "mount -t tmpfs -o size=200m,mode=755 argus-e2e-state /run",
        # Per-mount flag only (MS_REMOUNT|MS_BIND): the host's / stays read-write.
        "mount -o remount,bind,ro /",
        'exec "$1" "$2"',
    ])
    config = toml({
        "dry_run": False,
        # Memory and load out of reach; the disk thresholds are the defaults (90 %).
        "thresholds": {k: v for k, v in QUIET_THRESHOLDS.items() if not k.startswith("disk")},
        "processes": {"orphans": []},
        "tmux": {"sockets": []},
    })
    host_ns = os.readlink("/proc/self/ns/mnt")
    passwd = _sha("/etc/passwd")
    proc = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--propagation", "private",
         "bash", "-c", setup, "bash", sys.executable, str(DRIVER), host_ns],
        env=clean_env(ARGUS_NS_COVERED=json.dumps(COVERED), ARGUS_NS_CONFIG=config,
                      **telegram_env(telegram)),
        capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        pytest.skip(f"no namespaces here: {proc.stderr[:200]}")
    assert proc.returncode == 0, f"namespace child failed:\n{proc.stdout}\n{proc.stderr}"
    out: dict[str, Any] = json.loads(proc.stdout)
    assert out["rc"] == 0 and out["report"] is not None, out
    out["passwd_unchanged"] = _sha("/etc/passwd") == passwd
    return out


def test_the_setup_is_what_the_test_claims(cleaned: dict[str, Any]) -> None:
    assert cleaned["tmp_size"] == 16 * 2**20
    assert cleaned["before_pct"] >= 90 and cleaned["old_files"] > 40


def test_one_cycle_brings_tmp_below_disk_crit(cleaned: dict[str, Any]) -> None:
    assert cleaned["after_pct"] < 90, cleaned
    assert not cleaned["old_build"]  # the old tree went, directories included
    assert cleaned["seconds"] < 15


def test_fresh_files_symlink_targets_and_passwd_survive(cleaned: dict[str, Any]) -> None:
    assert all(cleaned["fresh"].values()), cleaned["fresh"]
    assert all(cleaned["targets_intact"].values()), cleaned["targets_intact"]
    # Old links went (the link itself, never what it points at); the fresh one stayed.
    assert cleaned["links"] == {"/tmp/old-link-passwd": False, "/tmp/old-link-victim": False,
                                "/tmp/old-link-victim-dir": False,
                                "/tmp/fresh-link-victim": True}
    # /etc/passwd of this host, untouched (read-only in the namespace besides).
    assert cleaned["passwd_unchanged"]


def test_the_registry_records_the_clean_with_its_figures(cleaned: dict[str, Any]) -> None:
    cleans = [r for r in cleaned["records"] if r["action_taken"] == "clean_disk"]
    assert len(cleans) == 1, cleaned["records"]
    row = cleans[0]
    assert row["action_result"] == "success"
    assert row["subject"] == "disk:/tmp" and row["type"] == "disk"
    assert row["severity"] == "critical" and row["source"] == "rules"
    d = row["details"]
    assert d["mount"] == "/tmp"
    assert d["before_pct"] >= 90 and d["after_pct"] < 90
    assert d["bytes_reclaimed"] >= cleaned["old_files"] * 256 * 1024
    assert d["files_removed"] == cleaned["old_files"] + 3  # and the three old links
    assert d["errors"] == []
    assert d["action_detail"].startswith(
        f"/tmp {d['before_pct']:.0f}% -> {d['after_pct']:.0f}%, ")
    assert f"{d['files_removed']} files" in d["action_detail"]
    report = [a for a in cleaned["report"]["actions"] if a["type"] == "clean_disk"]
    assert [(a["result"], a["detail"]) for a in report] == [("success", d["action_detail"])]


def test_the_alert_tells_the_usage_before_and_after(
        cleaned: dict[str, Any], telegram: TelegramServer) -> None:
    clean = next(r for r in cleaned["records"] if r["action_taken"] == "clean_disk")
    alerts = [r for r in cleaned["records"]
              if r["key"] == clean["key"] and r["action_taken"] == "alert"]
    assert [(r["action_result"], r["details"]["action_detail"]) for r in alerts] == [
        ("success", "sent to Telegram")]
    before, after = clean["details"]["before_pct"], clean["details"]["after_pct"]
    sent = [t for t in telegram.texts() if "disk /tmp" in t]
    assert len(sent) == 1, telegram.texts()
    assert sent[0].startswith(f"[{cleaned['report']['host']}] CRITICAL disk: disk /tmp at ")
    assert f"\nclean_disk success: /tmp {before:.0f}% -> {after:.0f}%, " in sent[0]

