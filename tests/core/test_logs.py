"""The log file: written on the first message, rotated at 10 MB x 3, secrets masked."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from argus import logs
from argus.logsetup import BACKUPS, MAX_BYTES

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_first_message_opens_a_rotating_file_and_masks_the_token(tmp_path: Path) -> None:
    logs.setup_logging(str(tmp_path / "logs"), secrets=[TOKEN])
    try:
        assert not (tmp_path / "logs").exists()  # nothing logged yet, nothing opened
        logs.get_logger("argus.test").warning("POST /bot%s/sendMessage failed", TOKEN)
        text = (tmp_path / "logs" / "argus.log").read_text()
        assert "argus.test WARNING POST /bot<redacted>/sendMessage failed" in text
        assert TOKEN not in text
        lazy = next(h for h in logging.getLogger("argus").handlers
                    if type(h).__name__ == "_LazyRotatingFile")
        rotating = lazy.target  # type: ignore[attr-defined]
        assert (rotating.maxBytes, rotating.backupCount) == (MAX_BYTES, BACKUPS)
        assert (MAX_BYTES, BACKUPS) == (10 * 1024 * 1024, 3)
    finally:
        logs.setup_logging(None)


QUIET = """dry_run = true
[thresholds]
memory_warn = 100
memory_crit = 100
disk_warn = 100
disk_crit = 100
swap_warn = 100
load_per_core_warn = 1000
psi_cpu_warn = 100
psi_io_warn = 100
psi_memory_full_warn = 100
[processes]
orphans = []
"""


def test_a_quiet_one_shot_process_never_imports_logging(tmp_path: Path) -> None:
    # Thresholds out of reach, so the cycle is quiet however busy this machine is.
    config = tmp_path / "argus.toml"
    config.write_text(QUIET)
    state = tmp_path / "state"
    code = ("import sys, io, contextlib\n"
            "from argus.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['--config', {str(config)!r}, '--state-dir', {str(state)!r},"
            " 'run', '--once'])\n"
            "print('logging' in sys.modules, 'typing' in sys.modules)\n")
    # The first run creates the history database (and says so); the second is quiet.
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out == ["False", "False"]
