"""Fixtures for the clean_disk tests: a root and a victim under tmp_path, namespaces."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from disk_helpers import RunNs, Victim


@pytest.fixture
def victim(tmp_path: Path) -> Victim:
    return Victim(tmp_path)


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    """The directory the cleaner is pointed at (a stand-in for /tmp)."""
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: mount namespaces and tmpfs mounts")
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) not installed")


# $3 is the test runner's own mount namespace: refuse to mount anything in it.
NS_GUARD = """set -eu
if [ "$(readlink /proc/self/ns/mnt)" = "$3" ]; then
    echo "refusing: not in a private mount namespace" >&2; exit 99
fi
"""

@pytest.fixture
def run_in_namespace(root_only: None) -> RunNs:
    """Run ``setup`` (bash: the mounts), then ``sys.executable -c code``, in new namespaces.

    A private mount namespace (mounts made there never reach the host) and a private
    PID namespace (everything started there dies with it). The script first checks
    that it really is in a new mount namespace, and ``set -eu`` makes a mount that
    fails stop it before any Python runs. Returns the finished process.
    """
    host_ns = os.readlink("/proc/self/ns/mnt")

    def _run(setup: str, code: str) -> subprocess.CompletedProcess[str]:
        script = NS_GUARD + setup + '\nexec "$1" -c "$2"\n'
        proc = subprocess.run(
            ["unshare", "--mount", "--pid", "--fork", "--propagation", "private",
             "bash", "-c", script, "bash", sys.executable, code, host_ns],
            capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 and "unshare failed" in proc.stderr:
            pytest.skip(f"no namespaces here: {proc.stderr[:200]}")
        assert proc.returncode == 0, f"namespace child failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    return _run
