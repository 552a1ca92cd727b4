"""Helpers shared by the act_procs tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from proc_helpers import alive, comm, wait_for  # noqa: F401 - re-exported

Spawn = Callable[..., "subprocess.Popen[bytes]"]
PythonChild = Callable[[str], "subprocess.Popen[bytes]"]


