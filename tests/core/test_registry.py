"""The registry stays valid JSONL under concurrent writers and a writer killed mid-run."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from argus.record import registry
from argus.record.query import query

WRITER = """
import sys
from argus.record import registry
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    registry.append(path, [registry.make_record(
        ts="2026-11-30T10:00:00Z", severity="warning", type="disk",
        description=f"writer {tag} record {i} " + "x" * (i % 700), host="h",
        key="disk:0123456789abcdef", subject="disk:/", cycle=tag, details={"i": i})])
"""


def test_record_has_the_schema_fields_in_order() -> None:
    record = registry.make_record(ts="t", severity="info", type="self", description="d",
                                  host="h")
    assert list(record) == list(registry.FIELDS)
    assert list(record)[:8] == ["ts", "severity", "type", "description", "action_taken",
                                "action_result", "bead_id", "host"]
    with pytest.raises(TypeError):
        registry.make_record(nonsense=1)


def test_four_processes_append_8000_lines_without_interleaving(tmp_path: Path) -> None:
    path = str(tmp_path / "problems.jsonl")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, f"w{n}", "2000"])
             for n in range(4)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    lines = Path(path).read_bytes().splitlines()
    assert len(lines) == 8000
    seen: dict[str, list[int]] = {}
    for line in lines:
        record = json.loads(line)  # every line parses: none interleaved
        assert list(record)[:8] == list(registry.FIELDS)[:8]
        seen.setdefault(record["cycle"], []).append(record["details"]["i"])
    # each writer's records are all there, in its own order
    assert {k: v for k, v in seen.items()} == {f"w{n}": list(range(2000)) for n in range(4)}


def test_writer_killed_mid_run_leaves_a_readable_registry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "problems.jsonl")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, path, "victim", "1000000"])
    deadline = time.monotonic() + 30
    while (not os.path.exists(path) or os.path.getsize(path) < 200_000) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # simulate the worst case too: a torn last line (as if the write itself was cut)
    with open(path, "ab") as fh:
        fh.write(b'{"ts": "2026-11-30T10:00:00Z", "severity": "warn')
    with caplog.at_level(logging.WARNING, logger="argus.registry"):
        records = list(registry.iter_records(path))
    assert len(records) > 100
    assert all(r["cycle"] == "victim" for r in records)
    assert any("not a valid record" in m for m in caplog.messages)
    # and appending after the damage still yields parseable new records
    registry.append(path, [registry.make_record(ts="2026-11-30T10:00:01Z", severity="info",
                                                type="self", description="after", host="h")])
    after = list(registry.iter_records(path))
    assert after[-1]["description"] == "after"


def test_hostile_text_stays_on_one_valid_line(tmp_path: Path) -> None:
    path = str(tmp_path / "problems.jsonl")
    hostile = "line1\nline2\r\x1b[31mred\x00nul" + "\udcff" + "x" * 10_000
    registry.append(path, [registry.make_record(ts="2026-11-30T10:00:00Z", severity="info",
                                                type="process", description=hostile, host="h")])
    raw = Path(path).read_bytes()
    assert raw.count(b"\n") == 1
    raw.decode("ascii")  # ensure_ascii: nothing a terminal would interpret
    assert json.loads(raw)["description"].startswith("line1\nline2")


def test_query_filters_by_time_type_and_severity(tmp_path: Path) -> None:
    path = str(tmp_path / "problems.jsonl")
    now = 1_800_000_000.0
    rows = []
    for age_h, ptype, sev in [(1, "disk", "warning"), (2, "memory", "critical"),
                              (30, "disk", "critical"), (0.1, "disk", "critical")]:
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - age_h * 3600))
        rows.append(registry.make_record(ts=ts, severity=sev, type=ptype, description="d",
                                         host="h"))
    registry.append(path, rows)
    assert len(query(path, since_s=86400, now=now)) == 3
    assert len(query(path, since_s=86400, now=now, ptype="disk")) == 2
    assert len(query(path, since_s=86400, now=now, ptype="disk", severity="critical")) == 1
    assert len(query(path, since_s=7 * 86400, now=now, limit=2)) == 2


def test_modules_log_through_the_lazy_facade_only() -> None:
    # A module that logged through a stdlib logger directly would bypass the deferred
    # setup (argus.logs) and lose its messages: only logsetup may import logging
    # for handlers, and telegram for the HTTP libraries' own loggers.
    import pathlib
    import re

    src = pathlib.Path(__file__).parents[2] / "src" / "argus"
    offenders = [str(p.relative_to(src)) for p in src.rglob("*.py")
                 if re.search(r"^\w+ = logging\.getLogger", p.read_text(), re.M)]
    assert offenders == []
