"""Sustained CPU and I/O pressure from PSI, on a committed three-sample /proc tree.

psi-busy: sample 1 is quiet, sample 2 busy (a spike: one busy sample), sample 3 busy
again (sustained). A spike must stay silent; two busy samples in a row are a problem.
"""

from __future__ import annotations

from pathlib import Path

from diag_helpers import problem, run_samples


def test_a_pressure_spike_is_silent_and_sustained_pressure_is_a_problem(
        tmp_path: Path) -> None:
    quiet, spike, sustained = run_samples(tmp_path, "psi-busy", 3)
    assert quiet.problems == ()
    assert spike.problems == ()
    assert spike.snapshot.diagnostics is not None
    assert set(spike.snapshot.diagnostics.signals) == {"psi_cpu", "psi_io"}

    cpu = problem(sustained, "pressure:cpu")
    assert cpu is not None and (cpu.type, cpu.severity) == ("cpu", "warning")
    assert cpu.details["some_avg60"] == 70.0 and cpu.details["previous_some_avg60"] == 71.0
    assert cpu.description.startswith(
        "CPU pressure: a runnable task waited for a CPU 70% of the last minute")
    assert "busiest: ffmpeg pid 5150" in cpu.description  # who is busy, not just how
    assert cpu.details["top_cpu"][0]["unit"] == "transcode.service"

    io = problem(sustained, "pressure:io")
    assert io is not None and io.type == "disk"
    assert io.details["some_avg60"] == 39.0 and io.details["full_avg60"] == 22.0
    assert "every task stalled on I/O 22% of it" in io.description


def test_pressure_thresholds_come_from_the_config(tmp_path: Path) -> None:
    reports = run_samples(tmp_path, "psi-busy", 3,
                          {"thresholds": {"psi_cpu_warn": 75, "psi_io_warn": 20}})
    last = reports[-1]
    assert problem(last, "pressure:cpu") is None  # 70% is under 75
    io = problem(last, "pressure:io")
    assert io is not None and "warn at 20%" in io.description


def test_a_kernel_without_psi_has_no_pressure_rules_and_no_errors(tmp_path: Path) -> None:
    reports = run_samples(tmp_path, "swap-no-psi", 2)
    for report in reports:
        assert report.snapshot.pressure is None
        assert report.snapshot.errors == ()
        assert not any(p.subject.startswith("pressure:") for p in report.problems)
