"""Helpers of the diagnostics tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from build_fixtures import FIXTURES, t_of

from argus.config import build_config
from argus.context import Context, make_context
from argus.cycle import run_once
from argus.model import CycleReport, Problem
from argus.record.registry import iter_records

# Every cycle in these tests is a dry run with no orphan rules and no tmux: nothing
# on this host may be killed or cleaned, whatever the thresholds make Argus find.
SAFE: dict[str, Any] = {"tmux": {"sockets": []}, "dry_run": True, "processes": {"orphans": []}}


def config(data: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Any:
    merged: dict[str, Any] = {**SAFE}
    for key, value in (data or {}).items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and key in merged \
            else value
    return build_config(merged, "test", env or {})


def host_context(tmp_path: Path, data: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None) -> Context:
    """A context on this very host's /proc and /sys."""
    cfg = config(data, env)
    if env:
        cfg = cfg._replace(telegram=cfg.telegram._replace(timeout=2.0, retries=0))
    return make_context(cfg, str(tmp_path / "state"), env={}, host="web-1")


def fixture_context(tmp_path: Path, scenario: str, sample: int | None = None,
                    data: dict[str, Any] | None = None, sys_scenario: str | None = None,
                    carry: dict[str, Any] | None = None) -> Context:
    """A context on a committed fixture tree: tests/fixtures/proc/<scenario>[/sampleN]."""
    proc = FIXTURES / "proc" / scenario
    if sample is not None:
        proc = proc / f"sample{sample}"
    sys_root = FIXTURES / "sys" / sys_scenario if sys_scenario else tmp_path / "no-sys"
    when = t_of(sample or 1)
    ctx = make_context(config(data), str(tmp_path / "state"), env={}, proc_root=str(proc),
                       sys_root=str(sys_root), clock=lambda: when, host="web-1")
    return ctx if carry is None else ctx._replace(carry=carry)


def run_samples(tmp_path: Path, scenario: str, samples: int,
                data: dict[str, Any] | None = None, *,
                daemon: bool = False) -> list[CycleReport]:
    """One cycle per sample, sharing the state dir. ``daemon``: also share ctx.carry
    (the daemon's memory); else each cycle starts empty, as a one-shot timer run does."""
    carry: dict[str, Any] | None = {} if daemon else None
    reports = []
    for n in range(1, samples + 1):
        ctx = fixture_context(tmp_path, scenario, n, data, carry=carry)
        reports.append(run_once(ctx, t_of(n)))
    return reports


def problem(report: CycleReport, subject: str) -> Problem | None:
    return next((p for p in report.problems if p.subject == subject), None)


def records(ctx: Context) -> list[dict[str, Any]]:
    return list(iter_records(ctx.paths.problems))
