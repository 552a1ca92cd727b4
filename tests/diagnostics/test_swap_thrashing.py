"""Swap thrashing (ARG-007) on committed /proc trees: this machine has no swap.

Each scenario is a host sampled 300 s apart (tests/fixtures/proc/<scenario>/sampleN,
made by build_fixtures.py); each sample is one whole cycle through run_once, so what
is asserted is what Argus records and says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from build_fixtures import FIXTURES
from diag_helpers import fixture_context, problem, records, run_samples

from argus.cycle import run_once


def vmswap(tree: str, pid: int) -> int:
    """VmSwap of ``pid`` in a fixture tree, in bytes (proc(5): kB means KiB)."""
    for line in (FIXTURES / "proc" / tree / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmSwap:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSwap line")


@pytest.mark.parametrize("daemon", [False, True], ids=["one-shot", "daemon"])
def test_a_thrashing_host_names_its_culprit_and_what_to_do(tmp_path: Path,
                                                           daemon: bool) -> None:
    first, second = run_samples(tmp_path, "swap-thrashing", 2, daemon=daemon)
    # One sample is no rate; and busy once is a spike, not a state.
    assert first.snapshot.paging is not None and first.snapshot.paging.interval_s is None
    assert problem(first, "thrashing:host") is None

    thrash = problem(second, "thrashing:host")
    assert thrash is not None and thrash.type == "swap"
    paging = second.snapshot.paging
    assert paging is not None and paging.interval_s == 300
    # 1,152,000 and 768,000 pages of 4 KiB in 300 s.
    assert paging.swap_in_mb_s == pytest.approx(15.0)
    assert paging.swap_out_mb_s == pytest.approx(10.0)
    d = thrash.details
    assert d["swap_in_mb_s"] == 15.0 and d["swap_out_mb_s"] == 10.0
    assert d["psi_full_avg60"] == 18.5  # the second sample's PSI memory full avg60
    culprit = d["culprits"][0]
    assert (culprit["pid"], culprit["name"], culprit["unit"]) == (2301, "java",
                                                                  "tomcat.service")
    assert set(culprit) >= {"pid", "name", "rss_bytes", "mem_pct", "runtime_s", "user", "unit"}
    # 300,000 major faults in 300 s, measured against the first sample's counters.
    assert culprit["majflt_per_s"] == 1000.0
    assert culprit["swap_bytes"] == vmswap("swap-thrashing/sample2", 2301)
    assert culprit["user"] == "nobody"
    assert [c["name"] for c in d["culprits"]] == ["java", "postgres"]  # nginx is a bystander
    text = thrash.description
    assert "likely cause: java pid 2301 [tomcat.service]" in text
    assert "1000 major faults/s" in text and "sustained over 2 samples" in text
    assert "cap tomcat.service with MemoryHigh=/MemoryMax= or restart it" in text
    assert "add RAM" in text  # 120 MB of 4 GB available: memory is short, not misused


def test_thrashing_is_recorded_in_the_registry_with_the_designs_fields(tmp_path: Path) -> None:
    run_samples(tmp_path, "swap-thrashing", 2)
    ctx = fixture_context(tmp_path, "swap-thrashing", 2)
    rows = [r for r in records(ctx) if r["subject"] == "thrashing:host"]
    assert len(rows) == 1 and rows[0]["type"] == "swap"
    assert {"swap_in_mb_s", "swap_out_mb_s", "psi_full_avg60", "culprits"} <= set(
        rows[0]["details"])
    assert rows[0]["details"]["culprits"][0]["name"] == "java"


def test_a_quiet_host_is_not_thrashing_and_reads_no_process_files(tmp_path: Path) -> None:
    reports = run_samples(tmp_path, "swap-quiet", 2)
    for report in reports:
        assert report.problems == ()
        assert report.snapshot.diagnostics is not None
        assert report.snapshot.diagnostics.culprits == ()
        assert report.snapshot.diagnostics.signals == ()
    paging = reports[1].snapshot.paging
    assert paging is not None and paging.swap_in_mb_s is not None
    assert paging.swap_in_mb_s < 0.001


def test_full_swap_without_traffic_is_swap_use_not_thrashing(tmp_path: Path) -> None:
    reports = run_samples(tmp_path, "swap-full-idle", 2)
    last = reports[-1]
    assert problem(last, "thrashing:host") is None
    use = problem(last, "swap:host")
    assert use is not None and use.description.startswith("swap at 80%")
    paging = last.snapshot.paging
    assert paging is not None and (paging.swap_in_mb_s, paging.swap_out_mb_s) == (0.0, 0.0)


def test_a_kernel_without_psi_judges_by_swap_io_alone(tmp_path: Path) -> None:
    reports = run_samples(tmp_path, "swap-no-psi", 3)
    assert all(r.snapshot.pressure is None for r in reports)
    # Sample 2 gives the first rate (14 MB/s, over 10): one busy sample, not sustained.
    assert problem(reports[1], "thrashing:host") is None
    assert reports[1].snapshot.diagnostics is not None
    assert reports[1].snapshot.diagnostics.signals == ("swap_io",)
    thrash = problem(reports[2], "thrashing:host")
    assert thrash is not None
    assert thrash.details["psi_full_avg60"] is None
    assert thrash.details["previous_swap_io_mb_s"] == 14.0
    assert thrash.details["culprits"][0]["name"] == "celery"
    assert "PSI" not in thrash.description  # nothing claimed that was not measured
    assert not any(p.subject.startswith("pressure:") for r in reports for p in r.problems)


def test_a_stale_previous_sample_gives_no_rate(tmp_path: Path) -> None:
    run_once(fixture_context(tmp_path, "swap-thrashing", 1))
    later = fixture_context(tmp_path, "swap-thrashing", 2)
    # A day later (the host was off, or Argus stopped): the two samples are not
    # consecutive, and a rate over a day would average the thrashing away.
    report = run_once(later._replace(clock=lambda: 86400 * 2 + later.clock()),
                      86400 * 2 + later.clock())
    assert report.snapshot.paging is not None
    assert report.snapshot.paging.interval_s is None
    assert problem(report, "thrashing:host") is None


def test_a_corrupted_sample_file_costs_one_rate_not_the_cycle(tmp_path: Path) -> None:
    ctx = fixture_context(tmp_path, "swap-thrashing", 1)
    run_once(ctx)
    sample = Path(ctx.paths.state_dir) / "vmstat-sample.json"
    sample.write_text("{not json")
    report = run_once(fixture_context(tmp_path, "swap-thrashing", 2))
    assert report.status == "ok"
    assert report.snapshot.paging is not None and report.snapshot.paging.interval_s is None
    assert (Path(ctx.paths.state_dir) / "vmstat-sample.json.corrupt").exists()
    assert sample.exists()  # rewritten with this cycle's counters
