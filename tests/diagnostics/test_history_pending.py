"""One-shot cycles leave their history rows pending; every row reaches the database.

The rows wait in history.pending.jsonl (no SQLite on a timer's cycle) and are folded
into history.sqlite3 when the oldest is an hour old, when the daemon writes, or
before anyone reads; a torn line, a crash mid-fold and concurrent writers lose
nothing and count nothing twice.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from diag_helpers import host_context
from test_history import T0, GiB, snap

from argus.cycle import run_once
from argus.record import history_pending, history_read
from argus.record.history import figures, fold_pending, write_cycle
from argus.record.history_pending import FOLD_AFTER_S, pending_path


def sample_times(db_path: str) -> list[int]:
    with sqlite3.connect(db_path) as db:
        return [r[0] for r in db.execute("SELECT ts FROM sample ORDER BY ts")]


def pending_lines(db_path: str) -> list[str]:
    try:
        return Path(pending_path(db_path)).read_text().splitlines()
    except FileNotFoundError:
        return []


def test_one_shot_cycles_leave_rows_pending_and_readers_fold_them(tmp_path: Path) -> None:
    ctx = host_context(tmp_path)
    first = run_once(ctx, T0)
    run_once(ctx, T0 + 300)
    path = ctx.paths.history
    assert not os.path.exists(path)  # no SQLite on a one-shot cycle
    assert len(pending_lines(path)) == 2
    procs = history_read.read_metric(path, "procs")  # the reader folds first
    assert [t for t, _ in procs] == [T0, T0 + 300]
    assert procs[0][1] == first.snapshot.processes.total  # type: ignore[union-attr]
    assert pending_lines(path) == []
    assert sample_times(path) == [T0, T0 + 300]
    mem = history_read.read_metric(path, "mem_pct", T0, T0)
    assert mem == [(T0, round(first.snapshot.memory.pct, 2))]  # type: ignore[union-attr]


def test_the_cycle_that_finds_an_hour_of_rows_folds_them_with_its_own(tmp_path: Path) -> None:
    ctx = host_context(tmp_path)
    times = [T0 + 300 * n for n in range(FOLD_AFTER_S // 300)]
    for ts in times:
        run_once(ctx, ts)
    assert not os.path.exists(ctx.paths.history)
    due_at = T0 + FOLD_AFTER_S
    run_once(ctx, due_at)
    assert sample_times(ctx.paths.history) == [*times, due_at]
    assert pending_lines(ctx.paths.history) == []


def test_the_daemon_folds_what_one_shot_cycles_left(tmp_path: Path) -> None:
    ctx = host_context(tmp_path)
    run_once(ctx, T0)
    ctx.carry["daemon"] = True
    run_once(ctx, T0 + 300)
    assert sample_times(ctx.paths.history) == [T0, T0 + 300]
    assert pending_lines(ctx.paths.history) == []


def test_series_survive_the_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    row, series = figures(snap(42.0, 3 * GiB, mount="/data"))
    history_pending.append(path, T0, row, series)
    assert history_read.read_mount(path, "/data") == [(T0, 40.0)]
    assert history_read.read_metric(path, "mem_pct") == [(T0, 42.0)]
    rss = history_read.read_process(path, "node", "gw.service")
    assert len(rss) == 1 and rss[0][0] == T0
    assert rss[0][1] == pytest.approx(3 * GiB + 1000, rel=1e-6)  # float32 in the blob


def test_a_torn_line_is_skipped_and_the_rest_folded(tmp_path: Path, caplog: object) -> None:
    path = str(tmp_path / "history.sqlite3")
    row, series = figures(snap(50.0, GiB))
    history_pending.append(path, T0, row, series)
    with open(pending_path(path), "ab") as fh:
        fh.write(b'{"ts": 17, "row": {"mem_')  # a writer killed mid-append
    history_pending.append(path, T0 + 300, row, series)  # starts on a fresh line
    assert len(pending_lines(path)) == 3
    fold_pending(path, T0 + 600)
    assert sample_times(path) == [T0, T0 + 300]
    assert pending_lines(path) == []
    assert "not a history row" in str(getattr(caplog, "text", ""))


def test_a_crash_between_commit_and_emptying_counts_nothing_twice(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    for n, pct in enumerate((10.0, 20.0, 30.0)):
        row, series = figures(snap(pct, GiB))
        history_pending.append(path, T0 + 300 * n, row, series)
    left = Path(pending_path(path)).read_bytes()
    fold_pending(path, T0 + 900)
    Path(pending_path(path)).write_bytes(left)  # as if the process died before emptying
    fold_pending(path, T0 + 900)
    assert history_read.read_metric(path, "mem_pct") == [
        (T0, 10.0), (T0 + 300, 20.0), (T0 + 600, 30.0)]


def test_no_pending_file_means_readers_create_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    fold_pending(path, T0)
    assert not os.path.exists(path) and not os.path.exists(pending_path(path))


def test_the_daemon_writes_rows_that_arrive_while_it_folds(tmp_path: Path) -> None:
    # Three one-shot writers append 150 rows each while the daemon writes and folds
    # in a loop: every row ends in the database exactly once.
    path = str(tmp_path / "history.sqlite3")
    writer = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[3])\n"
        "from test_history import snap, GiB\n"
        "from argus.record import history_pending\n"
        "from argus.record.history import figures\n"
        "row, series = figures(snap(50.0, GiB))\n"
        "base = int(sys.argv[2])\n"
        "for n in range(150):\n"
        "    history_pending.append(sys.argv[1], base + n, row, series)\n"
    )
    here = str(Path(__file__).parent)
    writers = [subprocess.Popen([sys.executable, "-c", writer, path, str(T0 + 1000 * w), here])
               for w in range(3)]
    n = 0
    while any(p.poll() is None for p in writers):
        write_cycle(path, snap(60.0, GiB), T0 + 10_000 + n, 30)
        n += 1
    assert all(p.wait() == 0 for p in writers)
    fold_pending(path, T0 + 20_000)
    times = sample_times(path)
    expected = {T0 + 1000 * w + k for w in range(3) for k in range(150)}
    assert expected <= set(times)
    assert len(times) == len(expected) + n
    assert pending_lines(path) == []
