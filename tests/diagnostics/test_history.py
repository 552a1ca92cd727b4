"""Metrics history: real cycles write rows, the read API gets them back, old rows
are folded into hours, and a locked, corrupted or newer database never stops a cycle.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from diag_helpers import host_context, problem

import argus.cycle
from argus.cycle import run_once
from argus.model import CpuInfo, DiskInfo, MemoryInfo, ProcessInfo, ProcessSummary, Snapshot
from argus.model_diagnostics import MemoryDiagnostics, UnitMemory
from argus.record import history, history_hourly, history_read
from argus.record.history import HistoryError, write_cycle

T0 = 1_780_000_000 - 1_780_000_000 % 3600  # on the hour, so the hourly buckets are whole
GiB = 2**30


def snap(mem_pct: float, rss: int, mount: str = "/") -> Snapshot:
    """A small synthetic snapshot: the history only reads figures from it."""
    mem = MemoryInfo(8 * GiB, 4 * GiB, 4 * GiB, mem_pct, 0, 0, 0.0, None, None, None, None,
                     mem_pct, "host")
    top = (ProcessInfo(10, "node", "", "app", rss, 1.0, 1.0, 0.0, 1.0, 1, "S", "gw.service"),
           ProcessInfo(11, "node", "", "app", 1000, 1.0, 1.0, 0.0, 1.0, 1, "S", "gw.service"))
    return Snapshot(
        ts="", host="h", memory=mem, cpu=CpuInfo(1.0, 2.0, 3.0, 4, 1.0),
        disks=(DiskInfo(mount, "/dev/x", "ext4", 100, 40, 60, 40.0, 10, 1, 10.0),),
        processes=ProcessSummary(99, 0, (), top, (), "interval"), services=(), probes=(),
        tmux=(), pressure={"io": {"some_avg60": 4.5, "full_avg60": 1.5}}, errors=(),
        durations_ms={},
        diagnostics=MemoryDiagnostics("host", units=(UnitMemory("gw.service", "/x", 5 * GiB,
                                                                 None, 62.5),)))


def test_a_real_cycle_writes_one_row_that_the_read_api_returns(tmp_path: Path) -> None:
    ctx = host_context(tmp_path)
    report = run_once(ctx, T0)
    run_once(ctx, T0 + 300)
    path = ctx.paths.history
    procs = history_read.read_metric(path, "procs")
    assert [t for t, _ in procs] == [T0, T0 + 300]
    assert procs[0][1] == report.snapshot.processes.total  # type: ignore[union-attr]
    mem = history_read.read_metric(path, "mem_pct", T0, T0)
    assert mem == [(T0, round(report.snapshot.memory.pct, 2))]  # type: ignore[union-attr]
    root = history_read.read_mount(path, "/")
    disk = next(d for d in report.snapshot.disks if d.mount == "/")
    assert root[0][0] == T0 and root[0][1] == pytest.approx(disk.used_pct, abs=0.01)
    assert history_read.read_mount(path, "/", free_bytes=True)[0][1] == pytest.approx(
        disk.free_bytes, rel=1e-6)  # float32: 7 significant digits
    names = history_read.list_series(path, "proc_rss_bytes")
    assert len(names) >= 3  # the top processes, by name and unit
    top = report.snapshot.processes.top_rss[0]  # type: ignore[union-attr]
    series = history_read.read_process(path, top.name, top.unit, T0, T0)
    assert series and series[0][1] >= top.rss_bytes * 0.999999
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]


def test_reading_an_unknown_metric_is_an_error_and_an_absent_series_is_empty(
        tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite3")
    write_cycle(path, snap(50.0, GiB), T0, 30)
    with pytest.raises(ValueError, match="unknown metric"):
        history_read.read_metric(path, "mem_pcnt")
    with pytest.raises(ValueError, match="unknown series kind"):
        history_read.read_metric(path, "disk_pcnt:/")
    assert history_read.read_metric(path, "disk_pct:/nope") == []
    with pytest.raises(HistoryError):
        history_read.read_metric(str(tmp_path / "missing.sqlite3"), "mem_pct")
    assert not (tmp_path / "missing.sqlite3").exists()  # readers never create the file


def test_rows_past_retention_are_averaged_into_hours(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite3")
    # Three days of 5-minute rows, memory alternating 10% and 20%, one process' RSS
    # rising by 1 MiB a row; retention 1 day.
    for i in range(3 * 288):
        write_cycle(path, snap(10.0 if i % 2 else 20.0, GiB + i * 2**20), T0 + i * 300, 1)
    end = T0 + (3 * 288 - 1) * 300
    with sqlite3.connect(path) as db:
        raw_oldest = db.execute("SELECT min(ts) FROM sample").fetchone()[0]
        hours = db.execute("SELECT ts, n, mem_pct FROM hourly ORDER BY ts").fetchall()
    assert raw_oldest >= end - 86400 - 3600  # at most an hour past the retention
    assert hours[0] == (T0, 12, 15.0)  # 12 rows of the first hour, averaged
    assert all(n == 12 for _, n, _ in hours)
    assert len(hours) == (raw_oldest - T0) // 3600
    mem = history_read.read_metric(path, "mem_pct")
    assert mem[0] == (T0, 15.0) and mem[len(hours)][0] == raw_oldest  # hours, then rows
    rss = history_read.read_process(path, "node", "gw.service")
    # node twice in the top list: their RSS is summed per name+unit; the first hour's
    # points are i = 0..11, so the average adds 5.5 MiB.
    assert rss[0][0] == T0 and rss[0][1] == pytest.approx(GiB + 1000 + 5.5 * 2**20, rel=1e-6)


def test_old_hours_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_hourly, "HOURLY_KEEP_DAYS", 2)
    path = str(tmp_path / "h.sqlite3")
    for i in range(4 * 24):
        write_cycle(path, snap(30.0, GiB), T0 + i * 3600, 1)
    with sqlite3.connect(path) as db:
        oldest_hour = db.execute("SELECT min(ts) FROM hourly").fetchone()[0]
    assert oldest_hour >= T0 + (4 * 24 - 1) * 3600 - 2 * 86400


def test_a_corrupted_database_is_set_aside_and_the_cycle_goes_on(tmp_path: Path) -> None:
    ctx = host_context(tmp_path)
    ctx.carry["daemon"] = True  # writes to the database each cycle (no pending rows)
    Path(ctx.paths.history).write_bytes(b"this is not a database\n" * 500)
    report = run_once(ctx, T0)
    assert report.status == "ok"
    self_problem = problem(report, "self:history")
    assert self_problem is not None and self_problem.severity == "warning"
    assert "corrupted" in self_problem.description and "started afresh" in self_problem.description
    aside = Path(ctx.paths.history + ".corrupt")
    assert aside.read_bytes().startswith(b"this is not a database")
    # This cycle's row went into the fresh file; the next cycle is clean.
    assert [t for t, _ in history_read.read_metric(ctx.paths.history, "procs")] == [T0]
    assert problem(run_once(ctx, T0 + 300), "self:history") is None


def test_a_locked_database_keeps_the_row_pending_and_the_cycle_goes_on(
        tmp_path: Path) -> None:
    ctx = host_context(tmp_path)
    ctx.carry["daemon"] = True  # writes to the database each cycle (no pending rows)
    run_once(ctx, T0)
    holder = sqlite3.connect(ctx.paths.history, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        report = run_once(ctx, T0 + 300)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert report.status == "ok"
    locked = problem(report, "self:history")
    assert locked is not None and locked.details["error"] == "locked"
    assert "waits in history.pending.jsonl" in locked.description
    with sqlite3.connect(ctx.paths.history) as db:  # not in the database yet...
        assert [r[0] for r in db.execute("SELECT ts FROM sample")] == [T0]
    # ...but not lost: the next reader folds it in.
    assert [t for t, _ in history_read.read_metric(ctx.paths.history, "procs")] == [
        T0, T0 + 300]
    after = run_once(ctx, T0 + 600)
    assert problem(after, "self:history") is None
    assert locked.key in after.resolved  # the self problem cleared by itself


def test_a_database_from_a_newer_argus_is_left_alone(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite3")
    write_cycle(path, snap(50.0, GiB), T0, 30)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version VALUES (7, 0)")
    with pytest.raises(HistoryError, match="schema version 7, newer"):
        write_cycle(path, snap(50.0, GiB), T0 + 300, 30)
    assert len(history_read.read_metric(path, "mem_pct")) == 1


def test_an_older_database_is_migrated_in_place(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "h.sqlite3")
    write_cycle(path, snap(50.0, GiB), T0, 30)  # a version 1 file
    monkeypatch.setattr(history, "MIGRATIONS", {
        **history.MIGRATIONS, 2: ("ALTER TABLE sample ADD COLUMN gpu_pct REAL",
                                  "ALTER TABLE hourly ADD COLUMN gpu_pct REAL")})
    monkeypatch.setattr(history, "SCHEMA_VERSION", 2)
    write_cycle(path, snap(60.0, GiB), T0 + 300, 30)
    with sqlite3.connect(path) as db:
        assert [v for v, in db.execute("SELECT version FROM schema_version ORDER BY 1")] == [
            1, 2]
        cols = [r[1] for r in db.execute("PRAGMA table_info(sample)")]
    assert "gpu_pct" in cols
    assert [v for _, v in history_read.read_metric(path, "mem_pct")] == [50.0, 60.0]


def test_history_is_skipped_when_the_state_disk_is_low(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(argus.cycle, "_free_bytes", lambda path: 50 * 2**20)
    ctx = host_context(tmp_path)
    report = run_once(ctx, T0)
    assert problem(report, "self:state-disk") is not None
    assert not Path(ctx.paths.history).exists()
